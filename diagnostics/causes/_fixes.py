"""Pieces of fix text shared by several causes."""

from __future__ import annotations

import re

from ..secret import Secret
from ..urls import LOOPBACK, UrlError, classify_host, parse_pg_url

READ_PASSWORD = ("Put the database password in a shell variable (nothing is shown or stored)", "read -rs PGPASSWORD")


def pasteable_url(names, **params) -> str:
    """The user's URL with changed query parameters and the password as ${PGPASSWORD}."""
    try:
        url = parse_pg_url(str(names["url"]))
    except UrlError:
        return "postgres://USER:${PGPASSWORD}@HOST:5432/DB"
    if url.password is None:  # the fix puts the password in
        url = url.with_(password=Secret("", remember_value=False))
    return url.with_params(**params).render(password="${PGPASSWORD}")


_AUTHORITY = re.compile(r"^(?P<pre>[a-z][a-z0-9+.-]*://(?:[^@/?#]*@)?)(?P<host>\[[^\]]*\]|[^:/?#]*)(?::(?P<port>\d+))?(?P<rest>.*)$", re.I)


def app_side_url(names, url: str) -> str:
    """The URL as a Fly app's machines must have it. A loopback host (what
    `fly proxy` gives a laptop) means nothing on the app's machines: use the
    attach default `<pg_app>.flycast:5432` with sslmode=disable (6PN has no
    TLS), or a <PG_HOST> left to fill in (a command with a placeholder is
    never run by --apply)."""
    m = _AUTHORITY.match(url)
    if not m or classify_host(m["host"].strip("[]")).kind != LOOPBACK:
        return url
    pg_app = names.get("pg_app")
    if not pg_app:
        return f"{m['pre']}<PG_HOST>:5432{m['rest']}"
    rest = m["rest"]
    if re.search(r"[?&]sslmode=", rest):
        rest = re.sub(r"([?&]sslmode=)[^&#]*", r"\1disable", rest)
    else:
        rest += ("&" if "?" in rest else "?") + "sslmode=disable"
    return f"{m['pre']}{pg_app}.flycast:5432{rest}"


def set_url_command(names, url: str, app_key: str = "app", var: str | None = None) -> str:
    """`fly secrets set VAR="URL" -a APP`, with the URL as the app's machines need it."""
    return f"fly secrets set {var or names['url_var']}=\"{app_side_url(names, url)}\" -a {names[app_key]}"


def app_flag(names, key: str = "app") -> str:
    return f"-a {names[key]}"

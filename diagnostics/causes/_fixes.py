"""Pieces of fix text shared by several causes."""

from __future__ import annotations

from ..secret import Secret
from ..urls import UrlError, parse_pg_url

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


def set_url_command(names, url: str, app_key: str = "app") -> str:
    app = names[app_key]
    return f"fly secrets set {names['url_var']}=\"{url}\" -a {app}"


def app_flag(names, key: str = "app") -> str:
    return f"-a {names[key]}"

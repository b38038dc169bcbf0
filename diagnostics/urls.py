"""Postgres and Convex URLs: parsing with the offending part pointed at, and host classes."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .secret import MASK, Secret, redact, remember

PG_SCHEMES = ("postgres", "postgresql")
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq's connection keywords (PostgreSQL 15-18). Other query parameters are read by
# app drivers (Prisma's schema=, pgbouncer=, connection_limit=; node-postgres' ssl=):
# libpq refuses them, so they are kept out of our own connection and reported.
LIBPQ_PARAMS = frozenset(
    """host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout
    client_encoding options application_name fallback_application_name keepalives keepalives_idle
    keepalives_interval keepalives_count tcp_user_timeout replication gssencmode sslmode sslnegotiation
    sslcompression sslcert sslkey sslpassword sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer
    ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation service
    target_session_attrs load_balance_hosts""".split()
)


class UrlError(ValueError):
    """A URL that does not parse. `part` is the offending piece (never a password)."""

    def __init__(self, message: str, part: str = "", hint: str = ""):
        message, part = _one_line(message), _one_line(part)  # input echoed back stays on one line
        super().__init__(message)
        self.part = part
        self.hint = hint


def _one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], text)


@dataclass(frozen=True)
class PgUrl:
    scheme: str
    user: str
    password: Secret | None
    host: str
    port: int
    dbname: str
    params: dict[str, str] = field(default_factory=dict)
    path: str = ""  # the raw path, '' or '/' when no database is named

    @property
    def sslmode(self) -> str:
        return self.params.get("sslmode", "prefer")

    @property
    def requires_tls(self) -> bool:
        return self.sslmode in ("require", "verify-ca", "verify-full")

    @property
    def has_database_path(self) -> bool:
        return self.path not in ("", "/")

    def with_(self, **changes) -> "PgUrl":
        data = {**self.__dict__, **changes}
        return PgUrl(**data)

    def with_params(self, **params: str | None) -> "PgUrl":
        new = dict(self.params)
        for k, v in params.items():
            if v is None:
                new.pop(k, None)
            else:
                new[k] = v
        return self.with_(params=new)

    def render(self, password: str | None = None, with_path: bool = True) -> str:
        """The URL as text. The password is `****` unless given explicitly
        (a shell reference such as `${PGPASSWORD}` for paste-ready commands)."""
        auth = ""
        if self.user:
            auth = quote(self.user, safe="")
            if self.password is not None:
                auth += ":" + (password if password is not None else MASK)
            auth += "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        out = f"{self.scheme}://{auth}{host}:{self.port}"
        if with_path and self.dbname:
            out += "/" + quote(self.dbname, safe="")
        if self.params:
            out += "?" + urlencode(self.params, safe="/:")
        return out

    def masked(self) -> str:
        return self.render()

    def conninfo_kwargs(self) -> dict:
        """Keyword arguments for psycopg (the only place the password is revealed)."""
        kw = {"host": self.host, "port": self.port, "user": self.user or None, "dbname": self.dbname or None}
        if self.password is not None:
            kw["password"] = self.password.reveal()
        kw.update({k: v for k, v in self.params.items() if k in LIBPQ_PARAMS})
        return {k: v for k, v in kw.items() if v is not None}

    @property
    def driver_params(self) -> list[str]:
        """Query parameters libpq does not know (read by the app's driver, if at all)."""
        return [k for k in self.params if k not in LIBPQ_PARAMS]


def parse_pg_url(text: str) -> PgUrl:
    """Parse a libpq URL the way libpq does, but with errors that point at the
    offending part. Raises UrlError (its message never contains the password)."""
    raw = (text or "").strip()
    if not raw:
        raise UrlError("the URL is empty", hint="postgres://USER:PASSWORD@HOST:5432/DBNAME")
    if "://" not in raw:
        if "=" in raw and " " in raw or raw.startswith("host="):
            raise UrlError(
                "this is a key=value connection string, not a URL",
                part=_mask_kv(raw),
                hint="use the URL form postgres://USER:PASSWORD@HOST:5432/DBNAME",
            )
        raise UrlError("not a URL: no scheme", part=raw.split("@")[-1][:60], hint="start it with postgres://")
    scheme, rest = raw.split("://", 1)
    if scheme.lower() not in PG_SCHEMES:
        raise UrlError(
            f"scheme '{scheme}' is not a Postgres scheme", part=f"{scheme}://", hint="use postgres:// or postgresql://"
        )
    # libpq takes the authority up to the first '/' or '?'; a '#', '/' or a second '@'
    # inside the password breaks that, so look before urlsplit silently re-cuts it.
    authority_end = len(rest)
    for ch in "/?":
        i = rest.find(ch)
        if i != -1:
            authority_end = min(authority_end, i)
    authority = rest[:authority_end]
    tail = rest[authority_end:]
    if "#" in rest:
        raise UrlError(
            "the URL contains '#', which ends a URL: a password with '#' must be percent-encoded",
            part="#",
            hint="write '#' as %23 inside the password",
        )
    if authority.count("@") > 1:
        raise UrlError(
            "more than one '@' before the host: the password contains an unescaped '@'",
            part="@",
            hint="write '@' as %40 inside the password",
        )
    if "@" not in authority and "@" in tail:
        ch = tail[0]  # '/' or '?': where libpq ends the host part
        raise UrlError(
            f"an '@' after the first '{ch}': the password contains an unescaped '{ch}'",
            part=ch,
            hint=f"write '{ch}' as {'%2F' if ch == '/' else '%3F'} inside the password",
        )
    try:
        parts = urlsplit(f"{scheme.lower()}://{rest}")
    except ValueError as exc:
        # without an '@' the authority may be USER:PASSWORD: point at it, never show it
        raise UrlError(f"the URL does not parse: {exc}", part=_host_part(authority) if "@" in authority else "//") from None
    userinfo, _, hostport = authority.rpartition("@")
    if "@" not in authority and not hostport.startswith("[") and ":" in hostport and not hostport.split(":", 1)[1].isdigit():
        # "USER:PASSWORD" with no "@HOST": what follows ':' is likely a password, never shown
        raise UrlError(
            "no '@HOST' after 'USER:...', and what follows ':' is not a port",
            part="(no @HOST)",
            hint="the URL shape is postgres://USER:PASSWORD@HOST:5432/DBNAME",
        )
    user, sep, password = userinfo.partition(":")
    if "," in hostport:
        raise UrlError("several hosts in one URL are not supported here", part=hostport)
    host, port_text = _split_hostport(hostport)
    if port_text:
        if not port_text.isdigit() or not (0 < int(port_text) < 65536):
            raise UrlError(f"port '{port_text}' is not a number from 1 to 65535", part=f":{port_text}")
        port = int(port_text)
    else:
        port = 5432
    if host.startswith("[") or host.endswith("]"):
        raise UrlError("an IPv6 address must be written in [brackets]", part=host)
    path = parts.path
    dbname = unquote(path[1:]) if path.startswith("/") else ""
    if "/" in dbname:
        raise UrlError("the database name contains '/'", part=path)
    params: dict[str, str] = {}
    for k, v in parse_qsl(parts.query, keep_blank_values=True):
        params[k] = v
    if "sslmode" in params and params["sslmode"] not in SSL_MODES:
        raise UrlError(
            f"sslmode '{params['sslmode']}' is not one of {', '.join(SSL_MODES)}", part=f"sslmode={params['sslmode']}"
        )
    if "password" in params:
        # a password in the query string is still a password
        params_pw = params.pop("password")
        password, sep = params_pw, ":"
    if not host and "host" in params:
        host = params.pop("host")
    if "port" in params:
        p = params.pop("port")
        if not p.isdigit() or not (0 < int(p) < 65536):
            raise UrlError(f"port '{p}' is not a number from 1 to 65535", part=f"port={p}")
        port = int(p)
    return PgUrl(
        scheme=scheme.lower(),
        user=unquote(user),
        password=Secret(unquote(password)) if sep else None,
        host=host,
        port=port,
        dbname=dbname,
        params=params,
        path=path,
    )


def _split_hostport(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        end = hostport.find("]")
        if end == -1:
            raise UrlError("an IPv6 address is missing its closing ']'", part=hostport)
        host = hostport[1:end]
        rest = hostport[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UrlError("unexpected text after the IPv6 address", part=rest)
        return host, rest[1:]
    if hostport.count(":") > 1:
        raise UrlError("an IPv6 address must be written in [brackets]", part=hostport)
    host, _, port = hostport.partition(":")
    return unquote(host), port


def _host_part(authority: str) -> str:
    return authority.rpartition("@")[2]


def _mask_kv(text: str) -> str:
    return re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1" + MASK, text, flags=re.IGNORECASE)


# ---------------------------------------------------------------- host classes

FLY_PRIVATE = "fly_private"
FLY_PUBLIC = "fly_public"
LOOPBACK = "loopback"
PUBLIC = "public"
PRIVATE_IP = "private_ip"
SOCKET = "socket"


@dataclass(frozen=True)
class HostClass:
    kind: str  # one of the constants above
    flavour: str = ""  # internal | flycast | 6pn_ip | mpg | fly_dev | ...
    app: str = ""  # the Fly app the name points at, when the name says so
    region: str = ""
    machine_id: str = ""

    @property
    def fly_private(self) -> bool:
        return self.kind == FLY_PRIVATE


_INTERNAL = re.compile(
    r"^(?:(?P<top>top\d+)\.nearest\.of\.|(?P<vm>[0-9a-f]+)\.vm\.|(?P<region>[a-z]{3})\.|global\.)?"
    r"(?P<app>[a-z0-9][a-z0-9-]*)\.internal\.?$"
)


def classify_host(host: str) -> HostClass:
    h = host.lower().rstrip(".")
    if not h or h.startswith("/"):
        return HostClass(SOCKET)
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        ip = None
    if ip is not None:
        if ip.is_loopback:
            return HostClass(LOOPBACK, "ip")
        if ip.version == 6 and ip in ipaddress.ip_network("fdaa::/16"):
            return HostClass(FLY_PRIVATE, "6pn_ip")
        if ip.is_private:
            return HostClass(PRIVATE_IP, "ip")
        return HostClass(PUBLIC, "ip")
    if h == "localhost" or h.endswith(".localhost"):
        return HostClass(LOOPBACK, "name")
    if h.endswith(".flympg.net"):
        return HostClass(FLY_PRIVATE, "mpg")
    if h.endswith(".flycast"):
        return HostClass(FLY_PRIVATE, "flycast", app=h[: -len(".flycast")].split(".")[-1])
    if h.endswith(".internal"):
        m = _INTERNAL.match(h)
        if m:
            region = m["region"] or ""
            return HostClass(FLY_PRIVATE, "internal", app=m["app"], region=region, machine_id=m["vm"] or "")
        return HostClass(FLY_PRIVATE, "internal", app=h.split(".")[-2])
    if h.endswith(".fly.dev"):
        return HostClass(FLY_PUBLIC, "fly_dev", app=h[: -len(".fly.dev")].split(".")[-1])
    return HostClass(PUBLIC, "name")


# ---------------------------------------------------------------- Convex URLs


@dataclass(frozen=True)
class ConvexUrl:
    origin: str  # scheme://host[:port], no trailing slash
    path: str  # '' or a path prefix such as '/http'
    kind: str  # cloud | cloud_site | self_hosted

    @property
    def url(self) -> str:
        return self.origin + self.path


def parse_convex_url(text: str) -> ConvexUrl:
    raw = (text or "").strip()
    if not raw:
        raise UrlError("the Convex URL is empty", hint="https://<deployment>.convex.cloud")
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise UrlError(f"the Convex URL does not parse: {redact(str(exc))}", part=mask_url_text(raw)[:80]) from None
    if parts.scheme not in ("http", "https"):
        raise UrlError(
            f"a Convex URL starts with https:// (got '{parts.scheme or mask_url_text(raw)[:20]}')",
            part=mask_url_text(raw)[:80],
            hint="https://<deployment>.convex.cloud",
        )
    if not parts.hostname:
        raise UrlError("the Convex URL has no host", part=mask_url_text(raw)[:80])
    if parts.username or parts.password:
        raise UrlError("the Convex URL must not contain a user or password", part=parts.hostname)
    host = parts.hostname
    origin = f"{parts.scheme}://{host if ':' not in host else '[' + host + ']'}{':' + str(port) if port else ''}"
    path = parts.path.rstrip("/")
    if host.endswith(".convex.cloud"):
        kind = "cloud"
    elif host.endswith(".convex.site"):
        kind = "cloud_site"
    else:
        kind = "self_hosted"
    return ConvexUrl(origin=origin, path=path, kind=kind)


PASSWORD_PLACEHOLDER = "${PGPASSWORD_ENC}"


def suggest_pg_url(text: str, err: UrlError) -> tuple[str, str]:
    """(kind, corrected URL) for a URL that failed to parse. kind is password |
    scheme | port | sslmode | other; the URL carries PASSWORD_PLACEHOLDER instead
    of any password, or is '' when no sensible correction exists."""
    import difflib

    raw = (text or "").strip()
    part = err.part or ""
    if part in ("@", "#", "/", "?"):
        kind = "password"
    elif part.endswith("://"):
        kind = "scheme"
    elif part.startswith(":") or part.startswith("port="):
        kind = "port"
    elif part.startswith("sslmode="):
        kind = "sslmode"
    else:
        kind = "other"
    if "://" not in raw:
        return kind, ""
    scheme, rest = raw.split("://", 1)
    if kind == "scheme":
        scheme = "postgres"
    if kind == "password":
        # libpq's shape: the user up to the first ':', the host after the last '@'
        userinfo, _, after = rest.rpartition("@")
        user = userinfo.split(":", 1)[0]
        rest = f"{user}:{PASSWORD_PLACEHOLDER}@{after}"
    elif "@" in rest.split("/", 1)[0]:
        userinfo, _, after = rest.partition("@")
        user, sep, _pw = userinfo.partition(":")
        rest = f"{user}{':' + PASSWORD_PLACEHOLDER if sep else ''}@{after}"
    if kind == "port":
        bad = part[1:] if part.startswith(":") else part
        rest = rest.replace(part, ":5432" if part.startswith(":") else "port=5432", 1) if bad else rest
    if kind == "sslmode":
        bad = part.split("=", 1)[1]
        best = difflib.get_close_matches(bad, SSL_MODES, n=1, cutoff=0.5)
        rest = rest.replace(part, f"sslmode={best[0] if best else 'disable'}", 1)
    candidate = f"{scheme}://{rest}"
    try:
        parse_pg_url(candidate.replace(PASSWORD_PLACEHOLDER, "x"))
    except UrlError:
        return kind, ""
    return kind, candidate


def mask_url_text(text: str) -> str:
    """The display form of a URL that may hold a password, parsable or not."""
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#]*)@", text) or re.match(
        r"^([a-zA-Z][a-zA-Z0-9+.-]*://)(.*)@", text
    )
    if m:
        userinfo = m.group(2)
        user, sep, pw = userinfo.partition(":")
        if sep:
            remember(pw)
        # mask everything between the user and the last '@' before the host
        last_at = text.rfind("@")
        head = m.group(1) + user + (":" + MASK if sep else "")
        return redact(head + text[last_at:], known=False)  # user, host and path are names
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/?#@:]*):([^/?#@]*)", text)
    if m and m.group(3) and not m.group(3).isdigit():
        # "USER:something" and no "@HOST": the something is likely a password (and what
        # follows it may be more of one): show none of it
        remember(text[len(m.group(1)) + len(m.group(2)) + 1 :])
        return m.group(1) + m.group(2) + ":" + MASK
    m = re.match(r"^([^\s/?#:@]*):(.*)@([^@]*)$", text) if "://" not in text else None
    if m:
        # no scheme, but USER:PASSWORD@HOST (libpq refuses it; it is a password all the same)
        remember(m.group(2))
        return redact(m.group(1) + ":" + MASK + "@" + m.group(3), known=False)
    try:
        return parse_pg_url(text).masked()
    except UrlError:
        return redact(text)

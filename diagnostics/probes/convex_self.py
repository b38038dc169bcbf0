"""A self-hosted Convex backend on Postgres: its environment read with the
backend's own rules (../shared/facts/convex.md §1.1, §1.3, §1.4), then the
Postgres it will use: reachable, TLS as the backend demands it, the instance
database, a writable target and CREATE on the schema. Read-only throughout."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from pathlib import Path

from ..model import FAIL, PASS, SKIPPED, Outcome
from ..secret import Secret
from ..urls import PgUrl, UrlError, classify_host, parse_pg_url
from . import probe
from .net import bounded, resolve, tcp_connect
from .pg import SSL_REQUEST, classify_connect_error, open_connection, server_words, ssl_request

# variables only a Convex backend's machine has (run_backend.sh, §1.1)
BACKEND_MARKERS = ("INSTANCE_SECRET", "INSTANCE_NAME", "CONVEX_CLOUD_ORIGIN", "CONVEX_SITE_ORIGIN")
RUN_BACKEND = "/convex/run_backend.sh"
DEFAULT_INSTANCE = "convex-self-hosted"
# tokio-postgres' accepted query keys (§1.3); db_connection strips search_path first
PG_KEYS = {
    "user", "password", "dbname", "options", "application_name", "sslmode", "sslnegotiation", "host", "hostaddr",
    "port", "connect_timeout", "tcp_user_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
    "keepalives_retries", "target_session_attrs", "channel_binding", "load_balance_hosts", "search_path",
}  # fmt: skip
TOKIO_SSLMODES = ("disable", "prefer", "require")
DEPRECATED = (
    "Warning: DATABASE_URL is deprecated. Please use POSTGRES_URL for PostgreSQL or MYSQL_URL for MySQL connections instead."
)


def backend_env(ctx) -> tuple[dict | None, str]:
    """(the backend's environment, where it came from)."""
    if ctx.inputs.backend_env is not None:
        return ctx.inputs.backend_env, f"--backend-env {ctx.inputs.text('backend_env')}"
    env = ctx.env
    if any(env.get(k) for k in BACKEND_MARKERS) or Path(RUN_BACKEND).is_file():
        return env, "this machine's environment (the backend's own)"
    return None, ""


def _val(env, key: str) -> str:
    v = env.get(key)
    if isinstance(v, Secret):
        return v.reveal()
    return v or ""


def _state(ctx) -> dict:
    return ctx.resources.setdefault("convex_self", {})


def _ident(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


@probe("convex_self.env")
async def env(ctx) -> Outcome:
    benv, source = backend_env(ctx)
    if benv is None:
        bfile = ctx.inputs.text("backend_env")
        if bfile:
            return Outcome("unreadable", FAIL, f"--backend-env {bfile}: not readable", {"file": bfile})
        return Outcome("absent", SKIPPED, "no backend environment (pass --backend-env FILE, or run inside the backend's machine)")
    instance = _val(benv, "INSTANCE_NAME") or DEFAULT_INSTANCE
    db = instance.replace("-", "_")  # §1.3 deployment_name.replace('-', "_")
    dnrs = _val(benv, "DO_NOT_REQUIRE_SSL")
    facts = {"convex_self_instance": instance, "convex_self_db": db, "convex_self_require_ssl": not dnrs}
    app = _val(benv, "FLY_APP_NAME") or ctx.app
    if app:
        facts["backend_app"] = app
    ev = {
        "source": source,
        "instance_name": instance + ("" if _val(benv, "INSTANCE_NAME") else " (default)"),
        "database": db,
        # ${DO_NOT_REQUIRE_SSL:+--do-not-require-ssl}: any non-empty value, even "false", turns it on (§1.1)
        "do_not_require_ssl": f"set ({dnrs!r}: SSL not required)" if dnrs else "unset (SSL required)",
    }
    if _val(benv, "POSTGRES_URL"):
        var = "POSTGRES_URL"
    elif _val(benv, "MYSQL_URL"):
        return Outcome("mysql", PASS, "MYSQL_URL is set: the backend uses MySQL (not checked here)", {**ev, "database_kind": "mysql"}, {**facts, "convex_self_database_kind": "mysql"})
    elif _val(benv, "DATABASE_URL"):
        var = "DATABASE_URL"
        ev["warning"] = DEPRECATED
    else:
        return Outcome(
            "sqlite",
            PASS,
            "no POSTGRES_URL, MYSQL_URL or DATABASE_URL: the backend runs on SQLite at /convex/data/db.sqlite3",
            {**ev, "database_kind": "sqlite"},
            {**facts, "convex_self_database_kind": "sqlite"},
        )
    _state(ctx)["raw_url"] = Secret(_val(benv, var))
    facts["convex_self_var"] = var
    facts["convex_self_database_kind"] = "postgres"
    return Outcome(
        "postgres",
        PASS,
        f"Postgres from {var}" + (" (deprecated fallback: POSTGRES_URL is unset)" if var == "DATABASE_URL" else "") + f"; database {db}",
        {**ev, "variable": var, "database_kind": "postgres"},
        facts,
    )


@probe("convex_self.url")
async def url(ctx) -> Outcome:
    raw: Secret = _state(ctx)["raw_url"]
    var = ctx.facts.get("convex_self_var", "POSTGRES_URL")
    ev = {"variable": var, "source": f"the backend's {var}"}
    try:
        u = parse_pg_url(raw.reveal())
    except UrlError as exc:
        return Outcome("invalid", FAIL, str(exc), {**ev, "problem": f"The backend's {var} does not parse: {exc}", "part": exc.part or "(whole URL)", "hint": exc.hint})
    ev["url"] = u.masked()
    if not u.user:
        return Outcome(
            "invalid", FAIL, "no user name", {**ev, "problem": f"The backend's {var} has no user name; it fails with `cluster url username must be set`", "part": u.host, "hint": ""}
        )
    if u.has_database_path:
        bare = u.with_(dbname="", path="")
        msg = f"cluster url already contains db name: {u.path}"  # §1.3, the backend's exact words
        ev.update(path=u.path, backend_error=msg, suggested_url=bare.masked(), database=ctx.facts.get("convex_self_db", ""))
        if var == "DATABASE_URL":
            ev["note"] = (
                "POSTGRES_URL is unset, so the backend falls back to DATABASE_URL (deprecated) - the URL `fly postgres attach` "
                "or `fly mpg attach` wrote, with a database in it"
            )
        return Outcome("has_database", FAIL, msg, ev)
    bad = [k for k in u.params if k not in PG_KEYS]
    if bad:
        return Outcome(
            "invalid",
            FAIL,
            f"unknown option `{bad[0]}`",
            {**ev, "problem": f"invalid postgres connection url: invalid connection string: unknown option `{bad[0]}` (the backend's driver accepts only libpq's basic keys)", "part": f"{bad[0]}=", "hint": f"remove ?{bad[0]}=... from {var}"},
        )
    mode = u.params.get("sslmode")
    if mode and mode not in TOKIO_SSLMODES:
        return Outcome(
            "invalid",
            FAIL,
            f"sslmode={mode} is not supported by the backend",
            {**ev, "problem": "invalid postgres connection url: invalid connection string: invalid value for option `sslmode`", "part": f"sslmode={mode}", "hint": "use sslmode=require plus PG_CA_FILE for a private CA"},
        )
    require = ctx.facts.get("convex_self_require_ssl", True)
    # §1.3/§1.4: sslmode=require is appended after the user's parameters unless DO_NOT_REQUIRE_SSL
    effective = "require" if require else (mode or "prefer")
    _state(ctx)["url"] = u
    facts = {"convex_self_sslmode": effective, "convex_self_host": u.host, "convex_self_port": u.port, "convex_self_user": u.user}
    hc = classify_host(u.host)
    if hc.app:
        facts["pg_app"] = hc.app
    return Outcome("ok", PASS, f"{u.masked()} → database {ctx.facts.get('convex_self_db')}, sslmode={effective}", {**ev, "sslmode_effective": effective}, facts)


@probe("convex_self.reach")
async def reach(ctx) -> Outcome:
    u: PgUrl = _state(ctx)["url"]
    host, port = u.host, u.port
    ev = {"host": host, "port": port, "target": f"{host}:{port}", "timeout_s": ctx.timeout, "seen_from": "here (the backend's URL)"}
    hc = classify_host(host)
    if hc.kind == "fly_private" and ctx.facts.get("where") != "fly_machine" and not ctx.inputs.text("resolver"):
        return Outcome("outside_6pn", FAIL, f"{host} is Fly-private and this is not on the 6PN", {**ev, "kind": hc.flavour})
    r = await resolve(host, port, ctx.timeout)
    if r.status != "resolved":
        return Outcome("dns_not_found" if r.status == "not_found" else "timeout", FAIL, f"{host}: {r.detail}", {**ev, "error": r.detail, "address": host})
    attempts = []
    for addr in r.addresses:
        c = await tcp_connect(addr, port, ctx.timeout)
        attempts.append({"address": addr, "result": c.status, "ms": c.elapsed_ms})
        if c.status == "ok":
            _state(ctx)["address"] = addr
            return Outcome("ok", PASS, f"{addr}:{port} accepts TCP ({c.elapsed_ms} ms)", {**ev, "attempts": attempts})
    ev.update(attempts=attempts, address=attempts[-1]["address"])
    if all(a["result"] == "refused" for a in attempts):
        return Outcome("refused", FAIL, f"{host}:{port} refused the connection", ev)
    return Outcome("timeout", FAIL, f"no answer from {host}:{port}", ev)


def _verify_context(ctx) -> ssl.SSLContext:
    """rustls with the native roots plus PG_CA_FILE (§1.4), approximated by the system store."""
    c = ssl.create_default_context()
    benv, _ = backend_env(ctx)
    ca = _val(benv or {}, "PG_CA_FILE")
    if ca and Path(ca).is_file():
        try:
            c.load_verify_locations(ca)
        except (ssl.SSLError, OSError):
            pass
    return c


async def verified_handshake(address: str, port: int, hostname: str, context: ssl.SSLContext, timeout: float) -> tuple[bool, str]:
    """After the SSLRequest's 'S', a TLS handshake that verifies chain and host name,
    as rustls does (§1.4). (trusted?, detail)."""
    c = await tcp_connect(address, port, timeout, keep=True)
    if c.status != "ok":
        return False, c.detail
    try:
        c.writer.write(SSL_REQUEST)
        await asyncio.wait_for(c.writer.drain(), timeout)
        if await asyncio.wait_for(c.reader.readexactly(1), timeout) != b"S":
            return False, "TLS no longer offered"
        await asyncio.wait_for(c.writer.start_tls(context, server_hostname=hostname), timeout)
    except ssl.SSLCertVerificationError as exc:
        return False, f"certificate verify failed: {exc.verify_message}"
    except (ssl.SSLError, OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as exc:
        return False, f"TLS handshake failed: {type(exc).__name__} {exc}".strip()
    finally:
        c.close()
    return True, "certificate trusted"


@probe("convex_self.tls")
async def tls(ctx) -> Outcome:
    u: PgUrl = _state(ctx)["url"]
    addr = _state(ctx).get("address", u.host)
    effective = ctx.facts.get("convex_self_sslmode", "require")
    status, detail = await ssl_request(addr, u.port, ctx.timeout)
    if status == "tls" and effective != "disable":
        trusted, why = await verified_handshake(addr, u.port, u.host, _verify_context(ctx), ctx.timeout)
        status, detail = ("tls", f"{detail}; {why}") if trusted else ("tls_untrusted", f"{detail}; {why}")
    dnrs = "unset" if ctx.facts.get("convex_self_require_ssl", True) else "set"
    ev = {
        "host": u.host,
        "port": u.port,
        "answer": detail,
        "detail": detail,
        "sslmode": effective,
        "sslmode_effective": effective,
        "do_not_require_ssl": dnrs,
        "url": u.masked(),
        "variable": ctx.facts.get("convex_self_var", "POSTGRES_URL"),
    }
    if status == "no_tls":
        if effective == "require":
            ev["backend_error"] = "error performing TLS handshake: server does not support TLS"  # §1.5
            return Outcome("no_tls_required", FAIL, "no TLS, and the backend requires it", ev)
        return Outcome("no_tls_allowed", PASS, f"no TLS; the backend does not require it (sslmode={effective})", ev)
    if status == "tls":
        return Outcome("tls_ok", PASS, "TLS offered" + ("" if effective == "disable" else ", certificate trusted"), ev)
    if status == "tls_untrusted":
        # §1.4: no plaintext fallback after a failed verification, even under prefer
        ev["error"] = "error performing TLS handshake: invalid peer certificate (" + detail.split("; ", 1)[-1] + ")"
        return Outcome("untrusted", FAIL, detail, ev)
    if status in ("timeout", "closed", "not_postgres"):
        return Outcome(status, FAIL, detail, ev)
    return Outcome("closed", FAIL, detail, ev)


class _BackendTarget:
    """What pg.connect_kwargs reads from a walk's context, for the backend's URL
    instead of the app's: the same connect rules, another target."""

    def __init__(self, ctx, url: PgUrl, address: str | None):
        self.pg_url = url
        self.timeout = ctx.timeout
        self.facts = {"pg_address": address} if address else {}

    def pg_target(self) -> tuple[str, int]:
        return self.pg_url.host, self.pg_url.port


@probe("convex_self.database")
async def database(ctx) -> Outcome:
    import psycopg

    u: PgUrl = _state(ctx)["url"]
    db = ctx.facts.get("convex_self_db", "convex_self_hosted")
    effective = ctx.facts.get("convex_self_sslmode", "require")
    target = _BackendTarget(ctx, u.with_params(target_session_attrs=None), _state(ctx).get("address"))
    ev = {"host": u.host, "port": u.port, "user": u.user, "db": db, "database": db, "sslmode": effective}
    t0 = time.monotonic()
    try:
        # read-only is checked (and named) in the next step, so no target_session_attrs here
        conn = await open_connection(target, autocommit=True, dbname=db, sslmode=effective)
    except TimeoutError:
        return Outcome("timeout", FAIL, "login did not complete", {**ev, "detail": f"startup did not finish within {ctx.timeout:g} s"})
    except psycopg.OperationalError as exc:
        outcome = classify_connect_error(str(exc))
        words = server_words(str(exc))
        ev.update(error=words, detail=words)
        if outcome == "database_missing":
            ev["create_sql"] = f"CREATE DATABASE {_ident(db)};"
            ev["backend_error"] = f'db error: FATAL: database "{db}" does not exist'  # §1.5
        return Outcome(outcome, FAIL, words, ev)
    _state(ctx)["conn"] = conn
    ctx.resources["convex_self_conn"] = conn
    ms = int((time.monotonic() - t0) * 1000)
    return Outcome("ok", PASS, f"logged in as {u.user} to {db} in {ms} ms", {**ev, "login_ms": ms})


SESSION_SQL = """
SELECT pg_is_in_recovery(),
       current_setting('transaction_read_only'),
       current_setting('default_transaction_read_only'),
       current_schema(),
       current_user,
       CASE WHEN current_schema() IS NULL THEN false
            ELSE has_schema_privilege(current_user, current_schema(), 'CREATE') END,
       to_regclass('documents') IS NOT NULL AND to_regclass('leases') IS NOT NULL
"""


@probe("convex_self.session")
async def session(ctx) -> Outcome:
    conn = _state(ctx).get("conn")
    if conn is None:
        return Outcome("no_connection", SKIPPED, "no open connection")
    ms = int(ctx.timeout * 1000)

    async def queries():
        async with conn.cursor() as cur:
            await cur.execute(f"SET statement_timeout = {ms}")
            await cur.execute(SESSION_SQL)
            return await cur.fetchone()

    try:  # as pg.session: a server that stops answering after login must not hold the walk
        row = await bounded(queries(), ctx.timeout)
    except asyncio.TimeoutError:
        return Outcome("timeout", FAIL, f"logged in, but no answer to a query within {ctx.timeout:g} s", {"detail": "the server stopped answering after login"})
    in_recovery, ro, default_ro, schema, user, can_create, initialized = row
    db = ctx.facts.get("convex_self_db", "")
    u: PgUrl = _state(ctx)["url"]
    ev = {
        "host": u.host,
        "port": u.port,
        "pg_is_in_recovery": in_recovery,
        "transaction_read_only": ro,
        "default_transaction_read_only": default_ro,
        "schema": schema or "(none: current_schema() is NULL)",
        "role": user,
        "user": user,
        "db": db,
        "can_create": can_create,
        "convex_tables": "present" if initialized else "not yet (a first start creates them)",
    }
    if in_recovery or ro == "on":
        ev["target"] = "a standby (pg_is_in_recovery() = true)" if in_recovery else f"a primary with default_transaction_read_only = {default_ro}"
        ev["backend_error"] = "error connecting to server: database does not allow writes"  # §1.5, target_session_attrs=read-write
        return Outcome("read_only", FAIL, f"transaction_read_only = {ro}: {ev['target']}", ev)
    if not can_create:
        sch = schema or "public"
        ev["grant_sql"] = f"GRANT CREATE ON SCHEMA {_ident(sch)} TO {_ident(user)};"
        ev["owner_sql"] = f"ALTER DATABASE {_ident(db)} OWNER TO {_ident(user)};"
        return Outcome("schema_not_writable", FAIL, f"{user} has no CREATE on schema {sch}", ev)
    return Outcome("ok", PASS, f"writable primary; {user} may create tables in {schema}; Convex tables {ev['convex_tables']}", ev)


# ---------------------------------------------------------------- origins, pooler, other backends

ORIGIN_VARS = (("CONVEX_CLOUD_ORIGIN", "Origin"), ("CONVEX_SITE_ORIGIN", "Site"))


def _backend_app(ctx) -> str:
    return ctx.facts.get("backend_app") or ctx.app or ""


async def _backend_logs(ctx) -> tuple[list[dict], str]:
    """(the log scan's matches for the backend app, why there are none to read)."""
    from .. import logscan
    from .context import find_flyctl
    from .logs import app_logs

    app, flyctl = _backend_app(ctx), ctx.facts.get("flyctl_path") or find_flyctl(ctx)
    if not app or not flyctl:
        return [], "no app name" if not app else "flyctl not found"
    r = await app_logs(ctx, app, flyctl)
    if not r.ok:
        return [], r.error_line()
    return logscan.scan(r.stdout), ""


@probe("convex_self.origins")
async def origins(ctx) -> Outcome:
    """The backend refuses to start when CONVEX_CLOUD_ORIGIN or CONVEX_SITE_ORIGIN is
    set and starts with neither `https://` nor `http://` (an empty value is allowed:
    local_backend/src/config.rs convex_origin_url / convex_site_url)."""
    benv, source = backend_env(ctx)
    app = _backend_app(ctx)
    ev: dict = {"source": source or "(none)"}
    bad = []
    for var, word in ORIGIN_VARS:
        v = _val(benv or {}, var)
        ev[var] = v or "(unset)"
        if v and not v.startswith(("https://", "http://")):
            bad.append((var, word, v))
    if bad:
        _name_bad(ev, bad)
        var, _, v = bad[0]
        return Outcome("without_scheme", FAIL, f"{var}={v} has no https:// or http://: the backend refuses to start", ev, {"backend_app": app} if app else {})
    if any(_val(benv or {}, var) for var, _ in ORIGIN_VARS):
        return Outcome("ok", PASS, "the origins start with https:// or http://", ev)
    matches, why = await _backend_logs(ctx)
    seen = [m for m in matches if m["id"] == "convex.origin_scheme"]
    if seen:
        ev.update(app=app, log_lines=seen[0]["examples"], count=seen[0]["count"], last_seen=seen[0]["last_seen"])
        logged = []
        for line in seen[0]["examples"]:
            m = LOGGED_REFUSAL.search(line)
            if m and not any(b[1] == m.group(1) for b in logged):
                logged.append((dict((w, v) for v, w in ORIGIN_VARS)[m.group(1)], m.group(1), m.group(2)))
        if logged:
            _name_bad(ev, logged)
        else:
            ev.update(variable="CONVEX_CLOUD_ORIGIN", backend_error=word_line(seen[0]))
        return Outcome("refused_in_logs", FAIL, f"the backend's logs: {ev['backend_error']}", ev)
    ev["logs"] = why or f"no such line in fly logs -a {app}"
    if benv is None:
        return Outcome("unknown", SKIPPED, "no backend environment, and no origin refusal in its logs" + (f" ({why})" if why else ""), ev)
    return Outcome("unset", PASS, "the origins are unset (allowed; see the Convex track's origin check)", ev)


LOGGED_REFUSAL = re.compile(r"(Origin|Site) url should start with https:// or http:// but got '([^']*)'")


def _name_bad(ev: dict, bad: list[tuple[str, str, str]]) -> None:
    """Evidence for origins without a scheme: (variable, the backend's word for it, value)."""
    var, word, v = bad[0]
    ev.update(
        variable=var,
        value=v,
        backend_error=f"{word} url should start with https:// or http:// but got '{v}'",  # config.rs, the backend's words
        suggested_value="https://" + v.lstrip(":/"),
        variables=", ".join(b[0] for b in bad),
        set_command=" ".join(f"{b[0]}=https://{b[2].lstrip(':/')}" for b in bad),
    )


def word_line(match: dict) -> str:
    line = match["examples"][-1]
    i = line.find("url should start")
    return line[max(0, i - 7) :] if i >= 0 else line


@probe("convex_self.pooler")
async def pooler(ctx) -> Outcome:
    """The backend caches its prepared statements (crates/postgres/src/connection.rs
    `prepare_cached`): the pooler check of the Postgres track, run against the
    backend's own target, database and sslmode."""
    import psycopg

    from .pg import pooler_check

    st = _state(ctx)
    u: PgUrl | None = st.get("url")
    if u is None or st.get("conn") is None:
        return Outcome("no_connection", SKIPPED, "no Postgres connection of the backend's to test")
    db = ctx.facts.get("convex_self_db", "convex_self_hosted")
    sslmode = ctx.facts.get("convex_self_sslmode", "require")
    target = _BackendTarget(ctx, u.with_params(target_session_attrs=None), st.get("address"))
    ev = {"host": u.host, "port": u.port, "user": u.user, "url": u.masked(), "db": db, "variable": ctx.facts.get("convex_self_var", "POSTGRES_URL")}
    try:
        a = await open_connection(target, autocommit=False, dbname=db, sslmode=sslmode)
        await a.set_read_only(True)  # its transaction is BEGIN READ ONLY, like the walk's own
    except (psycopg.Error, TimeoutError) as exc:
        words = server_words(str(exc)) if isinstance(exc, psycopg.Error) else "no login in time"
        return Outcome("no_second_connection", SKIPPED, f"could not open a test connection: {words}", {**ev, "error": words})
    try:
        out = await pooler_check(target, a, dbname=db, sslmode=sslmode)
    finally:
        try:
            await asyncio.wait_for(a.close(), 0.3)
        except Exception:
            a.pgconn.finish()
    out.evidence = {**ev, **out.evidence}
    return out


@probe("convex_self.lease")
async def lease(ctx) -> Outcome:
    """Only one backend may write to a database: it holds a lease there, and a second
    one fails with `failed to acquire lease: Already acquired with higher timestamp`
    or loses it (`Lease Lost`). Evidence: those lines in the backend app's logs, and
    the started machines of the backend app (`fly machines list --json`)."""
    from ..flyctl import run_flyctl
    from .context import find_flyctl

    if ctx.facts.get("convex_self_database_kind") == "sqlite":
        return Outcome("sqlite", SKIPPED, "SQLite on the machine's volume: no shared database")
    app, flyctl = _backend_app(ctx), ctx.facts.get("flyctl_path") or find_flyctl(ctx)
    if not app or not flyctl:
        return Outcome("unknown", SKIPPED, "no backend app name or no flyctl: logs and machines not read", {"app": app or "(unknown)"})
    # without the backend's environment, --app may name another app: its machines prove nothing,
    # while the lease lines are the backend's own words
    known = backend_env(ctx)[0] is not None
    ctx.progress(f"fly logs{' / fly machines list' if known else ''} -a {app}")
    jobs = [_backend_logs(ctx)] + ([run_flyctl(flyctl, ["machines", "list", "-a", app, "--json"], timeout=ctx.timeout)] if known else [])
    (matches, why), *rest = await asyncio.gather(*jobs)
    listed = rest[0] if rest else None
    ev: dict = {"app": app}
    lines = [m for m in matches if m["id"] == "convex.lease"]
    if lines:
        ev.update(log_lines=lines[0]["examples"], count=lines[0]["count"], instances=lines[0]["instances"], last_seen=lines[0]["last_seen"])
    else:
        ev["logs"] = why or "no lease line"
    started = []
    if listed is None:
        ev["machines"] = "not counted: without the backend's environment the app may not be the backend"
    elif listed.ok:
        try:
            data = json.loads(listed.stdout or "null") or []
        except ValueError:
            data = []
        machines = [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []
        started = [m for m in machines if m.get("state") == "started"]
        ev["machines"] = [{"id": m.get("id", ""), "state": m.get("state", ""), "region": m.get("region", "")} for m in machines]
        ev["started"] = len(started)
    else:
        ev["machines_error"] = listed.error_line()
    if lines:
        return Outcome("lease_lost", FAIL, f"{lines[0]['count']} lease line(s) in fly logs -a {app}", ev)
    if len(started) > 1:
        return Outcome("several_started", FAIL, f"{len(started)} started machines of {app}, one database", ev)
    if why and (listed is None or not listed.ok):
        return Outcome("unknown", SKIPPED, f"neither logs nor machines read: {ev.get('machines_error') or why}", ev)
    if listed is None:
        return Outcome("unknown", SKIPPED, f"no lease line in fly logs -a {app} (machines not counted without the backend's environment)", ev)
    return Outcome("one", PASS, f"one backend ({len(started)} started machine(s), no lease line)", ev)

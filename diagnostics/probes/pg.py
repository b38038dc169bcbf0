"""The Postgres layer: URL, host class, DNS, TCP, the SSLRequest byte, login,
session state and the pooler. Read-only: every query runs in a READ ONLY
transaction with a statement_timeout; nothing is written."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import struct
import time

from ..inputs import searched
from ..model import FAIL, PASS, SKIPPED, Outcome
from ..urls import classify_host, suggest_pg_url
from . import probe
from .net import bounded, resolve, tcp_connect

# psycopg warns on stderr when it drops a connection whose query was cancelled: the
# step's own result says what happened
logging.getLogger("psycopg").addHandler(logging.NullHandler())

SSL_REQUEST = struct.pack("!ii", 8, 80877103)

# psycopg gives no SQLSTATE on connect failures: classify by the server's words
# (exact strings: ../shared/facts, Postgres diagnostics; libpq wording).
CONNECT_ERRORS: list[tuple[str, re.Pattern]] = [
    ("password_missing", re.compile(r"no password supplied")),
    (
        "auth_failed",
        re.compile(
            r"password authentication failed for user|role \".*\" does not exist|authentication failed for user|"
            r"is not permitted to log in|permission denied for database"
        ),
    ),
    ("hba_rejected", re.compile(r"no pg_hba\.conf entry for|pg_hba\.conf rejects connection")),
    ("database_missing", re.compile(r"database \".*\" does not exist")),
    (
        "too_many_connections",
        re.compile(
            r"too many clients already|too many connections for (role|database)|remaining connection slots are reserved|no more connections allowed"
        ),
    ),
    ("server_starting", re.compile(r"the database system is (starting up|shutting down|in recovery mode|not yet accepting connections|not accepting connections)")),
    ("ssl_required_unsupported", re.compile(r"server does not support SSL, but SSL was required")),
    (
        "ssl_verify_failed",
        re.compile(
            r"certificate verify failed|root certificate file .* does not exist|server certificate for .* does not match host name|"
            r"could not get server's host name from server certificate|self[- ]signed certificate"
        ),
    ),
    ("refused", re.compile(r"Connection refused")),
    ("closed", re.compile(r"server closed the connection unexpectedly")),
    ("timeout", re.compile(r"timeout expired|connection timeout|timed out")),
]


def classify_connect_error(message: str) -> str:
    for outcome, pattern in CONNECT_ERRORS:
        if pattern.search(message):
            return outcome
    return "error"


_LIBPQ_PREFIX = re.compile(r'^(?:connection failed: )?connection to server (?:at "[^"]*"(?: \([^)]*\))?, port \d+|on socket "[^"]*") failed: ')


def server_words(message: str) -> str:
    """The server's own line (`FATAL:  ...`) out of libpq's wrapping, or else
    libpq's first line without the `connection to server at ... failed:` prefix."""
    m = re.search(r"(FATAL|ERROR):\s+(.*)", message)
    if m:
        return f"{m.group(1)}:  {m.group(2).strip()}"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return message
    return _LIBPQ_PREFIX.sub("", lines[0])


def tls_problem(words: str) -> str:
    if "root certificate file" in words:
        return "no_root_cert"
    if "does not match host name" in words or "host name from server certificate" in words:
        return "host_mismatch"
    return "untrusted"


FLY_SUFFIXES = ("internal", "flycast", "fly.dev", "flympg.net")


def typo_hint(host: str) -> str:
    """'did you mean pg.internal?' when the name's ending is one letter away from a Fly suffix."""
    import difflib

    labels = host.lower().rstrip(".").split(".")
    for n in (2, 1):
        if len(labels) > n:
            tail = ".".join(labels[-n:])
            best = difflib.get_close_matches(tail, FLY_SUFFIXES, n=1, cutoff=0.75)
            if best and best[0] != tail:
                return f"did you mean {'.'.join(labels[:-n] + [best[0]])}?"
    return ""


@probe("pg.url")
async def url(ctx) -> Outcome:
    iv = ctx.inputs.get("database_url")
    if iv is None:
        return Outcome(
            "missing",
            FAIL,
            "no DATABASE_URL or POSTGRES_URL in flags, environment, .env.local, .env",
            {"searched": searched("database_url"), "cwd": str(ctx.inputs.cwd)},
        )
    err = ctx.pg_url_error
    if err is not None:
        kind, suggestion = suggest_pg_url(iv.text(), err)
        return Outcome(
            "invalid",
            FAIL,
            f"{err} (at '{err.part}')" if err.part else str(err),
            {
                "url": iv.display,
                "source": iv.source,
                "problem": str(err),
                "part": err.part or "(whole URL)",
                "hint": err.hint,
                "kind": kind,
                "corrected": suggestion,
            },
        )
    u = ctx.pg_url
    evidence = {"url": u.masked(), "source": iv.source, "sslmode": u.sslmode, "user": u.user, "database": u.dbname}
    summary = f"{u.masked()} from {iv.source}"
    if u.driver_params:
        names = ", ".join(u.driver_params)
        evidence["not_libpq_params"] = f"{names} (read by the app's driver, e.g. Prisma; libpq would refuse them, so this check leaves them out)"
        summary += f"; left out: {names}"
    return Outcome("ok", PASS, summary, evidence)


@probe("pg.host")
async def host(ctx) -> Outcome:
    u = ctx.pg_url
    hc = classify_host(u.host)
    label = {
        "fly_private": f"Fly-private ({hc.flavour}{', app ' + hc.app if hc.app else ''})",
        "fly_public": f"Fly public ({hc.app}.fly.dev)",
        "loopback": "loopback",
        "public": "public",
        "private_ip": "a private-range address",
        "socket": "a Unix socket",
    }[hc.kind]
    facts = {"host_kind": hc.kind, "host_flavour": hc.flavour}
    if hc.app:
        facts["url_app"] = hc.app
    return Outcome(hc.kind, PASS, f"{u.host} is {label}", {"host": u.host, "kind": hc.kind, "flavour": hc.flavour, "app": hc.app}, facts)


@probe("pg.dns")
async def dns(ctx) -> Outcome:
    host, port = ctx.pg_target()
    r = await resolve(host, port, ctx.timeout)
    if r.status == "resolved":
        return Outcome(
            "resolved", PASS, f"{host} → {', '.join(r.addresses[:3])}", {"host": host, "addresses": r.addresses}, {"pg_addresses": r.addresses}
        )
    evidence = {"host": host, "error": r.detail}
    hint = typo_hint(host)
    if hint:
        evidence["hint"] = hint
    return Outcome(r.status, FAIL, f"{host}: {r.detail}" + (f" ({hint})" if hint else ""), evidence)


@probe("pg.tcp")
async def tcp(ctx) -> Outcome:
    host, port = ctx.pg_target()
    addresses = ctx.facts.get("pg_addresses") or [host]
    deadline = time.monotonic() + ctx.timeout
    attempts = []
    for addr in addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        c = await tcp_connect(addr, port, left)
        attempts.append({"address": addr, "port": port, "result": c.status, "ms": c.elapsed_ms, "detail": c.detail})
        if c.status == "ok":
            return Outcome("ok", PASS, f"connected to {_hp(addr, port)} in {c.elapsed_ms} ms", {"attempts": attempts}, {"pg_address": addr})
    results = {a["result"] for a in attempts}
    last = attempts[-1] if attempts else {"address": host, "detail": "no address to try"}
    evidence = {"attempts": attempts, "address": last["address"], "target": _hp(last["address"], port), "timeout_s": ctx.timeout}
    if "timeout" in results or not attempts:
        return Outcome("timeout", FAIL, f"no answer from {_hp(last['address'], port)} within {ctx.timeout:g} s", evidence)
    if results == {"refused"}:
        hc = ctx.host_class  # the tree asks the cluster's other ports when this is a Fly host
        return Outcome("refused", FAIL, f"{_hp(last['address'], port)} refused the connection", evidence, {"host_kind": hc.kind} if hc else {})
    if "unreachable" in results:
        return Outcome("unreachable", FAIL, f"{_hp(last['address'], port)}: {last['detail']}", evidence)
    return Outcome("error", FAIL, f"{_hp(last['address'], port)}: {last['detail']}", evidence)


def _hp(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


async def ssl_request(address: str, port: int, timeout: float) -> tuple[str, str]:
    """Send the SSLRequest; ('tls'|'no_tls'|'timeout'|'closed'|'not_postgres'|'refused'|..., detail)."""
    c = await tcp_connect(address, port, timeout, keep=True)
    if c.status != "ok":
        return c.status, c.detail
    try:
        c.writer.write(SSL_REQUEST)
        await asyncio.wait_for(c.writer.drain(), timeout)
        # Postgres answers exactly one byte and waits. Whatever else is buffered means
        # something else speaks here (an SSH banner starts with 'S' too).
        data = await asyncio.wait_for(c.reader.read(80), timeout)
    except asyncio.TimeoutError:
        return "timeout", f"TCP connected, but no answer to the TLS request within {timeout:g} s"
    except (ConnectionResetError, BrokenPipeError) as exc:
        return "closed", f"the server closed the connection: {exc.__class__.__name__}"
    finally:
        c.close()
    if data == b"S":
        return "tls", "answered S (TLS offered)"
    if data == b"N":
        return "no_tls", "answered N (no TLS)"
    if not data:
        return "closed", "the server closed the connection without answering"
    first = data.decode("latin-1").splitlines()[0][:60] if data else ""
    what = " (an HTTP server)" if data.startswith(b"HTTP/") else " (an SSH server)" if data.startswith(b"SSH-") else ""
    return "not_postgres", f"answered {first!r}{what}, which is not Postgres"


@probe("pg.ssl")
async def ssl(ctx) -> Outcome:
    host, port = ctx.pg_target()
    addr = ctx.facts.get("pg_address") or host
    u = ctx.pg_url
    status, detail = await ssl_request(addr, port, ctx.timeout)
    evidence = {"address": _hp(addr, port), "sslmode": u.sslmode, "answer": detail, "detail": detail}
    facts = {"pg_tls_offered": status == "tls"}
    if status == "tls":
        return Outcome("tls", PASS, f"TLS offered; sslmode={u.sslmode}", evidence, facts)
    if status == "no_tls":
        if u.requires_tls:
            return Outcome("no_tls_required", FAIL, f"no TLS, but sslmode={u.sslmode} requires it", evidence, facts)
        return Outcome("no_tls", PASS, f"no TLS; sslmode={u.sslmode} does not require it", evidence, facts)
    if status == "timeout":
        return Outcome("timeout", FAIL, detail, evidence)
    if status in ("closed", "not_postgres"):
        return Outcome(status, FAIL, detail, evidence)
    return Outcome(status if status in ("refused",) else "error", FAIL, detail, evidence)


def connect_kwargs(ctx) -> dict:
    u = ctx.pg_url
    kw = u.conninfo_kwargs()
    target_host, target_port = ctx.pg_target()
    addr = ctx.facts.get("pg_address")
    if target_host != u.host:
        kw["host"] = target_host
    if addr and addr != kw.get("host"):
        kw["hostaddr"] = addr
    kw["port"] = target_port
    kw["connect_timeout"] = max(2, math.ceil(ctx.timeout))
    kw["application_name"] = "fcp-doctor"
    kw.setdefault("sslmode", "prefer")
    return kw


async def open_connection(ctx, **overrides):
    import psycopg

    kw = connect_kwargs(ctx)
    kw.update(overrides)
    # libpq's own connect_timeout is whole seconds, at least 2: the wait here is the real bound
    return await asyncio.wait_for(psycopg.AsyncConnection.connect(**kw), ctx.timeout)


def _refusal_details(outcome: str, words: str) -> dict:
    """What the server's refusal says beyond its class: which pg_hba.conf case,
    which connection limit."""
    out: dict = {}
    if outcome == "hba_rejected":
        m = re.search(r'for host "([^"]+)", user "([^"]*)", database "([^"]*)"(?:, (.+))?$', words)
        if m:
            out["client_address"] = m.group(1)
            if m.group(4):
                out["encryption"] = m.group(4).strip()
        out["hba_case"] = "reject_rule" if "rejects connection" in words else "no_entry"
    elif outcome == "auth_failed":
        if "not permitted to log in" in words:
            out["auth_case"] = "nologin"
        elif "permission denied for database" in words:
            out["auth_case"] = "no_connect_privilege"
        elif "does not exist" in words:
            out["auth_case"] = "no_role"
        else:
            out["auth_case"] = "password"
    elif outcome == "too_many_connections":
        m = re.search(r'too many connections for (role|database) "([^"]+)"', words)
        if m:
            out["limit_kind"], out["limit_name"] = m.group(1), m.group(2)
        elif "reserved" in words:
            out["limit_kind"] = "reserved"
        else:
            out["limit_kind"] = "server"
    return out


@probe("pg.connect")
async def connect(ctx) -> Outcome:
    import psycopg

    u = ctx.pg_url
    t0 = time.monotonic()
    try:
        conn = await open_connection(ctx, autocommit=False)
    except asyncio.TimeoutError:
        return Outcome(
            "timeout", FAIL, f"login did not complete within {ctx.timeout:g} s", {"detail": f"startup did not finish within {ctx.timeout:g} s"}
        )
    except psycopg.OperationalError as exc:
        message = str(exc)
        outcome = classify_connect_error(message)
        words = server_words(message)
        if outcome == "closed":  # libpq's last lines only say "before or while processing the request."
            words = "the server closed the connection unexpectedly during startup"
        evidence = {"error": words, "user": u.user, "database": u.dbname, "sslmode": u.sslmode}
        evidence.update(_refusal_details(outcome, words))
        if outcome == "ssl_verify_failed":
            evidence["tls_problem"] = tls_problem(words)
        if outcome == "hba_rejected" and "pg_tls_offered" in ctx.facts:
            evidence["tls_offered"] = bool(ctx.facts["pg_tls_offered"])
        if outcome in ("timeout", "closed"):
            evidence["detail"] = words
        return Outcome(outcome, FAIL, words, evidence)
    ms = int((time.monotonic() - t0) * 1000)
    await conn.set_read_only(True)
    ctx.resources["pg_conn"] = conn
    info = conn.info
    return Outcome(
        "ok",
        PASS,
        f"logged in as {u.user} to {u.dbname or u.user} in {ms} ms",
        {"server_version": info.parameter_status("server_version") or "", "login_ms": ms},
        {"pg_server_version": info.parameter_status("server_version") or ""},
    )


SESSION_SQL = """
SELECT pg_is_in_recovery(),
       current_setting('default_transaction_read_only'),
       current_setting('max_connections')::int,
       current_setting('superuser_reserved_connections')::int,
       coalesce(current_setting('reserved_connections', true), '0')::int,
       (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
       (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()),
       current_user, current_database(), current_setting('server_version'),
       (SELECT source FROM pg_settings WHERE name = 'default_transaction_read_only')
"""


@probe("pg.session")
async def session(ctx) -> Outcome:
    conn = ctx.resources.get("pg_conn")
    if conn is None:
        return Outcome("no_connection", SKIPPED, "no open connection")
    ms_limit = int(ctx.timeout * 1000)
    latencies: list[float] = []

    async def queries():
        async with conn.cursor() as cur:
            await cur.execute(f"SET LOCAL statement_timeout = {ms_limit}")
            await cur.execute(SESSION_SQL)
            row = await cur.fetchone()
            for _ in range(5):
                t0 = time.perf_counter()
                await cur.execute("SELECT 1")
                await cur.fetchone()
                latencies.append((time.perf_counter() - t0) * 1000)
        await conn.rollback()
        return row

    try:
        row = await bounded(queries(), ctx.timeout)
    except asyncio.TimeoutError:
        return Outcome(
            "timeout", FAIL, f"logged in, but no answer to a query within {ctx.timeout:g} s", {"detail": "the server stopped answering after login"}
        )
    (in_recovery, default_ro, max_conn, su_reserved, reserved, in_use, is_super, ssl_in_use, user, db, version, ro_source) = row
    latencies.sort()
    latency = round(latencies[len(latencies) // 2], 2)
    usable = max(1, max_conn - su_reserved - reserved)
    evidence = {
        "server_version": version,
        "pg_is_in_recovery": in_recovery,
        "default_transaction_read_only": default_ro,
        "read_only_set_by": ro_source,
        "max_connections": max_conn,
        "reserved": su_reserved + reserved,
        "usable": usable,
        "in_use": in_use,
        "superuser": bool(is_super),
        "tls_in_use": bool(ssl_in_use),
        "latency_ms": latency,
        "user": user,
        "database": db,
    }
    facts = {"pg_latency_ms": latency, "pg_in_recovery": in_recovery}
    if in_recovery:
        async with conn.cursor() as cur:  # the standby knows its primary (NULL without pg_read_all_stats)
            await cur.execute("SELECT sender_host, sender_port FROM pg_stat_wal_receiver")
            upstream = await cur.fetchone()
        await conn.rollback()
        if upstream and upstream[0]:
            evidence["primary_host"], evidence["primary_port"] = upstream[0], upstream[1]
        return Outcome("replica", FAIL, "pg_is_in_recovery() = true: a standby", evidence, facts)
    if default_ro == "on":
        return Outcome("read_only", FAIL, f"default_transaction_read_only = on for {db}", evidence, facts)
    summary = f"primary, PostgreSQL {version.split()[0]}, {in_use}/{usable} slots, SELECT 1 in {latency} ms" + (
        ", TLS" if ssl_in_use else ", no TLS"
    )
    return Outcome("ok", PASS, summary, evidence, facts)


async def _prepared_dance(a, b) -> tuple[dict, str]:
    """A holds a transaction while B prepares; A ends it; B runs its prepared
    statement again. Returns the backend pids seen and the error, if any.

    The statement has a fresh name each time: a pooled server connection keeps
    what earlier clients prepared, so a fixed name would collide ("already
    exists") or be found there by luck."""
    import secrets

    import psycopg

    name = f"fcp_doctor_{secrets.token_hex(6)}"
    pid_a = await _pid(a)  # opens A's transaction (the session is not autocommit)
    pid_b1 = await _pid(b)
    await b.execute(f"PREPARE {name} AS SELECT 1")
    pid_b2 = await _pid(b)
    await a.rollback()
    pid_b3 = await _pid(b)
    pids = {"a": pid_a, "b": [pid_b1, pid_b2, pid_b3]}
    try:
        await b.execute(f"EXECUTE {name}")
    except psycopg.Error as exc:
        return pids, server_words(str(exc))
    await b.execute(f"DEALLOCATE {name}")
    return pids, ""


async def _pid(conn) -> int:
    async with conn.cursor() as cur:
        await cur.execute("SELECT pg_backend_pid()")
        return (await cur.fetchone())[0]


@probe("pg.pooler")
async def pooler(ctx) -> Outcome:
    a = ctx.resources.get("pg_conn")
    if a is None or a.closed:
        return Outcome("no_connection", SKIPPED, "no open connection")
    return await pooler_check(ctx, a)


async def pooler_check(target, a, **connect) -> Outcome:
    """The session's connection A holds a transaction open while a second client
    B prepares a named statement. After A ends its transaction, a transaction-mode
    pooler hands B A's server (PgBouncer reuses the most recently freed server):
    B's prepared statement does not exist there. A direct connection or a
    session-mode pooler keeps B on one server throughout.

    `target` is what connect_kwargs reads (a walk's context, or another target
    such as a self-hosted backend's); `a` is an open connection to it, not in
    autocommit; `connect` overrides B's connection parameters."""
    import psycopg

    b = None
    deadline = time.monotonic() + 1.5 * target.timeout  # inside the node's budget of 2 x --timeout
    try:
        try:
            # only the explicit prepare=True below prepares (None would turn preparing off)
            b = await open_connection(target, autocommit=True, prepare_threshold=1000, **connect)
        except (psycopg.Error, asyncio.TimeoutError) as exc:
            words = server_words(str(exc)) if isinstance(exc, psycopg.Error) else f"no login within {target.timeout:g} s"
            return Outcome("no_second_connection", SKIPPED, f"could not open a second connection: {words}", {"error": words})
        try:
            pids, error = await bounded(_prepared_dance(a, b), max(0.1, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            return Outcome(
                "pool_wait",
                SKIPPED,
                "the second client waited for a server while the first held a transaction: a pooler with one server connection",
                {"detail": "no server for a second client while the first held a transaction", "pooling": "transaction, one server (likely)"},
            )
        moved = len(set(pids["b"])) > 1
        if error and str(target.pg_url.params.get("pgbouncer", "")).lower() == "true":
            return Outcome(
                "prepared_broken_handled",
                PASS,
                "transaction pooling breaks prepared statements, and the URL's pgbouncer=true tells Prisma not to use them",
                {"error": error, "backend_pids": pids, "pooling": "transaction", "url_param": "pgbouncer=true"},
                {"pg_pooler": "transaction"},
            )
        if not error and not moved:
            return Outcome("direct", PASS, "one server session per client (direct or session pooling)", {"backend_pids": pids})
        try:  # still inside the node's budget
            ident = await bounded(pooler_identity(target, **connect), max(0.1, deadline + 0.4 * target.timeout - time.monotonic()))
        except asyncio.TimeoutError:
            ident = {"pooler_version": "unknown", "pooler_version_error": "the admin console did not answer in time"}
        facts = {"pg_pooler": "transaction", **{k: ident[k] for k in ("pooler_version", "pooler_max_prepared_statements") if k in ident}}
        named = f" (PgBouncer {ident['pooler_version']})" if ident.get("pooler_version", "unknown") != "unknown" else ""
        if error:
            return Outcome(
                "prepared_broken",
                FAIL,
                f"transaction pooling{named}: {error}",
                {
                    "error": error,
                    "backend_pids": pids,
                    "pooling": "transaction",
                    "seen": "one client connection was served by different server processes, and its prepared statement vanished",
                    **ident,
                },
                facts,
            )
        return Outcome(
            "transaction_pooling_ok",
            PASS,
            f"transaction pooling{named}, and prepared statements still work (the pooler tracks them)",
            {"backend_pids": pids, "pooling": "transaction", **ident},
            facts,
        )
    finally:
        if b is not None:
            try:
                await asyncio.wait_for(b.close(), 0.3)
            except Exception:
                b.pgconn.finish()  # a query may still be queued: drop the socket


ADMIN_DB = "pgbouncer"  # PgBouncer's admin console: a virtual database of that name


async def pooler_identity(target, **connect) -> dict:
    """What PgBouncer says of itself on its admin console: `SHOW VERSION`
    ("PgBouncer 1.18.0") and, from `SHOW CONFIG`, max_prepared_statements (a
    setting since 1.21). Only admin_users and stats_users may log in there; the
    others get `not allowed`, and the version stays unknown."""
    import psycopg

    ev: dict = {"pooler_version_source": f"SHOW VERSION on the admin console (database {ADMIN_DB})"}
    try:
        conn = await open_connection(target, autocommit=True, **{**connect, "dbname": ADMIN_DB})
    except (psycopg.Error, asyncio.TimeoutError) as exc:
        words = server_words(str(exc)) if isinstance(exc, psycopg.Error) else "no login in time"
        return {
            **ev,
            "pooler_version": "unknown",
            "pooler_version_error": words,
            "pooler_version_hint": "add the role to stats_users in pgbouncer.ini, or run SHOW VERSION; SHOW CONFIG; in psql against the pooler's pgbouncer database",
        }
    try:
        # the console reports its own server_version, e.g. "1.18.0/bouncer"
        reported = conn.info.parameter_status("server_version") or ""
        cur = await conn.execute("SHOW VERSION")
        row = await cur.fetchone()
        text = str(row[0]) if row else reported
        ev["pooler_reported"] = text
        m = re.search(r"\d+\.\d+(?:\.\d+)?", text)
        ev["pooler_version"] = m.group(0) if m else "unknown"
        cur = await conn.execute("SHOW CONFIG")
        config = {str(r[0]): r[1] for r in await cur.fetchall()}
        if "max_prepared_statements" in config:
            try:
                ev["pooler_max_prepared_statements"] = int(config["max_prepared_statements"])
            except (TypeError, ValueError):
                ev["pooler_max_prepared_statements"] = str(config["max_prepared_statements"])
        else:
            ev["pooler_max_prepared_statements_note"] = "not a setting of this version (it came with PgBouncer 1.21)"
    except psycopg.Error as exc:
        ev.setdefault("pooler_version", "unknown")
        ev["pooler_version_error"] = server_words(str(exc))
    finally:
        try:
            await asyncio.wait_for(conn.close(), 0.3)
        except Exception:
            conn.pgconn.finish()
    return ev



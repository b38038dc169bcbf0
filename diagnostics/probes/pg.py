"""The Postgres layer: URL, host class, DNS, TCP, the SSLRequest byte, login,
session state and the pooler. Read-only: every query runs in a READ ONLY
transaction with a statement_timeout; nothing is written."""

from __future__ import annotations

import asyncio
import re
import struct
import time

from ..model import FAIL, PASS, SKIPPED, WARN, Outcome
from ..urls import classify_host
from . import probe
from .net import resolve, tcp_connect

SSL_REQUEST = struct.pack("!ii", 8, 80877103)
HIGH_LATENCY_MS = 20.0
NEAR_LIMIT = 0.8

# psycopg gives no SQLSTATE on connect failures: classify by the server's words
# (exact strings: ../shared/facts, Postgres diagnostics; libpq wording).
CONNECT_ERRORS: list[tuple[str, re.Pattern]] = [
    ("password_missing", re.compile(r"no password supplied")),
    ("auth_failed", re.compile(r"password authentication failed for user|role \".*\" does not exist|authentication failed for user")),
    ("hba_rejected", re.compile(r"no pg_hba\.conf entry for|pg_hba\.conf rejects connection")),
    ("database_missing", re.compile(r"database \".*\" does not exist")),
    (
        "too_many_connections",
        re.compile(
            r"too many clients already|too many connections for (role|database)|remaining connection slots are reserved|no more connections allowed"
        ),
    ),
    ("server_starting", re.compile(r"the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)")),
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


def server_words(message: str) -> str:
    """The server's own line (`FATAL:  ...`) out of libpq's wrapping."""
    m = re.search(r"(FATAL|ERROR):\s+(.*)", message)
    if m:
        return f"{m.group(1)}:  {m.group(2).strip()}"
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else message


@probe("pg.url")
async def url(ctx) -> Outcome:
    iv = ctx.inputs.get("database_url")
    if iv is None:
        return Outcome(
            "missing",
            FAIL,
            "no DATABASE_URL or POSTGRES_URL in flags, environment, .env.local, .env",
            {"searched": ["--database-url", "DATABASE_URL", "POSTGRES_URL", ".env.local", ".env", "fly.toml"], "cwd": str(ctx.inputs.cwd)},
        )
    err = ctx.pg_url_error
    if err is not None:
        return Outcome(
            "invalid",
            FAIL,
            f"{err} (at '{err.part}')" if err.part else str(err),
            {"url": iv.display, "source": iv.source, "problem": str(err), "part": err.part or "(whole URL)", "hint": err.hint},
        )
    u = ctx.pg_url
    return Outcome(
        "ok",
        PASS,
        f"{u.masked()} from {iv.source}",
        {"url": u.masked(), "source": iv.source, "sslmode": u.sslmode, "user": u.user, "database": u.dbname},
    )


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
    hint = ""
    return Outcome(r.status, FAIL, f"{host}: {r.detail}", {"host": host, "error": r.detail, "hint": hint})


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
        hc = ctx.host_class
        outcome = "refused_fly" if hc and hc.kind in ("fly_private", "fly_public") else "refused"
        return Outcome(outcome, FAIL, f"{_hp(last['address'], port)} refused the connection", evidence)
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
        data = await asyncio.wait_for(c.reader.read(1), timeout)
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
    return "not_postgres", f"answered {data!r}, which is not Postgres"


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
    kw["connect_timeout"] = max(2, int(round(ctx.timeout)))
    kw["application_name"] = "fcp-doctor"
    kw.setdefault("sslmode", "prefer")
    return kw


async def open_connection(ctx, **overrides):
    import psycopg

    kw = connect_kwargs(ctx)
    kw.update(overrides)
    # inside pg.connect's budget (1.5 × timeout): libpq's own connect_timeout is at least 2 s
    return await asyncio.wait_for(psycopg.AsyncConnection.connect(**kw), ctx.timeout * 1.25)


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
        m = re.search(r'no pg_hba\.conf entry for host "([^"]+)"', message)
        if m:
            evidence["client_address"] = m.group(1)
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
       current_user, current_database(), current_setting('server_version')
"""


async def bounded(aw, limit: float, *conns):
    """Await `aw` (queries on `conns`) for at most `limit` s. On expiry the connections
    are closed first: otherwise psycopg spends 5 s or more trying to cancel a query on
    a server that no longer answers, far past the probe's bound."""
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
        if task in done:
            return task.result()
        raise asyncio.TimeoutError
    finally:
        if not task.done():
            for c in conns:
                if c is not None:
                    c.pgconn.finish()
            task.cancel()
            await asyncio.wait({task}, timeout=1)


@probe("pg.session")
async def session(ctx) -> Outcome:
    conn = ctx.resources.get("pg_conn")
    if conn is None:
        return Outcome("no_connection", SKIPPED, "no open connection")
    ms_limit = int(ctx.timeout * 1000)
    latencies = []

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
        row = await bounded(queries(), ctx.timeout, conn)
    except asyncio.TimeoutError:
        return Outcome(
            "timeout", FAIL, f"logged in, but no answer to a query within {ctx.timeout:g} s", {"detail": "the server stopped answering after login"}
        )
    (in_recovery, default_ro, max_conn, su_reserved, reserved, in_use, is_super, ssl_in_use, user, db, version) = row
    latencies.sort()
    latency = round(latencies[len(latencies) // 2], 2)
    usable = max(1, max_conn - su_reserved - reserved)
    evidence = {
        "server_version": version,
        "pg_is_in_recovery": in_recovery,
        "default_transaction_read_only": default_ro,
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
        return Outcome("replica", FAIL, "pg_is_in_recovery() = true: a standby", evidence, facts)
    if default_ro == "on":
        return Outcome("read_only", FAIL, f"default_transaction_read_only = on for {db}", evidence, facts)
    findings = []
    if latency > HIGH_LATENCY_MS:
        findings.append("pg.high_latency")
    if in_use / usable > NEAR_LIMIT:
        findings.append("pg.connections_near_limit")
    if is_super:
        findings.append("pg.superuser_app_role")
    summary = f"primary, PostgreSQL {version.split()[0]}, {in_use}/{usable} slots, SELECT 1 in {latency} ms" + (
        ", TLS" if ssl_in_use else ", no TLS"
    )
    return Outcome("ok", WARN if findings else PASS, summary, evidence, facts, findings)


async def _pid(conn) -> int:
    async with conn.cursor() as cur:
        await cur.execute("SELECT pg_backend_pid()")
        return (await cur.fetchone())[0]


@probe("pg.pooler")
async def pooler(ctx) -> Outcome:
    """Two client connections, A and B (autocommit). A holds a transaction while B
    prepares a named statement; after A commits, a transaction-mode pooler gives B
    A's server back (LIFO) — where B's prepared statement does not exist."""
    import psycopg

    a = await open_connection(ctx, autocommit=True)
    b = None
    try:
        b = await open_connection(ctx, autocommit=True, prepare_threshold=None)

        async def exchange():
            await a.execute("BEGIN READ ONLY")
            pid_a = await _pid(a)
            pid_b1 = await _pid(b)
            query = "SELECT 1 AS fcp_doctor_probe"
            await b.execute(query, prepare=True)
            pid_b2 = await _pid(b)
            await a.execute("COMMIT")
            pid_b3 = await _pid(b)
            pids = {"a": pid_a, "b": [pid_b1, pid_b2, pid_b3]}
            moved = len({pid_b1, pid_b2, pid_b3}) > 1
            try:
                await b.execute(query, prepare=True)
            except psycopg.Error as exc:
                words = server_words(str(exc))
                return Outcome(
                    "prepared_broken",
                    FAIL,
                    f"transaction pooling: {words}",
                    {"error": words, "backend_pids": pids, "pooling": "transaction"},
                    {"pg_pooler": "transaction"},
                )
            if moved:
                return Outcome(
                    "transaction_pooling_ok",
                    PASS,
                    "transaction pooling, and prepared statements still work",
                    {"backend_pids": pids, "pooling": "transaction"},
                    {"pg_pooler": "transaction"},
                )
            return Outcome("direct", PASS, "one server session per client (direct or session pooling)", {"backend_pids": pids})

        try:
            return await bounded(exchange(), ctx.timeout, a, b)
        except asyncio.TimeoutError:
            return Outcome("timeout", FAIL, f"no answer to a query within {ctx.timeout:g} s", {"detail": "the server stopped answering after login"})
    finally:
        for c in (a, b):
            if c is not None:
                try:
                    await asyncio.wait_for(c.close(), 2)
                except Exception:
                    pass

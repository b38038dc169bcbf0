"""The Postgres layer against hostile and broken peers: each probe ends within
its time bound with a named outcome, and the walk names a cause."""

from __future__ import annotations

import json
import time

import pytest

import hostile
from diagnostics.context import Context
from diagnostics.inputs import discover
from diagnostics.probes import pg as pgp

TIMEOUT = 1.0
MARGIN = 0.5  # the engine's; a probe must end before the engine has to cut it


def ctx_for(server, tmp_path, password="hostile-pw-1") -> Context:
    url = f"postgres://app:{password}@{server.host}:{server.port}/app"
    return Context(inputs=discover({"database_url": url}, env={}, cwd=tmp_path), timeout=TIMEOUT)


async def timed(fn, ctx, budget=1.0):
    t0 = time.monotonic()
    out = await fn(ctx)
    elapsed = time.monotonic() - t0
    assert elapsed <= TIMEOUT * budget + MARGIN, f"{fn.__name__} took {elapsed:.2f} s"
    return out, elapsed


async def test_syn_blackhole_tcp_times_out(tmp_path):
    with hostile.SynBlackhole() as s:
        out, elapsed = await timed(pgp.tcp, ctx_for(s, tmp_path))
    assert out.outcome == "timeout" and out.status == "fail"
    assert elapsed >= TIMEOUT * 0.8  # it really waited, and no longer


async def test_blackhole_ssl_and_login_time_out(tmp_path):
    with hostile.Blackhole() as s:
        ctx = ctx_for(s, tmp_path)
        out, _ = await timed(pgp.tcp, ctx)
        assert out.outcome == "ok"
        ctx.facts.update(out.facts)
        out, _ = await timed(pgp.ssl, ctx)
        assert out.outcome == "timeout"
        out, _ = await timed(pgp.connect, ctx, budget=1.5)  # pg.connect's budget in the tree
        assert out.outcome == "timeout"


async def test_closes_during_startup(tmp_path):
    with hostile.PgClosesDuringStartup() as s:
        ctx = ctx_for(s, tmp_path)
        out, _ = await timed(pgp.ssl, ctx)
        assert out.outcome == "no_tls"
        out, _ = await timed(pgp.connect, ctx, budget=1.5)
        assert out.outcome == "closed", out
        assert "closed" in out.summary


async def test_garbage_answer_to_sslrequest(tmp_path):
    with hostile.PgGarbageSSL() as s:
        out, _ = await timed(pgp.ssl, ctx_for(s, tmp_path))
    assert out.outcome == "not_postgres"
    assert "HTTP" in out.evidence["answer"]  # the first bytes, named


@pytest.mark.parametrize(
    "server,cause",
    [
        (hostile.Blackhole, "pg.handshake_timeout"),
        (hostile.PgGarbageSSL, "pg.handshake_timeout"),
        (hostile.PgClosesDuringStartup, "pg.handshake_timeout"),
        (hostile.SynBlackhole, "net.connect_timeout"),
    ],
)
def test_walk_names_a_cause_in_time(cli, server, cause):
    with server() as s:
        url = f"postgres://app:hostile-pw-2@{s.host}:{s.port}/app"
        t0 = time.monotonic()
        r = cli("diagnose", "--json", "--symptom", "app-cant-reach-postgres", "--timeout", str(TIMEOUT), "--database-url", url, timeout=30)
        wall = time.monotonic() - t0
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["root_cause"]["id"] == cause
    assert "hostile-pw-2" not in r.stdout + r.stderr
    assert "<DETAIL>" not in doc["root_cause"]["explanation"]
    assert wall < 10  # interpreter start-up plus a few one-second probes


async def test_hangs_after_login(tmp_path):
    """Login works, then no query is ever answered: pg.session and pg.pooler end
    within their bounds (psycopg alone would spend 5 s more trying to cancel)."""
    from diagnostics.engine import Engine

    with hostile.PgHangsAfterLogin() as s:
        ctx = ctx_for(s, tmp_path)
        out, _ = await timed(pgp.connect, ctx, budget=1.5)
        assert out.outcome == "ok", out
        out, _ = await timed(pgp.session, ctx)
        assert out.outcome == "timeout" and "logged in" in out.summary
        out, _ = await timed(pgp.pooler, ctx, budget=2.0)
        assert out.outcome == "no_connection"  # pg.session's timeout closed it
        out, _ = await timed(pgp.connect, ctx, budget=1.5)
        out, _ = await timed(pgp.pooler, ctx, budget=2.0)
        assert out.outcome in ("timeout", "pool_wait"), out
        t0 = time.monotonic()
        report = await Engine(ctx_for(s, tmp_path), "app-cant-reach-postgres").run()
        wall = time.monotonic() - t0
    step = {st.node: st for st in report.steps}["pg.session"]
    assert step.outcome == "timeout" and step.summary.startswith("logged in") and report.verdict == "inconclusive"
    assert wall < TIMEOUT * 3 + 1.5

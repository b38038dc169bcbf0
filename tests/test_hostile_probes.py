"""The Convex, 6PN-DNS and flyctl probes against the hostile peers of
tests/hostile.py: every probe ends within its node's bound (timeout × budget
plus the engine's margin) with an outcome its node names, and a whole
`diagnose --json` names a cause in a few seconds, with no traceback, no
crashed step and no flyctl process left behind."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import re
import signal
import time
import tracemalloc
import uuid
from pathlib import Path

import dns.asyncquery  # noqa: F401  imported here, so no probe's timing includes an import
import httpx  # noqa: F401
import pytest

import hostile
from conftest import run_cli
from diagnostics import tree
from diagnostics.context import Context
from diagnostics.engine import MARGIN, Engine
from diagnostics.inputs import discover
from diagnostics.model import CRASHED
from diagnostics.probes import convex as cx
from diagnostics.probes import fly as flyp
from diagnostics.probes import flyctl as fctl
from fake_flyctl import BIN as STANDIN_BIN
from fake_flyctl import FakeFly, ip, machine, secret
from sixpn import machine_env

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 1.0
ADMIN_KEY = "convex-self-hosted|01hostile0key0c0ffee"
PG_PW = "hostile-Pw-31z"

tree.load()


def bound(node: str) -> float:
    return TIMEOUT * tree.NODES[node].budget + MARGIN


async def timed(node: str, fn, ctx):
    """Run a probe directly and read its outcome as its node does (tree.decide); check the
    node's time bound, and that the node has a branch for the outcome."""
    t0 = time.monotonic()
    out = await fn(ctx)
    elapsed = time.monotonic() - t0
    assert elapsed <= bound(node), f"{node} took {elapsed:.2f} s (bound {bound(node):.1f} s)"
    d = tree.decide(tree.NODES[node], out, {**ctx.facts, **out.facts})
    out = dataclasses.replace(out, outcome=d.outcome, status=d.status, summary=d.summary)
    assert out.status != CRASHED
    assert tree.NODES[node].target(out.outcome, {**ctx.facts, **out.facts}) is not None, f"{node}: outcome {out.outcome!r} has no branch"
    return out, elapsed


def check_walk(r, wall: float, limit: float) -> dict:
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode in (1, 3), r.stderr
    doc = json.loads(r.stdout)
    assert not [s["node"] for s in doc["steps"] if s["status"] == CRASHED]
    for s in doc["steps"]:
        assert s["elapsed_ms"] <= bound(s["node"]) * 1000, s
    assert wall < limit, f"the walk took {wall:.1f} s"
    return doc


def step(doc, node):
    return next(s for s in doc["steps"] if s["node"] == node)


# ---------------------------------------------------------------- Convex


class HalfConvex(hostile._Server):
    """GET /, /version and /instance_name answer like a self-hosted backend
    (convex.md §3.1); every other path (the admin API, the site origin)
    misbehaves: drips its body or redirects in a loop."""

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def handle(self, conn):
        req = hostile._read_request(self, conn)
        path = req.split(b" ", 2)[1].decode() if req.count(b" ") >= 2 else "/"
        plain = {"/": cx.RUNNING, "/version": "1.25.0", "/instance_name": "convex-self-hosted"}.get(path)
        if plain is not None:
            body = plain.encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        elif self.mode == "drip":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
            while not self.stopping.is_set():
                conn.sendall(b" ")
                time.sleep(1)
        else:
            nxt = path + "x"
            conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nLocation: " + nxt.encode() + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()


@pytest.fixture(scope="module")
def peers():
    servers = {
        "drip": hostile.HttpDrip(),
        "huge": hostile.HttpHugeBody(),
        "loop": hostile.HttpRedirectLoop(),
        "blackhole": hostile.Blackhole(),
    }
    for s in servers.values():
        s.start()
    yield servers
    for s in servers.values():
        s.stop()


def convex_ctx(server, tmp_path, **facts) -> Context:
    u = f"http://{server.host}:{server.port}"
    inputs = discover({"convex_url": u, "convex_site_url": u, "admin_key": ADMIN_KEY}, env={"FCP_DOCTOR_TOKEN": "hostile-token-77"}, cwd=tmp_path)
    ctx = Context(inputs=inputs, timeout=TIMEOUT)
    ctx.facts.update(facts)
    return ctx


# probe -> outcome per peer; the admin probes run as after a key was accepted
CONVEX = {
    "drip": {"http": "failed", "admin_key": "error", "env": "unknown", "origins": "unknown", "metrics": "unknown", "site": "unreachable", "pg_from_convex": "unreachable"},
    "blackhole": {"http": "failed", "admin_key": "error", "env": "unknown", "origins": "unknown", "metrics": "unknown", "site": "unreachable", "pg_from_convex": "unreachable"},
    "loop": {"http": "failed", "admin_key": "error", "env": "unknown", "origins": "unknown", "metrics": "unknown", "site": "unreachable", "pg_from_convex": "unreachable"},
    # a 200 with 100 MB of HTML: not Convex's answer anywhere; a catch-all route on the site origin is possible
    "huge": {"http": "not_convex", "admin_key": "error", "env": "unknown", "origins": "unknown", "metrics": "private", "site": "ok", "pg_from_convex": "not_convex"},
}
WHAT = {"drip": "byte", "blackhole": "no HTTP answer within", "loop": "redirect loop"}


@pytest.mark.parametrize("peer", list(CONVEX))
async def test_convex_probes_end_in_time_with_a_named_outcome(peers, peer, tmp_path):
    server = peers[peer]
    ctx = convex_ctx(server, tmp_path, convex_kind="self_hosted", convex_admin_ok=True)
    try:
        # independent of each other here, so all at once; each is timed on its own
        got = await asyncio.gather(*(timed(f"convex.{name}", getattr(cx, name), ctx) for name in CONVEX[peer]))
        for (name, want), (out, elapsed) in zip(CONVEX[peer].items(), got):
            assert out.outcome == want, (name, out)
            if peer in WHAT and out.status != "pass":
                assert WHAT[peer] in out.summary, (name, out.summary)
            if peer in ("drip", "blackhole") and name != "pg_from_convex":
                assert elapsed >= TIMEOUT * 0.8  # it really waited, and no longer
    finally:
        await ctx.resources["convex_http"].aclose()


async def test_convex_reads_a_bounded_prefix_of_a_huge_body(peers, tmp_path):
    server = peers["huge"]
    ctx = convex_ctx(server, tmp_path)
    try:
        await cx.request(ctx, "GET", f"http://{server.host}:{server.port}/warm-up")  # the client and its trust store
        sent_before = server.sent
        tracemalloc.start()
        try:
            out, _ = await timed("convex.http", cx.http, ctx)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        await ctx.resources["convex_http"].aclose()
    assert out.outcome == "not_convex" and out.evidence["body"].startswith("<p>aaa")
    assert len(out.evidence["body"]) <= 200
    assert peak < 4 * 1024 * 1024, f"{peak} bytes held for a 64 KiB prefix"
    time.sleep(0.2)
    # what the kernel buffered on loopback, not the 100 MB
    assert server.sent - sent_before < hostile.HttpHugeBody.SIZE // 4


async def test_convex_tcp_to_a_port_that_never_completes_a_connect(tmp_path):
    with hostile.SynBlackhole() as s:
        ctx = convex_ctx(s, tmp_path, convex_addresses=[s.host])
        out, elapsed = await timed("convex.tcp", cx.tcp, ctx)
    assert out.outcome == "failed" and out.evidence["layer"] == "TCP"
    assert elapsed >= TIMEOUT * 0.8


def convex_walk(server, *extra):
    u = f"http://{server.host}:{server.port}"
    t0 = time.monotonic()
    r = run_cli(
        "diagnose", "--json", "--symptom", "convex-cant-reach-postgres", "--timeout", str(TIMEOUT),
        "--convex-url", u, "--convex-site-url", u, "--admin-key", ADMIN_KEY,
        "--database-url", f"postgres://app:{PG_PW}@127.0.0.1:1/app", *extra, timeout=30,
    )
    return r, time.monotonic() - t0


@pytest.mark.parametrize(
    "peer,cause,layer",
    [
        ("drip", "convex.unreachable", "HTTP"),
        ("blackhole", "convex.unreachable", "HTTP"),
        ("loop", "convex.unreachable", "HTTP"),
        ("huge", "convex.not_convex", None),
    ],
)
def test_convex_walk_names_a_cause_in_time(peers, peer, cause, layer):
    r, wall = convex_walk(peers[peer])
    doc = check_walk(r, wall, limit=8)
    assert r.returncode == 1
    rc = doc["root_cause"]
    assert rc["id"] == cause
    assert not re.search(r"<[A-Z_]+>", rc["title"] + rc["explanation"]), rc  # every name filled in
    if layer:
        assert rc["evidence"]["layer"] == layer
    else:
        assert rc["evidence"]["status"] == 200 and "<p>aaa" in rc["evidence"]["body"]


@pytest.mark.parametrize("mode,what", [("drip", "byte"), ("loop", "redirect loop")])
def test_convex_walk_when_only_the_admin_api_misbehaves(mode, what):
    """The root answers like Convex; the admin API behind it drips or loops:
    convex.admin_key ends within its bound and names the admin API layer."""
    with HalfConvex(mode) as s:
        r, wall = convex_walk(s)
    doc = check_walk(r, wall, limit=8)
    assert step(doc, "convex.http")["outcome"] == "convex"
    assert step(doc, "convex.admin_key")["outcome"] == "error"
    rc = doc["root_cause"]
    assert r.returncode == 1 and rc["id"] == "convex.unreachable"
    assert rc["evidence"]["layer"] == "HTTP (admin API)" and what in rc["evidence"]["detail"]
    assert rc["evidence"]["target"].endswith("/api/check_admin_key")


# ---------------------------------------------------------------- 6PN DNS


@pytest.fixture(scope="module")
def resolvers():
    servers = {m: hostile.DnsServer(m).start() for m in ("garbage", "truncate", "silent")}
    yield servers
    for s in servers.values():
        s.stop()


def dns_ctx(server, host, tmp_path) -> Context:
    flags = {"database_url": f"postgres://web:{PG_PW}@{host}:5432/web", "resolver": f"{server.host}:{server.port}"}
    return Context(inputs=discover(flags, env=machine_env(), cwd=tmp_path), timeout=TIMEOUT)


DNS_SAYS = {"garbage": "gives no usable answer (error", "truncate": "gives no usable answer (truncated", "silent": "does not answer (timeout"}


@pytest.mark.parametrize("mode", ["garbage", "truncate", "silent"])
@pytest.mark.parametrize("host", ["pgdb.internal", "pgdb.flycast"])
async def test_6pn_dns_probe_against_a_broken_resolver(resolvers, mode, host, tmp_path):
    s = resolvers[mode]
    before = len(s.conns)
    out, elapsed = await timed("fly.dns", flyp.sixpn_dns, dns_ctx(s, host, tmp_path))
    assert out.outcome == "no_resolver", out
    assert DNS_SAYS[mode] in out.summary
    # every name was asked, and none taken for an absent record (no app_not_found on garbage)
    assert all(not v.startswith(("ok", "empty", "nxdomain")) for v in out.evidence["queries"].values())
    if mode == "truncate":
        assert len(s.conns) > before  # the TCP retry was made, and misbehaved too
    if mode == "silent":
        assert elapsed >= TIMEOUT * 0.8
    else:
        assert elapsed < TIMEOUT * 0.8  # a broken answer is final; no waiting for more


@pytest.mark.parametrize("mode", ["garbage", "truncate", "silent"])
def test_6pn_walk_against_a_broken_resolver(resolvers, mode):
    s = resolvers[mode]
    t0 = time.monotonic()
    r = run_cli(
        "diagnose", "--json", "--symptom", "app-cant-reach-postgres", "--timeout", str(TIMEOUT),
        "--resolver", f"{s.host}:{s.port}", "--database-url", f"postgres://web:{PG_PW}@pgdb.internal:5432/web",
        env={**machine_env(), "PATH": "/usr/bin:/bin"}, timeout=30,
    )
    doc = check_walk(r, time.monotonic() - t0, limit=8)
    assert step(doc, "context.where")["outcome"] == "fly_machine"
    assert step(doc, "fly.dns")["outcome"] == "no_resolver"
    assert r.returncode == 1 and doc["root_cause"]["id"] == "fly.private_host_outside_6pn"


# ---------------------------------------------------------------- flyctl


def flyctl_pids(marker: str) -> list[int]:
    needle = marker.encode()
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if needle in (p / "environ").read_bytes():
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids


def assert_no_leftover(marker: str, wait: float = 1.0) -> None:
    deadline = time.monotonic() + wait
    while flyctl_pids(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = flyctl_pids(marker)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a flyctl process outlived its call"


@pytest.fixture
def marker():
    m = f"HOSTILE_FLYCTL_RUN={uuid.uuid4().hex}"
    yield m
    assert_no_leftover(m)


def flyctl_ctx(fly: Path, marker: str, tmp_path, host="pgdb.internal", env=None) -> Context:
    key, value = marker.split("=", 1)
    flags = {"database_url": f"postgres://web:{PG_PW}@{host}:5432/web", "app": "web"}
    ctx = Context(inputs=discover(flags, env={**(env or {}), key: value}, cwd=tmp_path), timeout=TIMEOUT)
    ctx.facts["flyctl_path"] = str(fly)
    return ctx


async def test_flyctl_probes_against_a_hanging_flyctl(tmp_path, marker):
    fly = hostile.fake_flyctl(tmp_path / "bin", "hang")
    ctx = flyctl_ctx(fly, marker, tmp_path)
    out, elapsed = await timed("flyctl.auth", fctl.auth, ctx)
    assert out.outcome == "error" and "no answer within 1 s" in out.summary
    assert elapsed >= TIMEOUT * 0.8
    assert_no_leftover(marker)
    out, _ = await timed("flyctl.platform", fctl.platform, ctx)
    assert out.outcome == "error" and "no answer within 1 s" in out.summary
    assert all("no answer" in v for v in out.evidence["commands"].values()), out.evidence
    assert_no_leftover(marker)
    out, elapsed = await timed("flyctl.proxy", fctl.proxy, ctx)
    assert out.outcome == "failed" and out.evidence["error_class"] == "no_answer"
    assert out.evidence["exit_code"] == "killed" and "fly_proxy" not in ctx.resources
    assert_no_leftover(marker)


async def test_flyctl_probes_against_garbage_json(tmp_path, marker):
    fly = hostile.fake_flyctl(tmp_path / "bin", "garbage_json")
    ctx = flyctl_ctx(fly, marker, tmp_path)
    out, _ = await timed("flyctl.auth", fctl.auth, ctx)
    assert out.outcome == "error" and "no usable JSON" in out.summary
    out, _ = await timed("flyctl.platform", fctl.platform, ctx)
    # no machine list is not an empty machine list: never "machines stopped"
    assert out.outcome == "error" and "machines list" in out.summary and "no usable JSON" in out.summary
    assert set(out.evidence["commands"].values()) == {"no usable JSON"}
    out, _ = await timed("flyctl.proxy", fctl.proxy, ctx)
    assert out.outcome == "failed" and "it printed" in out.evidence["error"]


def garbling_fly(tmp_path, garbled: set[str]) -> Path:
    """A `fly` that runs the stand-in (tests/fake_flyctl) except for the listed
    commands (first word: auth, machines, ips, status, secrets), which answer
    hostile.fake_flyctl's garbage JSON."""
    garbage = hostile.fake_flyctl(tmp_path / "garbage", "garbage_json")
    path = tmp_path / "fly"
    path.write_text(
        "#!/bin/sh\n"
        f'case " {" ".join(sorted(garbled))} " in *" $1 "*) exec {garbage} "$@";; esac\n'
        f'exec {STANDIN_BIN / "fly"} "$@"\n'
    )
    path.chmod(0o755)
    return path


def standin(tmp_path) -> FakeFly:
    f = FakeFly(tmp_path)
    f.app("web", secrets=[secret("DATABASE_URL", status="Staged")])
    f.app("pgdb", machines=[machine("e784079b449483")], ips=[ip("fdaa:0:1::5")])
    return f


@pytest.mark.parametrize(
    "garbled,host,want",
    [
        ({"auth"}, "pgdb.internal", {"flyctl.auth": "error", "flyctl.platform": "secret_not_deployed"}),
        ({"machines"}, "pgdb.internal", {"flyctl.platform": "error"}),
        # a garbled `ips list` is no evidence of a missing Flycast address
        ({"ips"}, "pgdb.flycast", {"flyctl.platform": "secret_not_deployed"}),
        ({"status"}, "pgdb.internal", {"flyctl.platform": "secret_not_deployed"}),
        # a garbled `secrets list` is no evidence either way
        ({"secrets"}, "pgdb.internal", {"flyctl.platform": "ok"}),
    ],
)
async def test_flyctl_garbage_json_per_command(tmp_path, marker, garbled, host, want):
    f = standin(tmp_path)
    ctx = flyctl_ctx(garbling_fly(tmp_path, garbled), marker, tmp_path, host=host, env=f.env())
    outs = {}
    for node, fn in (("flyctl.auth", fctl.auth), ("flyctl.platform", fctl.platform)):
        outs[node], _ = await timed(node, fn, ctx)
    for node, outcome in want.items():
        assert outs[node].outcome == outcome, outs[node]
    plat = outs["flyctl.platform"]
    for cmd in garbled - {"auth"}:
        assert plat.evidence["commands"][cmd] == "no usable JSON", plat.evidence
    if not garbled & {"ips", "machines"}:  # the good answers still count
        assert plat.evidence["flycast_ips"] == ["fdaa:0:1::5"]


@pytest.mark.parametrize("mode,limit", [("hang", 10), ("garbage_json", 5)])
def test_flyctl_walk_names_a_cause_in_time(tmp_path, marker, mode, limit):
    fly = hostile.fake_flyctl(tmp_path / "bin", mode)
    key, value = marker.split("=", 1)
    t0 = time.monotonic()
    r = run_cli(
        "diagnose", "--json", "--symptom", "app-cant-reach-postgres", "--timeout", str(TIMEOUT), "--flyctl", str(fly),
        "--app", "web", "--database-url", f"postgres://web:{PG_PW}@pgdb.internal:5432/web",
        env={"PATH": "/usr/bin:/bin", key: value}, timeout=30,
    )
    doc = check_walk(r, time.monotonic() - t0, limit=limit)
    assert step(doc, "fly.vantage")["outcome"] == "flyctl"
    assert step(doc, "flyctl.auth")["outcome"] == "error"
    assert step(doc, "flyctl.platform")["outcome"] == "error"  # never machines_stopped from garbage
    assert r.returncode == 1 and doc["root_cause"]["id"] == "flyctl.proxy_failed"
    assert_no_leftover(marker)


async def test_cancelled_walk_leaves_no_flyctl(tmp_path, marker):
    """The engine cuts a walk short (a user quits): the hanging flyctl calls die with it."""
    fly = hostile.fake_flyctl(tmp_path / "bin", "hang")
    ctx = flyctl_ctx(fly, marker, tmp_path)
    ctx.inputs.set("flyctl", str(fly), "flag")
    task = asyncio.create_task(Engine(ctx, "laptop-cant-reach-postgres").run())
    await asyncio.sleep(0.5)
    assert flyctl_pids(marker)  # a flyctl call is under way
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # the cancelled probe kills its flyctl as soon as the loop runs it
    for _ in range(20):
        if not flyctl_pids(marker):
            break
        await asyncio.sleep(0.05)
    assert_no_leftover(marker, wait=0)


# ---------------------------------------------------------------- a self-hosted backend's Postgres


@pytest.mark.parametrize(
    "server,node,outcome",
    [
        (hostile.PgClosesDuringStartup, "convex_self.database", "closed"),
        (hostile.PgHangsAfterLogin, "convex_self.session", "timeout"),
    ],
)
def test_backend_postgres_walk_against_broken_servers(tmp_path, server, node, outcome):
    with server() as s:
        benv = tmp_path / "backend.env"
        benv.write_text(f"POSTGRES_URL=postgres://app:{PG_PW}@{s.host}:{s.port}\nINSTANCE_NAME=convex-self-hosted\nDO_NOT_REQUIRE_SSL=1\n")
        t0 = time.monotonic()
        r = run_cli(
            "diagnose", "--json", "--symptom", "self-hosted-backend-down", "--timeout", str(TIMEOUT), "--backend-env", str(benv),
            "--database-url", f"postgres://app:{PG_PW}@{s.host}:{s.port}/convex_self_hosted", timeout=30,
        )
        doc = check_walk(r, time.monotonic() - t0, limit=8)
    assert step(doc, node)["outcome"] == outcome
    if outcome == "closed":  # named as pg.connect names it
        assert step(doc, node)["branch"] == "cause:pg.handshake_timeout"
        assert r.returncode == 1 and doc["root_cause"]["id"] == "pg.handshake_timeout"

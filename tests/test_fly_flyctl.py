"""The Fly layer from a laptop: the stand-in flyctl (tests/fake_flyctl) answers
platform questions and its `proxy` really forwards to a real Postgres."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from conftest import ROOT, run_cli
from fake_flyctl import FakeFly, ip, machine, secret
from pgcluster import SUPERPASS

pytestmark = pytest.mark.timeout(60)

PG_HOST = "mydb.internal"


def db_url(host=PG_HOST, password=SUPERPASS, **params):
    q = "&".join(f"{k}={v}" for k, v in {"sslmode": "disable", **params}.items())
    return f"postgres://postgres:{password}@{host}:5432/postgres?{q}"


@pytest.fixture
def fly(tmp_path, pg):
    f = FakeFly(tmp_path)
    f.app("web", secrets=[secret("DATABASE_URL"), secret("SECRET_KEY_BASE")])
    f.app(
        "mydb",
        machines=[machine("e784079b449483", role="primary"), machine("148e2d5b0e3d89", region="ord", private_ip="fdaa:0:1:a7b:3::2", role="replica")],
        ips=[ip("fdaa:0:1::5")],
        proxy_targets={"5432": f"127.0.0.1:{pg.port}"},
    )
    yield f
    _assert_no_orphan(f)


def _fake_pids(f: FakeFly) -> list[int]:
    marker = f"FAKE_FLYCTL_STATE={f.state_path}".encode()
    pids = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker in (p / "environ").read_bytes():
                    pids.append(int(p.name))
            except OSError:
                pass
    return pids


def _assert_no_orphan(f: FakeFly, wait: float = 2.0) -> None:
    deadline = time.monotonic() + wait
    while _fake_pids(f) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _fake_pids(f)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "a flyctl process outlived the walk"


def diagnose(f: FakeFly, url: str, *extra: str, env_extra=None):
    env = f.env()
    env.update(env_extra or {})
    r = run_cli("diagnose", "--json", "--symptom", "laptop-cant-reach-postgres", "--database-url", url, *extra, env=env)
    assert r.stdout, r.stderr
    assert SUPERPASS not in r.stdout + r.stderr
    return r, json.loads(r.stdout)


def step(rep, node):
    return next(s for s in rep["steps"] if s["node"] == node)


def commands(rc):
    return [s.get("command") or "" for s in rc["fix"]["steps"]]


def test_not_logged_in(fly):
    fly.state["email"] = None
    r, rep = diagnose(fly, db_url())
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "flyctl.not_authenticated"
    assert "no access token available" in rc["evidence"]["error"]
    assert "fly auth login" in commands(rc)


def test_healthy_through_fly_proxy(fly):
    r, rep = diagnose(fly, db_url(), "--app", "web")
    assert rep["verdict"] == "healthy", json.dumps(rep["steps"], indent=1)
    assert r.returncode == 0
    assert step(rep, "context.where")["outcome"] == "laptop_flyctl"
    plat = step(rep, "flyctl.platform")["evidence"]
    assert plat["roles"] == {"e784079b449483": "primary", "148e2d5b0e3d89": "replica"}
    assert plat["flycast_ips"] == ["fdaa:0:1::5"] and plat["organization"] == "personal"
    px = step(rep, "flyctl.proxy")
    assert px["outcome"] == "ok" and px["evidence"]["remote"] == "[mydb.internal]:5432"
    assert step(rep, "pg.tcp")["evidence"]["attempts"][0]["address"] == "127.0.0.1"
    assert step(rep, "pg.connect")["outcome"] == "ok"
    proxy_call = next(c for c in fly.calls() if c[0] == "proxy")
    assert proxy_call[:5] == ["proxy", "0:5432", "mydb.internal", "-a", "mydb"] and "--watch-stdin" in proxy_call


def test_wrong_password_behind_proxy(fly):
    r, rep = diagnose(fly, db_url(password="not-the-password"), "--app", "web")
    assert r.returncode == 1 and rep["root_cause"]["id"] == "pg.auth_failed"
    assert step(rep, "flyctl.proxy")["outcome"] == "ok"


def test_proxy_port_in_use(fly):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        fly.state["proxy"]["bind_port"] = held.getsockname()[1]
        r, rep = diagnose(fly, db_url())
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "flyctl.proxy_failed"
    assert rc["evidence"]["error_class"] == "port_in_use"
    assert "address already in use" in rc["evidence"]["error"]
    assert "fly proxy 0:5432 mydb.internal -a mydb" in commands(rc)


def test_proxy_tunnel_down(fly):
    fly.state["proxy"]["tunnel_error"] = True
    r, rep = diagnose(fly, db_url())
    rc = rep["root_cause"]
    assert rc["id"] == "flyctl.proxy_failed" and rc["evidence"]["error_class"] == "tunnel_down"
    assert rc["evidence"]["exit_code"] == 1 and not rc["title"].count("Error:")
    assert "fly agent restart" in commands(rc)


async def test_proxy_app_not_found_is_classified(fly):
    """flyctl's own `Could not find App` on stderr, read by the proxy probe."""
    from diagnostics.probes.flyctl import classify_error, error_line, start_proxy

    env = fly.env()
    ctx = types.SimpleNamespace(facts={"flyctl_path": str(Path(env["PATH"].split(os.pathsep)[0]) / "fly")}, env=env)
    px, status, detail = await start_proxy(ctx, 5432, "nodb.internal", "nodb", limit=5)
    await px.aclose()
    assert status == "failed"
    assert error_line(detail) == 'Could not find App "nodb"'
    assert classify_error(detail) == "app_not_found"


def test_app_not_found_via_platform(fly):
    r, rep = diagnose(fly, db_url(host="mydbb.internal"))
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "fly.app_not_found"
    assert rc["evidence"]["apps_existing"] == "web, mydb"


def test_secret_staged(fly):
    fly.state["apps"]["web"]["secrets"] = [secret("DATABASE_URL", "Staged")]
    r, rep = diagnose(fly, db_url(), "--app", "web")
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "fly.secret_not_deployed"
    assert rc["evidence"]["secret_status"] == "Staged"
    assert "fly secrets deploy -a web" in commands(rc)


def test_machines_stopped_named_without_waiting_for_proxy(fly):
    for m in fly.state["apps"]["mydb"]["machines"]:
        m["state"] = "stopped"
    t0 = time.monotonic()
    r, rep = diagnose(fly, db_url())
    assert time.monotonic() - t0 < 3.0
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "fly.machines_stopped"
    assert rep["elapsed_ms"] < 3000
    assert "fly machine start e784079b449483 -a mydb" in commands(rc)
    assert not any(c[0] == "proxy" for c in fly.calls())


def test_flycast_without_private_ip_via_ips_list(fly):
    fly.state["apps"]["mydb"]["ips"] = [ip("2a09:8280:1::3:4b2", type="v6")]
    r, rep = diagnose(fly, db_url(host="mydb.flycast"))
    assert rep["root_cause"]["id"] == "fly.flycast_no_private_ip"
    assert step(rep, "flyctl.platform")["evidence"]["ip_types"] == ["v6"]


def test_flyctl_missing_when_asked_for(fly):
    r, rep = diagnose(fly, db_url(), "--flyctl", "/nonexistent/bin/flyctl")
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "flyctl.missing"
    assert "curl -L https://fly.io/install.sh | sh" in commands(rc)


def test_private_host_without_flyctl():
    r = run_cli("diagnose", "--json", "--database-url", db_url(), env={"PATH": "/usr/bin:/bin"})
    rep = json.loads(r.stdout)
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "fly.private_host_outside_6pn"
    assert step(rep, "context.where")["outcome"] == "laptop"
    cmds = commands(rc)
    assert "fly proxy 15432:5432 mydb.internal -a mydb" in cmds
    assert any(c.startswith("fly wireguard create ") for c in cmds)


def test_no_orphan_proxy_when_the_tool_is_killed(fly, tmp_path):
    """A server that accepts and never answers keeps the walk busy behind the proxy;
    SIGKILL the tool there: --watch-stdin must end the proxy."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    fly.state["apps"]["mydb"]["proxy_targets"] = {"5432": f"127.0.0.1:{silent.getsockname()[1]}"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "FLY_"))}
    env.update(fly.env(), PYTHONPATH=str(ROOT), NO_COLOR="1")
    p = subprocess.Popen(
        [sys.executable, "-m", "tui", "diagnose", "--json", "--database-url", db_url(), "--timeout", "5"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not any(c[0] == "proxy" for c in fly.calls()) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.8)
        assert _fake_pids(fly), "the proxy never started"
        p.kill()
        p.wait(5)
        _assert_no_orphan(fly, wait=3.0)
    finally:
        if p.poll() is None:
            p.kill()
        silent.close()

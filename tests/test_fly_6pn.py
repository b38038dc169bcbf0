"""The Fly layer inside an emulated 6PN: network namespace, real dnsmasq on
fdaa::3, real PostgreSQL on a 6PN address, the walk run as a machine would."""

import json
import os
import shutil
import time

import pytest
from sixpn import BLACKHOLE_IP, FLYCAST_IP, MACHINE_IP, PG_IP, SixPN, machine_env

pytestmark = pytest.mark.timeout(120)

APP_PW = "web-Pass-77x"
# Enough apps that _apps.internal needs several TXT strings and more than 512 bytes:
# the probe must join every string (fly.md §1.4) and retry over TCP when UDP is truncated.
FILLER = [f"tenant-{i:03d}-production-worker" for i in range(30)]
APPS = ["web", "pgdb", "sleepydb", "noflydb", "lostdb", *FILLER]


def _chunks(text: str, size: int = 200) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.fixture(scope="module")
def net():
    if os.geteuid() != 0 or not shutil.which("dnsmasq", path="/usr/sbin:/usr/bin:/sbin:/bin"):
        pytest.skip("the emulated 6PN needs root (network namespaces) and dnsmasq: scripts/setup-test-env")
    six = SixPN(
        aaaa={
            "web.internal": [MACHINE_IP],
            "pgdb.internal": [PG_IP],
            "top2.nearest.of.pgdb.internal": [PG_IP],
            "iad.pgdb.internal": [PG_IP],
            "pgdb.flycast": [FLYCAST_IP],
            "noflydb.internal": [PG_IP],
            "lostdb.internal": [BLACKHOLE_IP],
        },
        txt={
            "_apps.internal": _chunks(",".join(APPS)),
            "vms.pgdb.internal": ["e784079b449483 iad"],
            "all.vms.pgdb.internal": ["e784079b449483 iad"],
            "regions.pgdb.internal": ["iad"],
            "vms.noflydb.internal": ["148e2d5b0e3d89 iad"],
            "all.vms.noflydb.internal": ["148e2d5b0e3d89 iad"],
            # stopped machines appear only under all.vms (fly.md §1.4, F8)
            "all.vms.sleepydb.internal": ["9080e215c0d587 iad,", "2867d5c1f37d18 ord"],
            "vms.lostdb.internal": ["1781e92be67158 iad"],
            "all.vms.lostdb.internal": ["1781e92be67158 iad"],
        },
    )
    try:
        six.start()
        pg = six.start_pg()
        pg.add_role("web", APP_PW)
        pg.psql('CREATE DATABASE web OWNER web')
        yield six
    finally:
        six.close()


def url(host: str, port: int = 5432, password: str = APP_PW, **params) -> str:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return f"postgres://web:{password}@{host}:{port}/web" + (f"?{q}" if q else "")


def diagnose(net, database_url: str, *extra: str, env=None):
    r = net.run_cli("diagnose", "--json", "--symptom", "app-cant-reach-postgres", "--database-url", database_url, *extra, env=env if env is not None else machine_env())
    assert r.stdout, r.stderr
    rep = json.loads(r.stdout)
    assert APP_PW not in r.stdout + r.stderr
    return r, rep


def step(rep, node):
    return next(s for s in rep["steps"] if s["node"] == node)


@pytest.mark.parametrize("host", ["pgdb.internal", "pgdb.flycast", "top2.nearest.of.pgdb.internal"])
def test_healthy_inside_machine(net, host):
    r, rep = diagnose(net, url(host, sslmode="disable"))
    assert rep["verdict"] == "healthy", json.dumps(rep["steps"], indent=1)
    assert r.returncode == 0
    where = step(rep, "context.where")
    assert where["outcome"] == "fly_machine"
    assert where["evidence"]["hosts_fly_local_6pn"] and where["evidence"]["resolv_conf_fdaa_3"]
    dns = step(rep, "fly.dns")
    assert dns["outcome"] == "resolved"
    want = FLYCAST_IP if host.endswith(".flycast") else PG_IP
    tcp = step(rep, "pg.tcp")
    assert tcp["evidence"]["attempts"][0]["address"] == want
    assert step(rep, "pg.connect")["outcome"] == "ok"


def test_sslmode_require_against_tls_less_6pn(net):
    r, rep = diagnose(net, url("pgdb.internal", sslmode="require"))
    assert r.returncode == 1
    assert rep["root_cause"]["id"] == "pg.ssl_required_unsupported"
    cmds = " ".join(s.get("command", "") for s in rep["root_cause"]["fix"]["steps"])
    assert "sslmode=disable" in cmds and "-a web" in cmds


def test_app_not_found_lists_existing_apps(net):
    r, rep = diagnose(net, url("pgdbb.internal", sslmode="disable"))
    assert r.returncode == 1
    rc = rep["root_cause"]
    assert rc["id"] == "fly.app_not_found"
    assert "pgdb" in rc["evidence"]["apps_existing"].split(", ")
    # the joined list ends with the last filler app: every TXT string was read
    assert FILLER[-1] in rc["evidence"]["apps_on_6pn"]
    assert step(rep, "fly.dns")["evidence"]["queries"]["TXT _apps.internal"].endswith("(TCP)")
    assert "pgdb" in rc["fix"]["steps"][0]["text"]


def test_machines_stopped_names_the_machines(net):
    t0 = time.monotonic()
    r, rep = diagnose(net, url("sleepydb.internal", sslmode="disable"))
    assert time.monotonic() - t0 < 10
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "fly.machines_stopped"
    assert rep["elapsed_ms"] < 3000
    assert "9080e215c0d587 (iad)" in rc["evidence"]["stopped_machines"]
    assert "2867d5c1f37d18 (ord)" in rc["evidence"]["stopped_machines"]
    assert rc["evidence"]["stopped_regions"] == "iad, ord"
    cmds = [s.get("command", "") for s in rc["fix"]["steps"]]
    assert "fly machine start 9080e215c0d587 -a sleepydb" in cmds


def test_flycast_without_private_ip(net):
    r, rep = diagnose(net, url("noflydb.flycast", sslmode="disable"))
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "fly.flycast_no_private_ip"
    assert "fly ips allocate-v6 --private -a noflydb" in [s.get("command") for s in rc["fix"]["steps"]]


def test_black_holed_6pn_address_times_out(net):
    t0 = time.monotonic()
    r, rep = diagnose(net, url("lostdb.internal", sslmode="disable"), "--timeout", "1")
    wall = time.monotonic() - t0
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "net.connect_timeout", json.dumps(rep["steps"], indent=1)
    assert step(rep, "pg.tcp")["evidence"]["address"] == BLACKHOLE_IP
    assert step(rep, "pg.tcp")["elapsed_ms"] < 1600
    assert wall < 8


def test_wrong_port_on_6pn(net):
    r, rep = diagnose(net, url("pgdb.internal", port=5433, sslmode="disable"))
    rc = rep["root_cause"]
    assert r.returncode == 1 and rc["id"] == "fly.wrong_port"
    assert rc["evidence"]["open_port"] == 5432
    assert any(":5432/web" in (s.get("command") or "") for s in rc["fix"]["steps"])


def test_resolver_from_wireguard_config(net, tmp_path):
    wg = tmp_path / "peer.conf"
    wg.write_text(f"[Interface]\nPrivateKey = x\nAddress = {MACHINE_IP}/120\nDNS = {'fdaa::3'}\n\n[Peer]\nPublicKey = y\n")
    r, rep = diagnose(net, url("pgdb.flycast", sslmode="disable"), "--wireguard-config", str(wg), env={})
    assert rep["verdict"] == "healthy", json.dumps(rep["steps"], indent=1)
    assert "DNS = line" in step(rep, "fly.dns")["evidence"]["resolver_from"]


def test_explicit_resolver_with_port(net):
    r, rep = diagnose(net, url("sleepydb.internal", sslmode="disable"), "--resolver", "[fdaa::3]:53", env={})
    assert rep["root_cause"]["id"] == "fly.machines_stopped"
    assert step(rep, "fly.dns")["evidence"]["resolver_from"] == "--resolver"

"""`ship` and `fleet` against the stand-in flyctl (tests/fake_flyctl): three
started machines of `shop-web` in three regions, each a network namespace
chrooted into a Python-less Debian root, and one stopped machine. The Postgres
is real, on a 6PN-like address of the host, and is the app `shop-pg` for the
laptop's flyctl (logged in; its `fly proxy` really forwards there); machine syd
has no route to it."""

from __future__ import annotations

import json
import os

import pytest

from conftest import run_cli
from dist_support import debian_root, dist_executable
from fake_flyctl import ip, machine
from fake_flyctl.machines import Fleet
from pgcluster import SUPERPASS, PgCluster, make_tempdir

pytestmark = [pytest.mark.netns, pytest.mark.timeout(600), pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and chroot need root")]

APP = "shop-web"
IAD, LHR, SYD, AMS = "148e4d55f36278", "3d8d9e3ef12e89", "e784e903c1d2e8", "91851edb6ee583"
OTHER, OTHER_M = "shop-worker", "d8901e4a2b3c77"
STALE, STALE_M = "shop-admin", "5683dd4bc15d28"
IDLE, IDLE_M = "shop-cron", "0e286039f42e86"
PG_APP, PG_M = "shop-pg", "7811d30a4e5b28"
LOGS = (
    "2026-11-25T09:14:02.118 app[e784e903c1d2e8] syd [info]ERROR common::errors: Caught error error: Database Timeout (Postgres)\n"
    "2026-11-25T09:14:03.020 app[148e4d55f36278] iad [info]listening on 0.0.0.0:8080\n"
)


@pytest.fixture(scope="module")
def fleet():
    exe = dist_executable()
    root, why = debian_root()
    if root is None:
        pytest.skip(f"no Debian root for the machines: {why}")
    f = Fleet(root, make_tempdir("fcp-fleet-"))
    pg = None
    try:
        pg = PgCluster(listen=f"{f.db_addr},127.0.0.1", name="fleet").init().start()
        url = pg.url(host="shop-pg.flycast", sslmode="disable")
        dns = {"shop-pg.flycast": f.db_addr}
        for mid, region, route in ((IAD, "iad", True), (LHR, "lhr", True), (SYD, "syd", False)):
            f.add_machine(APP, mid, region, {"DATABASE_URL": url}, dns, route_to_db=route)
        f.add_machine(APP, AMS, "ams", {"DATABASE_URL": url}, dns, state="stopped")
        # an app on another organization's 6PN: its resolver has never heard of shop-pg
        f.add_machine(OTHER, OTHER_M, "fra", {"DATABASE_URL": url}, {})
        # an app still running with an old password in its DATABASE_URL
        f.add_machine(IDLE, IDLE_M, "ord", {"DATABASE_URL": url}, dns, state="stopped")
        f.add_machine(STALE, STALE_M, "iad", {"DATABASE_URL": pg.url(host="shop-pg.flycast", password="old-Passw0rd", sslmode="disable")}, dns)
        f.state["apps"][APP]["logs"] = LOGS
        # the database app as the laptop's flyctl sees it: a started primary, a Flycast address, a proxy target
        f.app(PG_APP, machines=[machine(PG_M, private_ip=f.db_addr)], ips=[ip(f.db_addr)], proxy_targets={str(pg.port): f"[{f.db_addr}]:{pg.port}"})
        f.exe, f.pg, f.fly = exe, pg, f.executable()
        f.direct_url = pg.url(host="127.0.0.1", sslmode="disable")  # the laptop's view through `fly proxy`: a loopback port
        yield f
    finally:
        if pg:
            pg.destroy()
        f.destroy()


def _cli(f, *args):
    f.write()  # the stand-in reads the state as a test left it
    return run_cli(*args, "--flyctl", str(f.fly), "--exe", str(f.exe), "--timeout", "2", timeout=120)


def _no_secret(r):
    assert SUPERPASS not in r.stdout + r.stderr
    assert "Traceback" not in r.stderr


def test_ship_runs_the_walk_on_the_machine(fleet):
    r = _cli(fleet, "ship", "-a", APP, "--machine", IAD, "--json", "--database-url", fleet.direct_url)
    _no_secret(r)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["machine"], doc["region"], doc["transfer"]) == (IAD, "iad", "sftp")
    remote = doc["remote"]
    assert remote["verdict"] == "healthy"
    assert remote["context"]["where"] == "fly_machine"  # the walk really ran in the machine
    assert remote["inputs"]["database_url"]["source"] == "env:DATABASE_URL"
    assert {s["node"]: s["status"] for s in remote["steps"]}["pg.connect"] == "pass"
    assert doc["comparison"]["agree"] is True, doc["comparison"]
    assert fleet.files_left() == []  # nothing left behind


def test_ship_text_names_the_machine_and_the_difference(fleet):
    r = _cli(fleet, "ship", "-a", APP, "--machine", SYD, "--database-url", fleet.direct_url)
    _no_secret(r)
    assert r.returncode == 1, r.stderr
    assert f"seen from {APP}'s machine {SYD} in syd" in r.stdout
    assert "net.connect_timeout" in r.stdout
    assert "DIFFER" in r.stdout and "network path" in r.stdout
    assert fleet.files_left() == []


def test_ship_laptop_reaches_the_flycast_name_through_fly_proxy(fleet):
    """A laptop whose flyctl is logged in reaches the .flycast URL through `fly proxy`:
    both vantage points reach Postgres and agree."""
    url = fleet.pg.url(host="shop-pg.flycast", sslmode="disable")
    r = _cli(fleet, "ship", "-a", APP, "--machine", LHR, "--json", "--database-url", url)
    _no_secret(r)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["remote"]["verdict"] == "healthy" and doc["local"]["verdict"] == "healthy", doc["local"].get("root_cause")
    local = {s["node"]: s for s in doc["local"]["steps"]}
    assert local["context.where"]["outcome"] == "laptop_flyctl" and local["flyctl.proxy"]["outcome"] == "ok"
    port = fleet.pg.port  # the URL's port: the test cluster's
    assert local["flyctl.proxy"]["evidence"]["remote"] == f"[shop-pg.flycast]:{port}"
    assert any(c[:5] == ["proxy", f"0:{port}", "shop-pg.flycast", "-a", PG_APP] for c in fleet.calls())
    assert {s["node"]: s["outcome"] for s in doc["remote"]["steps"]}["fly.dns"] == "resolved"  # the machine asks its 6PN resolver
    cmp = doc["comparison"]
    assert (cmp["agree"], cmp["where"], cmp["cause"]) == (True, "both", None)
    # the local walk read the app's logs through flyctl
    assert [m["id"] for m in local["logs.scan"]["evidence"]["matches"]] == ["convex.db_timeout"]


def test_ship_laptop_whose_fly_proxy_fails(fleet):
    """The machine reaches Postgres; the laptop's `fly proxy` cannot open its tunnel:
    the difference is on this side, the app is fine."""
    fleet.state["proxy"]["tunnel_error"] = True
    try:
        r = _cli(fleet, "ship", "-a", APP, "--machine", LHR, "--json", "--database-url", fleet.pg.url(host="shop-pg.flycast", sslmode="disable"))
    finally:
        fleet.state["proxy"]["tunnel_error"] = False
        fleet.write()
    _no_secret(r)
    doc = json.loads(r.stdout)
    assert doc["remote"]["verdict"] == "healthy"
    rc = doc["local"]["root_cause"]
    assert (rc["id"], rc["evidence"]["error_class"]) == ("flyctl.proxy_failed", "tunnel_down")
    cmp = doc["comparison"]
    assert (cmp["agree"], cmp["where"], cmp["cause"]) == (False, "local", "flyctl.proxy_failed")
    assert "The app itself is fine" in cmp["explanation"]
    # the app's logs, read through flyctl, are kept as evidence of the local verdict
    assert [m["id"] for m in rc["evidence"]["logs"]["matches"]] == ["convex.db_timeout"]


def test_ship_streams_when_sftp_is_unavailable_and_keeps_on_request(fleet):
    fleet.state["ssh"]["sftp"] = False
    try:
        r = _cli(fleet, "ship", "-a", APP, "--machine", IAD, "--json", "--keep", "--no-local")
    finally:
        fleet.state["ssh"]["sftp"] = True
        fleet.write()
    _no_secret(r)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["transfer"] == "stream" and doc["local"] is None
    left = fleet.files_left()
    assert len(left) == 1 and os.access(left[0], os.X_OK) and "kept at /tmp/fcp-doctor-" in r.stderr
    os.unlink(left[0])


def test_ship_refuses_a_stopped_machine(fleet):
    r = _cli(fleet, "ship", "-a", APP, "--machine", AMS)
    assert r.returncode == 3
    assert r.stderr.strip().splitlines()[-1] == f"fcp-doctor: machine {AMS} of {APP} is stopped, not started: `fly machine start {AMS} -a {APP}`"


def test_fleet_puts_the_odd_machine_first(fleet):
    r = _cli(fleet, "fleet", "-a", APP, "--json", "--parallel", "2")
    _no_secret(r)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    rows = doc["machines"]
    assert [row["machine"] for row in rows][0] == SYD and len(rows) == 3  # the stopped one is not walked
    first, rest = rows[0], rows[1:]
    assert (first["region"], first["verdict"], first["cause"], first["agrees"]) == ("syd", "root_cause", "net.connect_timeout", False)
    assert {(x["region"], x["verdict"], x["agrees"]) for x in rest} == {("iad", "healthy", True), ("lhr", "healthy", True)}
    assert all(x["pg_rtt_ms"] is not None and x["pg_rtt_ms"] >= 0 for x in rest) and first["pg_rtt_ms"] is None
    assert doc["majority"] == {"verdict": "healthy", "cause": None, "machines": 2}
    assert set(doc["reports"]) == {IAD, LHR, SYD}
    assert fleet.files_left() == []


def test_fleet_table_text(fleet):
    r = _cli(fleet, "fleet", "-a", APP)
    _no_secret(r)
    lines = r.stdout.splitlines()
    header = next(i for i, ln in enumerate(lines) if "Postgres RTT" in ln)
    assert lines[header + 1].startswith(f"! {SYD}") and "net.connect_timeout" in lines[header + 1]
    assert all(ln.startswith("  ") and "healthy" in ln for ln in lines[header + 2 : header + 4])


def test_ship_pty_runs_the_wizard_there(fleet):
    """--pty hands the terminal to the wizard on the machine; with no terminal it is the line mode."""
    r = run_cli("ship", "-a", APP, "--machine", SYD, "--pty", "--flyctl", str(fleet.fly), "--exe", str(fleet.exe), "--timeout", "2", input="", timeout=120)
    _no_secret(r)
    assert r.returncode == 1, r.stderr
    assert "inside Fly machine e784e903c1d2e8 of shop-web (syd)" in r.stdout
    assert "FAIL" in r.stdout and "net.connect_timeout" in r.stdout
    assert fleet.files_left() == []


def test_machine_that_cannot_resolve_the_flycast_name(fleet):
    """From here Postgres answers (through `fly proxy`); the machine's 6PN resolver
    answers NXDOMAIN for shop-pg.flycast and knows no app shop-pg: the app lives on another network."""
    r = _cli(fleet, "ship", "-a", OTHER, "--json", "--database-url", fleet.direct_url)
    _no_secret(r)
    doc = json.loads(r.stdout)
    dns = next(s for s in doc["remote"]["steps"] if s["node"] == "fly.dns")
    assert (dns["status"], dns["outcome"]) == ("fail", "app_not_found")
    assert dns["evidence"]["queries"]["AAAA shop-pg.flycast"] == "nxdomain"
    assert doc["remote"]["root_cause"]["id"] == "fly.app_not_found"
    assert doc["local"]["verdict"] == "healthy"
    cmp = doc["comparison"]
    assert (cmp["agree"], cmp["where"], cmp["cause"]) == (False, "machine", "fly.app_not_found")
    assert "cannot resolve shop-pg.flycast" in cmp["explanation"]


def test_machine_with_another_password(fleet):
    """Your URL logs in; the machine's does not: it runs with another DATABASE_URL."""
    r = _cli(fleet, "ship", "-a", STALE, "--json", "--database-url", fleet.direct_url)
    _no_secret(r)
    assert "old-Passw0rd" not in r.stdout + r.stderr
    doc = json.loads(r.stdout)
    assert doc["remote"]["root_cause"]["id"] == "pg.auth_failed"
    cmp = doc["comparison"]
    assert (cmp["agree"], cmp["where"], cmp["cause"]) == (False, "machine", "fly.secret_not_deployed")


def test_ship_with_an_older_flyctl_without_sftp_mode(fleet):
    fleet.state["ssh"]["sftp_mode_flag"] = False
    try:
        r = _cli(fleet, "ship", "-a", APP, "--machine", LHR, "--json", "--no-local")
    finally:
        fleet.state["ssh"]["sftp_mode_flag"] = True
        fleet.write()
    _no_secret(r)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["transfer"] == "sftp" and doc["remote"]["verdict"] == "healthy"
    assert fleet.files_left() == []


def test_fleet_bounds_each_machine(fleet):
    """A machine whose session never returns is cut at --machine-timeout; the others still report."""
    m = fleet.machine_ssh(LHR)
    m["stuck"] = True
    try:
        import time

        t0 = time.monotonic()
        r = _cli(fleet, "fleet", "-a", APP, "--json", "--machine-timeout", "4")
        took = time.monotonic() - t0
    finally:
        m["stuck"] = False
        fleet.write()
    _no_secret(r)
    doc = json.loads(r.stdout)
    rows = {x["machine"]: x for x in doc["machines"]}
    assert rows[LHR]["verdict"] == "error" and "no answer within 4 s" in rows[LHR]["title"]
    assert rows[IAD]["verdict"] == "healthy" and rows[SYD]["cause"] == "net.connect_timeout"
    assert took < 30
    assert fleet.files_left() == []


def test_app_with_no_started_machine(fleet):
    for cmd in ("ship", "fleet"):
        r = _cli(fleet, cmd, "-a", IDLE)
        assert r.returncode == 3, r.stderr
        assert r.stderr.strip().splitlines()[-1].startswith(f"fcp-doctor: app {IDLE} has no started machine")
        assert "Traceback" not in r.stderr and r.stdout == ""


def test_ship_in_the_wizard_replays_the_machines_own_recording(fleet, monkeypatch):
    """On a terminal, `ship` shows the machine's walk in the wizard: the machine
    records it (redacted), the recording comes back and replays through the local
    engine to the machine's verdict; nothing is left on the machine."""
    import asyncio

    from diagnostics import recording
    from diagnostics.engine import Engine
    from tui import remote as remote_cli
    from tui import cli as tui_cli

    fleet.write()
    shown = {}

    def fake_wizard(args, ctx, runner=None, title=""):
        shown["report"] = asyncio.run(Engine(ctx, args.symptom, runner=runner).run())
        shown["title"] = title
        return shown["report"].exit_code

    monkeypatch.setattr(remote_cli, "wizard_wanted", lambda args: True)
    monkeypatch.setattr(tui_cli, "run_wizard", fake_wizard)
    code = tui_cli.main(["ship", "-a", APP, "--machine", SYD, "--no-local", "--flyctl", str(fleet.fly), "--exe", str(fleet.exe), "--timeout", "2"])
    assert code == 1
    assert shown["title"] == f"seen from {APP}'s machine {SYD} in syd"
    rep = shown["report"]
    assert rep.root_cause.id == "net.connect_timeout"
    assert not [s for s in rep.steps if s.outcome == "not_recorded"]
    assert SUPERPASS not in json.dumps(rep.to_json())
    assert fleet.files_left() == []
    # the same recording, as the machine wrote it, parses as a recording
    from diagnostics.remote.ship import pick_machine, list_machines, run_on_machine

    m = pick_machine(asyncio.run(list_machines(str(fleet.fly), APP, 30)), APP, SYD)
    run = asyncio.run(run_on_machine(str(fleet.fly), APP, m, fleet.exe, ["--timeout", "2"], 60, want_recording=True))
    rec = recording.parse(run.recording)
    assert rec.steps and run.report["root_cause"]["id"] == "net.connect_timeout"
    assert SUPERPASS not in json.dumps(run.recording)
    assert fleet.files_left() == []

"""The outside of the program: the JSON document, import hygiene, the catalog,
record and replay."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import APP_PASSWORD, ROOT, assert_cause, diagnose, run_cli
from pgcluster import SUPERPASS, SUPERUSER

SECRETS = (APP_PASSWORD, SUPERPASS)
STATUSES = {"pass", "warn", "fail", "skipped", "crashed"}

# root-causes.md, the config, net and pg layers and the Postgres warnings
CONFIG_NET_PG_IDS = {
    "config.database_url_missing", "config.database_url_invalid", "config.fly_toml_invalid", "config.convex_url_invalid",
    "net.dns_not_found", "net.connection_refused", "net.connect_timeout",
    "pg.ssl_required_unsupported", "pg.ssl_verify_failed", "pg.hba_rejected", "pg.auth_failed", "pg.password_missing",
    "pg.database_missing", "pg.too_many_connections", "pg.read_only_replica", "pg.read_only_database",
    "pg.server_starting", "pg.handshake_timeout", "pg.pooler_prepared_statements",
    "pg.high_latency", "pg.connections_near_limit", "pg.superuser_app_role",
}  # fmt: skip

# root-causes.md ids the program does not detect yet. An id leaves this list in
# the change that adds its detection, its catalog entry and its test; the list
# ends empty.
SPEC_IDS_NOT_YET_DETECTED = {
    # Fly Postgres and the platform as they really are
    "fly.flycast_name_invalid", "fly.pg_no_primary", "fly.pg_oom_killed", "fly.proxy_no_healthy_machine",
    "fly.service_ipv4_only", "fly.client_ipv4_only", "pg.idle_connections_dropped",
    # the slow-queries track
    "slow.region_distance", "slow.connection_per_call", "slow.missing_index", "slow.lock_contention",
    "slow.idle_in_transaction", "slow.pool_saturated", "slow.memory_pressure", "slow.vacuum_behind",
    "slow.replica_lag", "slow.statistics_unavailable",
}  # fmt: skip


def check_diagnosis(d: dict, with_severity: bool) -> None:
    keys = {"id", "layer", "title", "explanation", "evidence", "fix", "docs"} | ({"severity"} if with_severity else set())
    assert keys <= set(d), d.keys()
    assert d["layer"] == d["id"].split(".")[0]
    assert d["title"] and d["explanation"] and "<" not in d["title"]
    assert isinstance(d["evidence"], dict) and d["evidence"]
    assert d["fix"]["summary"]
    assert d["fix"]["steps"], "a fix without steps"
    for s in d["fix"]["steps"]:
        assert set(s) <= {"text", "command"} and s["text"]
        if "command" in s:
            assert isinstance(s["command"], str) and s["command"]
    assert isinstance(d["docs"], list)
    if with_severity:
        assert d["severity"] in ("warning", "error")


def check_report(r: dict) -> None:
    for key in ("schema", "version", "verdict", "root_cause", "findings", "steps", "not_run", "inputs", "elapsed_ms"):
        assert key in r, key
    assert r["schema"] == "fcp-doctor.diagnosis/1"
    assert r["verdict"] in ("healthy", "root_cause", "inconclusive")
    assert isinstance(r["elapsed_ms"], int)
    assert (r["root_cause"] is None) == (r["verdict"] != "root_cause")
    if r["root_cause"]:
        check_diagnosis(r["root_cause"], with_severity=False)
    for f in r["findings"]:
        check_diagnosis(f, with_severity=True)
    assert r["steps"]
    for s in r["steps"]:
        assert {"node", "title", "probe", "outcome", "status", "elapsed_ms", "evidence"} <= set(s)
        assert s["status"] in STATUSES
        assert isinstance(s["elapsed_ms"], int) and isinstance(s["evidence"], dict)
    for n in r["not_run"]:
        assert n["node"] and n["reason"]
    assert not {s["node"] for s in r["steps"]} & {n["node"] for n in r["not_run"]}
    for name, v in r["inputs"].items():
        assert set(v) == {"value", "source"}, name


def test_json_contract_healthy_with_findings(pg):
    d = diagnose(pg.url(SUPERUSER, SUPERPASS), secrets=SECRETS)
    check_report(d.report)
    assert d.report["verdict"] == "healthy" and d.rc == 0
    assert d.report["findings"] and d.report["findings"][0]["id"] == "pg.superuser_app_role"
    assert d.report["inputs"]["database_url"]["source"] == "env:DATABASE_URL"
    assert d.seconds < 5


def test_json_contract_root_cause(pg):
    d = diagnose(pg.url("app", APP_PASSWORD, "nosuchdb"), "--app", "myapp", "--pg-app", "mypg", secrets=SECRETS)
    check_report(d.report)
    assert_cause(d, "pg.database_missing")
    commands = [s.get("command", "") for s in d.report["root_cause"]["fix"]["steps"]]
    assert any("fly pg connect -a mypg" in c for c in commands), commands
    assert "pg.session" in {n["node"] for n in d.report["not_run"]}


def test_diagnose_never_imports_textual(pg):
    code = (
        "import sys, contextlib, io\n"
        "from tui.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    rc = main(['diagnose', '--json'])\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(rc, bad)\n"
    )
    env = {"DATABASE_URL": pg.url("app", APP_PASSWORD, "appdb"), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0 []", r.stdout + r.stderr


def test_causes_json_lists_the_catalog():
    r = run_cli("causes", "--json")
    assert r.returncode == 0
    rows = json.loads(r.stdout)["causes"]
    ids = {row["id"] for row in rows}
    assert CONFIG_NET_PG_IDS <= ids, CONFIG_NET_PG_IDS - ids
    for row in rows:
        assert row["layer"] == row["id"].split(".")[0] and row["title"]
    spec = Path(__file__).resolve().parents[2] / "shared" / "spec" / "root-causes.md"
    if spec.exists():  # the contract beside the checkout, when present: every id, no other
        import re

        spec_ids = set(re.findall(r"^\| `([a-z_]+\.[a-z_0-9]+)` \|", spec.read_text(), re.M))
        assert len(spec_ids) > 40
        assert ids <= spec_ids, ids - spec_ids
        assert spec_ids - ids == SPEC_IDS_NOT_YET_DETECTED, (spec_ids - ids) ^ SPEC_IDS_NOT_YET_DETECTED


@pytest.mark.parametrize("case", ["healthy", "missing-db", "bad-url"])
def test_record_then_replay_gives_the_same_walk(pg, tmp_path, case):
    url = {
        "healthy": pg.url("app", APP_PASSWORD, "appdb"),
        "missing-db": pg.url("app", APP_PASSWORD, "nosuchdb"),
        "bad-url": f"postgres://app:{APP_PASSWORD}@x@127.0.0.1/appdb",
    }[case]
    rec = tmp_path / "walk.json"
    live = run_cli("diagnose", "--json", "--record", str(rec), env={"DATABASE_URL": url})
    text = rec.read_text()
    for s in SECRETS:
        assert s not in text and s not in live.stdout
    replay = run_cli("replay", str(rec), "--json")
    assert replay.returncode == live.returncode, replay.stderr
    a, b = json.loads(live.stdout), json.loads(replay.stdout)
    assert APP_PASSWORD not in replay.stdout
    for key in ("verdict", "root_cause", "findings", "not_run", "inputs"):
        assert a[key] == b[key], key
    strip = lambda steps: [{k: v for k, v in s.items() if k != "elapsed_ms"} for s in steps]  # noqa: E731
    assert strip(a["steps"]) == strip(b["steps"])
    plain = run_cli("replay", str(rec), "--speed", "0")
    assert plain.returncode == live.returncode
    assert "Verdict:" in plain.stdout


def test_replay_of_a_broken_file_is_a_usage_error(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    r = run_cli("replay", str(bad))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_plain_mode_lines(pg):
    r = run_cli("diagnose", "--plain", env={"DATABASE_URL": pg.url("app", APP_PASSWORD, "nosuchdb")})
    assert r.returncode == 1
    assert APP_PASSWORD not in r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith("PASS  Does anything accept TCP") for line in lines)
    assert any(line.startswith("FAIL  Can we log in as app to database nosuchdb") for line in lines)
    assert "pg.database_missing" in r.stdout and "$ fly pg connect" in r.stdout


@pytest.mark.parametrize(
    "args",
    [["--timeout", "0"], ["--timeout", "abc"], ["--symptom", "bogus"], ["--no-such-flag"]],
    ids=["timeout-zero", "timeout-text", "unknown-symptom", "unknown-flag"],
)
def test_usage_errors_are_one_line_and_exit_2(args):
    r = run_cli("diagnose", "--json", "--database-url", f"postgres://app:{APP_PASSWORD.replace('#', '')}@127.0.0.1:1/db", *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stderr.startswith("fcp-doctor: ")
    assert APP_PASSWORD.replace("#", "") not in r.stderr


def test_postgres_tree_is_whole():
    """Every config/net/pg cause is a target of the tree, and no pg/net/config node dangles."""
    from diagnostics import tree

    problems = [p for p in tree.validate() if any(k in p for k in ("node pg.", "node net.", "node config.", "node context."))]
    assert problems == []
    targets = {t[6:] for n in tree.load().values() for t in n.branches.values() if t.startswith("cause:")}
    errors = {i for i in CONFIG_NET_PG_IDS if i not in ("pg.high_latency", "pg.connections_near_limit", "pg.superuser_app_role")}
    assert errors - {"config.convex_url_invalid"} <= targets, errors - targets

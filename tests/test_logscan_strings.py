"""Logs as evidence: recorded `fly logs --no-tail` text (flyctl's line format:
`<time> <provider>[<instance>] <region> [<level>] <message>`) with every known
failure string of the fact sheets, and the probe end to end through the
stand-in flyctl."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from diagnostics import causes, logscan
from fake_flyctl import FakeFly

# one recorded line per pattern: (expected id, line)
RECORDED = [
    ("convex.url_has_db", "2026-11-25T09:00:01.101 app[e784e903c1d2e8] iad [info]ERROR common::errors: Caught error error (RUST_BACKTRACE=1 RUST_LOG=info,common::errors=debug for full trace): cluster url already contains db name: /shop"),
    ("convex.url_no_user", "2026-11-25T09:00:02.102 app[e784e903c1d2e8] iad [info]Error: cluster url username must be set"),
    ("convex.url_invalid", "2026-11-25T09:00:03.103 app[e784e903c1d2e8] iad [info]Error: invalid postgres connection url: invalid value for option `sslmode`"),
    ("convex.no_tls", "2026-11-25T09:00:04.104 app[e784e903c1d2e8] iad [info]Error: error performing TLS handshake: server does not support TLS"),
    ("convex.db_timeout", "2026-11-25T09:00:05.105 app[e784e903c1d2e8] iad [info]Error: Database Timeout (Postgres)"),
    ("convex.refused", "2026-11-25T09:00:06.106 app[e784e903c1d2e8] iad [info]Error: error connecting to server: Connection refused (os error 111)"),
    ("convex.lookup", "2026-11-25T09:00:07.107 app[e784e903c1d2e8] iad [info]Error: error connecting to server: failed to lookup address information: Name or service not known"),
    ("convex.read_only", "2026-11-25T09:00:08.108 app[e784e903c1d2e8] iad [info]Error: error connecting to server: database does not allow writes"),
    ("convex.db_missing", "2026-11-25T09:00:09.109 app[e784e903c1d2e8] iad [info]Error: db error: FATAL: database \"convex_self_hosted\" does not exist"),
    ("convex.lease", "2026-11-25T09:00:10.110 app[e784e903c1d2e8] iad [info]Error: failed to acquire lease: Already acquired with higher timestamp"),
    ("convex.database_url_deprecated", "2026-11-25T09:00:11.111 app[e784e903c1d2e8] iad [info]Warning: DATABASE_URL is deprecated. Please use POSTGRES_URL for PostgreSQL or MYSQL_URL for MySQL connections instead."),
    ("convex.connected", "2026-11-25T09:00:12.112 app[e784e903c1d2e8] iad [info]INFO db_connection: Connected to Postgres database: convex-self-hosted"),
    ("pg.auth_failed", "2026-11-25T09:00:13.113 app[148e4d55f36278] lhr [info]psycopg.OperationalError: connection failed: FATAL:  password authentication failed for user \"shop\""),
    ("pg.too_many", "2026-11-25T09:00:14.114 app[148e4d55f36278] lhr [info]FATAL:  sorry, too many clients already"),
    ("pg.db_missing", "2026-11-25T09:00:15.115 app[148e4d55f36278] lhr [info]FATAL:  database \"shop_prod\" does not exist"),
    ("flex.readonly", "2026-11-25T09:00:16.116 app[5683dd4bc15d28] ord [info]monitor  | Voting member(s): 1, Active: 1, Inactive: 0, Conflicts: 0 | 92.4% - readonly mode enabled, extend your volume to re-enable writes"),
    ("flex.zombie", "2026-11-25T09:00:17.117 app[5683dd4bc15d28] ord [info]failed post-init: [WARN] Zombie lock detected!"),
    ("flex.operator_password", "2026-11-25T09:00:18.118 app[5683dd4bc15d28] ord [info][WARN] `postgres` user password does not match the `OPERATOR_PASSWORD` secret"),
    ("flex.scale_to_zero", "2026-11-25T09:00:19.119 app[5683dd4bc15d28] ord [info]Current connection count is 1"),
    ("proxy.no_candidate", "2026-11-25T09:00:20.120 proxy[e784e903c1d2e8] iad [error]could not find a good candidate within 90 attempts at load balancing"),
    ("proxy.no_healthy", "2026-11-25T09:00:21.121 proxy[e784e903c1d2e8] iad [error]error.code=\"PR04\" error.message=\"no candidate machines found after retries\""),
    ("proxy.wake", "2026-11-25T09:00:22.122 proxy[e784e903c1d2e8] iad [error]error.code=\"PM03\" error.message=\"machine wake timeout\""),
    ("proxy.refused", "2026-11-25T09:00:23.123 proxy[e784e903c1d2e8] iad [error]error.code=\"PC01\" error.message=\"machine refused connection on port 8080\""),
    ("proxy.timeout", "2026-11-25T09:00:24.124 proxy[e784e903c1d2e8] iad [error]error.code=\"PC05\" error.message=\"connection timed out\""),
    ("convex.origin_scheme", "2026-11-25T09:00:25.125 app[e784e903c1d2e8] iad [info]Error: Origin url should start with https:// or http:// but got 'my-backend.fly.dev'"),
]


def test_every_known_string_is_found():
    found = logscan.scan("\n".join(line for _, line in RECORDED))
    assert [m["id"] for m in found] == [pid for pid, _ in RECORDED]
    assert {p.id for p in logscan.PATTERNS} == {pid for pid, _ in RECORDED}  # no pattern without a recorded line


@pytest.mark.parametrize("pid,line", RECORDED, ids=[pid for pid, _ in RECORDED])
def test_each_line_alone(pid, line):
    (m,) = logscan.scan(line + "\n")
    assert m["id"] == pid and m["count"] == 1
    ts, inst_region = line.split(" ", 1)
    assert m["first_seen"] == ts and m["regions"] == [line.split(" ")[2]]
    assert m["instances"] == [inst_region.split("[", 1)[1].split("]", 1)[0]]


# cause ids of the contract (root-causes.md) that the logs point at; each layer adds its own to the catalog
CONTRACT_IDS = {
    "config.database_url_invalid", "convex_self.postgres_url_has_database", "convex_self.ssl_required_unsupported",
    "convex_self.instance_database_missing", "convex_self.target_read_only", "net.connect_timeout", "net.connection_refused",
    "net.dns_not_found", "pg.auth_failed", "pg.too_many_connections", "pg.database_missing", "pg.read_only_database",
    "fly.machines_stopped",
}


def test_causes_named_are_contract_ids():
    cat = causes.load_all()
    for p in logscan.PATTERNS:
        assert p.cause == "" or p.cause in cat or p.cause in CONTRACT_IDS, p.id


def test_near_misses_do_not_match():
    text = "\n".join(
        [
            "2026-11-25T09:00:16.116 app[5683dd4bc15d28] ord [info]82.0% - readonly mode will be enabled at 90.0%",
            "2026-11-25T09:00:16.117 app[5683dd4bc15d28] ord [info]request to /PR04-report done",  # a path, not a proxy code
            "2026-11-25T09:00:16.118 app[5683dd4bc15d28] ord [info]Postgres connection pool max size 128",
        ]
    )
    assert logscan.scan(text) == []


def test_counts_colour_and_secrets():
    secret_line = "2026-11-25T09:01:00.000 app[e784e903c1d2e8] iad [info]\x1b[31mError\x1b[0m: could not use postgres://shop:hunter2-Secret@shop-pg.flycast:5432/shop: server does not support TLS"
    lines = [secret_line] * 5
    (m,) = logscan.scan("\n".join(lines))
    assert m["count"] == 5 and len(m["examples"]) == logscan.MAX_EXAMPLES
    assert "hunter2-Secret" not in json.dumps(m) and "\x1b" not in m["examples"][0]


def test_verdict_evidence_puts_the_agreeing_match_first():
    found = logscan.scan("\n".join(line for pid, line in RECORDED if pid in ("proxy.wake", "convex.no_tls", "convex.connected")))
    ev = logscan.for_verdict(found, "convex_self.ssl_required_unsupported")
    assert ev["agrees"] is True and ev["matches"][0]["id"] == "convex.no_tls"
    assert logscan.for_verdict(found, "pg.auth_failed")["agrees"] is False


# ------------------------------------------------------------------ the probe, through the stand-in flyctl


def _fly(tmp_path, logs: dict[str, str]):
    f = FakeFly(tmp_path)
    for app, text in logs.items():
        f.app(app, logs=text)
    return f.executable()


def test_logs_attach_to_the_verdict(pg, tmp_path):
    fly = _fly(tmp_path, {"shop-web": RECORDED[12][1] + "\n" + RECORDED[19][1] + "\n"})
    r = run_cli("diagnose", "--json", "--app", "shop-web", "--flyctl", str(fly), "--database-url", pg.url(password="wrong-pw-1"), "--timeout", "3")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["root_cause"]["id"] == "pg.auth_failed"
    logs = doc["root_cause"]["evidence"]["logs"]
    assert logs["agrees"] is True
    assert [m["id"] for m in logs["matches"]] == ["pg.auth_failed", "proxy.no_candidate"]
    step = next(s for s in doc["steps"] if s["node"] == "logs.scan")
    assert step["status"] == "warn" and "2 known failure(s)" in step["summary"]


def test_clean_logs_keep_a_healthy_verdict(pg, tmp_path):
    fly = _fly(tmp_path, {"shop-web": RECORDED[11][1] + "\n"})
    r = run_cli("diagnose", "--json", "--app", "shop-web", "--flyctl", str(fly), "--database-url", pg.url(), "--timeout", "3", "--symptom", "app-cant-reach-postgres")
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(r.stdout)
    step = next(s for s in doc["steps"] if s["node"] == "logs.scan")
    assert (step["outcome"], step["status"]) == ("clean", "pass")


def test_flyctl_error_is_a_skipped_step(pg, tmp_path):
    fly = _fly(tmp_path, {})
    r = run_cli("diagnose", "--json", "--app", "no-such-app", "--flyctl", str(fly), "--database-url", pg.url(), "--timeout", "3", "--symptom", "app-cant-reach-postgres")
    doc = json.loads(r.stdout)
    step = next(s for s in doc["steps"] if s["node"] == "logs.scan")
    assert (step["outcome"], step["status"]) == ("unavailable", "skipped")
    assert 'Error: Could not find App "no-such-app"' in step["summary"]  # flyctl's wording (fly.md §2.3)
    assert r.returncode == 0

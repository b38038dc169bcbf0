"""Connection slots and the warnings: real held connections, a real delay."""

import pytest
from conftest import APP_PASSWORD, assert_cause, diagnose
from delay_proxy import DelayProxy
from pgcluster import SUPERPASS, SUPERUSER, PgCluster, close_all, hold_connections

SECRETS = (APP_PASSWORD, SUPERPASS)


@pytest.fixture(scope="module")
def small():
    """max_connections 10, 2 reserved for superusers: 8 usable slots."""
    c = PgCluster(name="small", conf={"max_connections": "10", "superuser_reserved_connections": "2"}).init().start()
    try:
        c.add_role("app", APP_PASSWORD)
        yield c
    finally:
        c.destroy()


def finding_ids(d):
    return [f["id"] for f in d.report["findings"]]


def test_only_reserved_slots_left(small):
    held = hold_connections(small.url("app", APP_PASSWORD), 8)
    try:
        d = diagnose(small.url("app", APP_PASSWORD), secrets=SECRETS)
    finally:
        close_all(held)
    assert_cause(d, "pg.too_many_connections")
    assert "remaining connection slots are reserved" in d.report["root_cause"]["evidence"]["error"]


def test_every_slot_taken(small):
    held = hold_connections(small.url("app", APP_PASSWORD), 8) + hold_connections(small.url(), 2)
    try:
        d = diagnose(small.url("app", APP_PASSWORD), secrets=SECRETS)
    finally:
        close_all(held)
    assert_cause(d, "pg.too_many_connections")
    assert "too many clients already" in d.report["root_cause"]["evidence"]["error"]


def test_connections_near_limit(small):
    held = hold_connections(small.url("app", APP_PASSWORD), 6)
    try:
        d = diagnose(small.url("app", APP_PASSWORD), secrets=SECRETS)
        slow = diagnose(small.url("app", APP_PASSWORD), "--symptom", "slow-queries", secrets=SECRETS)
    finally:
        close_all(held)
    assert d.report["verdict"] == "healthy" and d.rc == 0, d.report["steps"]
    assert "pg.connections_near_limit" in finding_ids(d)
    f = next(f for f in d.report["findings"] if f["id"] == "pg.connections_near_limit")
    assert f["severity"] == "warning"
    assert f["title"] == "7 of 8 connection slots in use"
    assert d.step("pg.session")["status"] == "warn"
    # the slow-queries symptom makes the worst warning the verdict
    assert_cause(slow, "pg.connections_near_limit")


def test_superuser_app_role(pg):
    d = diagnose(pg.url(SUPERUSER, SUPERPASS), secrets=SECRETS)
    assert d.report["verdict"] == "healthy" and d.rc == 0
    assert "pg.superuser_app_role" in finding_ids(d)
    slow = diagnose(pg.url(SUPERUSER, SUPERPASS), "--symptom", "slow-queries", secrets=SECRETS)
    assert_cause(slow, "pg.superuser_app_role")


def test_high_latency(pg):
    with DelayProxy(pg.host, pg.port, 0.015) as relay:  # 30 ms a round trip
        url = pg.url("app", APP_PASSWORD, "appdb", port=relay.port)
        d = diagnose(url, secrets=SECRETS)
        slow = diagnose(url, "--symptom", "slow-queries", secrets=SECRETS)
    assert d.report["verdict"] == "healthy" and d.rc == 0, d.report["steps"]
    assert "pg.high_latency" in finding_ids(d)
    assert d.step("pg.session")["evidence"]["latency_ms"] >= 20
    assert_cause(slow, "pg.high_latency")


def test_slow_queries_with_nothing_wrong(pg):
    d = diagnose(pg.url("app", APP_PASSWORD, "appdb"), "--symptom", "slow-queries", secrets=SECRETS)
    assert d.report["verdict"] == "healthy" and d.rc == 0


def test_last_usable_slot_is_ours(small):
    """7 held + ours = every usable slot: the pooler check cannot open its second
    connection and says so, instead of failing the walk."""
    held = hold_connections(small.url("app", APP_PASSWORD), 7)
    try:
        d = diagnose(small.url("app", APP_PASSWORD), secrets=SECRETS)
    finally:
        close_all(held)
    assert d.report["verdict"] == "healthy" and d.rc == 0, d.report["steps"]
    assert "pg.connections_near_limit" in finding_ids(d)
    pooler = d.step("pg.pooler")
    assert (pooler["outcome"], pooler["status"]) == ("no_second_connection", "skipped")
    assert "remaining connection slots are reserved" in pooler["evidence"]["error"]

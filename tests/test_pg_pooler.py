"""A real PgBouncer (Debian package) in front of the session cluster."""

import pytest
from conftest import APP_PASSWORD, assert_cause, diagnose
from pgcluster import SUPERPASS, PgBouncer

SECRETS = (APP_PASSWORD, SUPERPASS)


@pytest.fixture(scope="module", params=["transaction", "session"])
def bouncer(request, pg):
    b = PgBouncer(pg, {"app": APP_PASSWORD}, pool_mode=request.param, db="appdb").start()
    try:
        yield b
    finally:
        b.stop()


@pytest.mark.parametrize("run", [1, 2, 3])
def test_pooler(bouncer, run):
    """The same pool, walked again and again: what an earlier walk prepared on a
    pooled server connection must not change the answer."""
    d = diagnose(bouncer.url("app", APP_PASSWORD), secrets=SECRETS)
    step = d.step("pg.pooler")
    if bouncer.pool_mode == "transaction":
        assert_cause(d, "pg.pooler_prepared_statements")
        assert step["outcome"] == "prepared_broken"
        assert "does not exist" in d.report["root_cause"]["evidence"]["error"]
    else:
        assert d.report["verdict"] == "healthy", d.report["steps"]
        assert d.rc == 0
        assert step["outcome"] == "direct"


def test_transaction_pool_of_one_server(pg):
    """With one server connection per pool, the second client queues behind the
    first one's transaction: the check says so and ends within its bound."""
    b = PgBouncer(pg, {"app": APP_PASSWORD}, pool_mode="transaction", db="appdb", pool_size=1).start()
    try:
        d = diagnose(b.url("app", APP_PASSWORD), "--timeout", "1", secrets=SECRETS)
    finally:
        b.stop()
    step = d.step("pg.pooler")
    assert (step["outcome"], step["status"]) == ("pool_wait", "skipped"), step
    assert d.report["verdict"] == "healthy" and d.rc == 0
    assert step["elapsed_ms"] < 2500


def test_prisma_pgbouncer_flag_and_driver_params(pg):
    """Prisma-style parameters: libpq would refuse them, the check leaves them out;
    pgbouncer=true means the app's driver already avoids prepared statements."""
    b = PgBouncer(pg, {"app": APP_PASSWORD}, pool_mode="transaction", db="appdb").start()
    try:
        d = diagnose(b.url("app", APP_PASSWORD, schema="public", pgbouncer="true", connection_limit="3"), secrets=SECRETS)
    finally:
        b.stop()
    assert d.report["verdict"] == "healthy" and d.rc == 0, d.report["steps"]
    assert d.step("pg.pooler")["outcome"] == "prepared_broken_handled"
    assert "schema, pgbouncer, connection_limit" in d.step("pg.url")["evidence"]["not_libpq_params"]

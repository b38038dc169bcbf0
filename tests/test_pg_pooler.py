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
        ev = d.report["root_cause"]["evidence"]
        assert "does not exist" in ev["error"]
        # `app` may not log in to the admin console: the version is unknown, and the cause says so
        assert ev["pooler_version"] == "unknown" and "not allowed" in ev["pooler_version_error"]
        assert "SHOW VERSION" in d.report["root_cause"]["explanation"]
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


def test_pooler_names_its_version(pg):
    """Debian's PgBouncer 1.18 (before max_prepared_statements): read from its admin
    console as a stats user, named in the cause."""
    b = PgBouncer(pg, {"app": APP_PASSWORD}, pool_mode="transaction", db="appdb", stats_users=("app",)).start()
    try:
        d = diagnose(b.url("app", APP_PASSWORD), secrets=SECRETS)
    finally:
        b.stop()
    assert_cause(d, "pg.pooler_prepared_statements")
    rc = d.report["root_cause"]
    assert rc["evidence"]["pooler_version"] == "1.18.0" and rc["evidence"]["pooler_reported"] == "PgBouncer 1.18.0"
    assert "max_prepared_statements" not in rc["evidence"] and "1.21" in rc["evidence"]["pooler_max_prepared_statements_note"]
    assert "PgBouncer 1.18.0, no max_prepared_statements setting" in rc["explanation"]
    assert "PgBouncer 1.18.0" in d.step("pg.pooler")["summary"]


@pytest.mark.parametrize(
    "version,max_prepared,tracked",
    [
        ("1.18.0", None, False),  # what Debian ships: no such setting
        ("1.21.0", 0, False),  # the setting exists, off (1.21's default)
        ("1.21.0", 100, True),
        ("1.24.1", 200, True),  # 200 is the default since 1.24
        ("1.20.1", 200, False),
        ("unknown", None, False),  # the admin console refused: the cause stands
        ("1.22.0", "200", False),  # a value that is not a number proves nothing
    ],
)
def test_prepared_statement_tracking_is_declared_in_the_tree(version, max_prepared, tracked):
    """The version threshold is tree data (a Rule on the node), not a probe's choice."""
    from diagnostics import tree

    tree.load()
    facts = {"pooler_version": version}
    if max_prepared is not None:
        facts["pooler_max_prepared_statements"] = max_prepared
    for nid, cause in (("pg.pooler", "cause:pg.pooler_prepared_statements"), ("convex_self.pooler", "cause:convex_self.pooler_transaction_mode")):
        n = tree.NODES[nid]
        assert n.target("prepared_broken", facts) == (n.branches["prepared_tracked"] if tracked else cause)
    assert "pooler_version >= 1.21 and pooler_max_prepared_statements > 0" in tree.describe()
    assert not tree.validate()


@pytest.mark.parametrize("version,verdict", [("1.22.1", "healthy"), ("1.18.0", "root_cause")])
async def test_the_engine_applies_the_rule_to_what_the_probe_saw(tmp_path, version, verdict):
    """A replayed walk whose pooler step saw transaction pooling break SQL-level PREPARE:
    the declared rule, not the probe, decides whether that is the cause."""
    from diagnostics.context import Context
    from diagnostics.engine import Engine, ReplayRunner
    from diagnostics.inputs import discover
    from diagnostics.model import FAIL, PASS, Outcome

    seen = {"pooler_version": version, "pooler_max_prepared_statements": 200, "pg_pooler": "transaction"}
    outcomes = {
        "context.where": (Outcome("laptop", PASS), 1),
        "config.fly_toml": (Outcome("absent", "skipped"), 0),
        **{n: (Outcome(o, PASS), 1) for n, o in (("pg.url", "ok"), ("pg.host", "public"), ("pg.dns", "resolved"), ("pg.tcp", "ok"), ("pg.ssl", "no_tls"), ("pg.connect", "ok"), ("pg.session", "ok"))},
        "pg.pooler": (Outcome("prepared_broken", FAIL, "transaction pooling", {"error": 'prepared statement "x" does not exist', "pooler_version": version}, seen), 5),
    }
    ctx = Context(inputs=discover({"database_url": "postgres://u:pw@db.example.com:6432/app"}, env={}, cwd=tmp_path), timeout=1.0)
    report = await Engine(ctx, "laptop-cant-reach-postgres", runner=ReplayRunner(outcomes)).run()
    assert report.verdict == verdict
    step = next(s for s in report.steps if s.node == "pg.pooler")
    if verdict == "healthy":
        assert (step.outcome, step.status, step.branch) == ("prepared_tracked", "pass", "done")
        assert "1.21" in step.evidence["reading"]
    else:
        assert report.root_cause.id == "pg.pooler_prepared_statements"
        assert "PgBouncer 1.18.0" in report.root_cause.explanation

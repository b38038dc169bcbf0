"""Each Postgres fault built for real, diagnosed by `diagnose --json`: the exact
cause id, the exit code, and no password anywhere in the output or recording."""

from urllib.parse import quote

import pytest
from conftest import APP_PASSWORD, assert_cause, diagnose
from pgcluster import SUPERPASS, SUPERUSER, BannerServer, PgCluster, RefusingPostgres, SilentServer, close_all, free_port, hold_connections

SECRETS = (APP_PASSWORD, SUPERPASS)
WRONG = "wrong-Pw-Zq81x!"


def test_healthy_normal_role(pg):
    d = diagnose(pg.url("app", APP_PASSWORD, "appdb"), secrets=SECRETS)
    assert d.report["verdict"] == "healthy", d.report["steps"]
    assert d.rc == 0
    assert d.report["root_cause"] is None
    session = d.step("pg.session")
    assert session["status"] == "pass"
    assert session["evidence"]["pg_is_in_recovery"] is False
    assert session["evidence"]["superuser"] is False
    assert d.step("pg.pooler")["outcome"] == "direct"
    assert not [f for f in d.report["findings"] if f["id"] == "pg.superuser_app_role"]
    # a generous bound on loopback; precise timing belongs to the benchmarks
    assert d.seconds < 5, d.seconds


def test_wrong_password(pg):
    d = diagnose(pg.url("app", WRONG, "appdb"), secrets=SECRETS + (WRONG,))
    assert_cause(d, "pg.auth_failed")
    assert 'password authentication failed for user "app"' in d.report["root_cause"]["evidence"]["error"]
    assert d.seconds < 5


def test_missing_role(pg):
    d = diagnose(pg.url("ghost", APP_PASSWORD, "appdb"), secrets=SECRETS)
    assert_cause(d, "pg.auth_failed")
    assert "ghost" in d.report["root_cause"]["title"]
    assert d.report["root_cause"]["evidence"]["auth_case"] == "password"  # scram: indistinguishable by design


def test_nologin_role(pg):
    d = diagnose(pg.url("nologin_role", APP_PASSWORD, "appdb"), secrets=SECRETS)
    assert_cause(d, "pg.auth_failed")
    rc = d.report["root_cause"]
    assert rc["evidence"]["auth_case"] == "nologin"
    assert "ALTER ROLE \"nologin_role\" LOGIN" in rc["fix"]["steps"][0]["command"]


def test_no_connect_privilege(pg):
    d = diagnose(pg.url("limited", APP_PASSWORD, "closeddb"), secrets=SECRETS)
    assert_cause(d, "pg.auth_failed")
    rc = d.report["root_cause"]
    assert rc["evidence"]["auth_case"] == "no_connect_privilege"
    assert 'GRANT CONNECT ON DATABASE "closeddb" TO "limited"' in rc["fix"]["steps"][0]["command"]


def test_no_password(pg):
    d = diagnose(pg.url("app", None, "appdb"), secrets=SECRETS)
    assert_cause(d, "pg.password_missing")
    rc = d.report["root_cause"]
    assert "no password supplied" in rc["evidence"]["error"]
    # the URL has no secret in it, so it stays visible; the fix puts the password in
    assert d.step("pg.url")["evidence"]["url"] == f"postgres://app@127.0.0.1:{pg.port}/appdb"
    # the URL's loopback host means nothing on the app's machines: the host is left to fill in
    assert any('DATABASE_URL="postgres://app:${PGPASSWORD}@<PG_HOST>:5432/appdb"' in (s.get("command") or "") for s in rc["fix"]["steps"])


def test_missing_database(pg):
    d = diagnose(pg.url("app", APP_PASSWORD, "nosuchdb"), secrets=SECRETS)
    assert_cause(d, "pg.database_missing")
    assert d.seconds < 5
    rc = d.report["root_cause"]
    assert "nosuchdb" in rc["title"]
    assert any("CREATE DATABASE" in (s.get("command") or "") and "nosuchdb" in s["command"] for s in rc["fix"]["steps"])


def test_hba_reject_rule(pg):
    d = diagnose(pg.url("hba_reject", APP_PASSWORD, "appdb"), secrets=SECRETS)
    assert_cause(d, "pg.hba_rejected")
    rc = d.report["root_cause"]
    assert "pg_hba.conf rejects connection" in rc["evidence"]["error"]
    assert rc["evidence"]["hba_case"] == "reject_rule"
    assert "host    appdb    hba_reject    127.0.0.1/32    scram-sha-256" in [s.get("command") for s in rc["fix"]["steps"]]


def test_ssl_required_but_server_has_none(pg):
    d = diagnose(pg.url("app", APP_PASSWORD, "appdb", sslmode="require"), secrets=SECRETS)
    assert_cause(d, "pg.ssl_required_unsupported")
    assert d.seconds < 5
    assert d.step("pg.ssl")["outcome"] == "no_tls_required"
    fix = " ".join(s.get("command") or "" for s in d.report["root_cause"]["fix"]["steps"])
    assert "sslmode=disable" in fix and "${PGPASSWORD}" in fix


def test_role_connection_limit(pg):
    held = hold_connections(pg.url("limited", APP_PASSWORD, "appdb"), 1)
    try:
        d = diagnose(pg.url("limited", APP_PASSWORD, "appdb"), secrets=SECRETS)
    finally:
        close_all(held)
    assert_cause(d, "pg.too_many_connections")
    rc = d.report["root_cause"]
    assert 'too many connections for role "limited"' in rc["evidence"]["error"]
    assert rc["evidence"]["limit_kind"] == "role"
    assert any('ALTER ROLE "limited" CONNECTION LIMIT' in (s.get("command") or "") for s in rc["fix"]["steps"])


def test_read_only_database(pg):
    d = diagnose(pg.url("app", APP_PASSWORD, "rodb"), secrets=SECRETS)
    assert_cause(d, "pg.read_only_database")
    assert d.step("pg.session")["evidence"]["pg_is_in_recovery"] is False
    assert d.step("pg.session")["evidence"]["read_only_set_by"] == "database"
    commands = [s.get("command") or "" for s in d.report["root_cause"]["fix"]["steps"]]
    assert any('ALTER DATABASE "rodb" RESET default_transaction_read_only' in c for c in commands)


@pytest.fixture(scope="module")
def standby(pg):
    sb = pg.make_standby()
    try:
        yield sb
    finally:
        sb.destroy()


def test_read_only_replica(pg, standby):
    d = diagnose(standby.url("app", APP_PASSWORD, "appdb"), secrets=SECRETS)
    assert_cause(d, "pg.read_only_replica")
    assert d.step("pg.session")["evidence"]["pg_is_in_recovery"] is True


def test_read_only_replica_names_its_primary(pg, standby):
    """A role allowed to read pg_stat_wal_receiver learns where the primary is."""
    d = diagnose(standby.url(SUPERUSER, SUPERPASS, "appdb"), secrets=SECRETS)
    assert_cause(d, "pg.read_only_replica")
    ev = d.report["root_cause"]["evidence"]
    assert (ev["primary_host"], ev["primary_port"]) == ("127.0.0.1", pg.port)
    steps = d.report["root_cause"]["fix"]["steps"]
    assert any(f"127.0.0.1:{pg.port}" in s["text"] and "@<PG_HOST>:5432/appdb" in (s.get("command") or "") for s in steps), steps


def test_standby_refusing_connections(pg):
    """hot_standby = off: the standby refuses every login with SQLSTATE 57P03."""
    sb = pg.make_standby(hot_standby=False)
    try:
        d = diagnose(sb.url("app", APP_PASSWORD, "appdb"), secrets=SECRETS)
    finally:
        sb.destroy()
    assert_cause(d, "pg.server_starting")
    rc = d.report["root_cause"]
    assert "not accepting connections" in rc["evidence"]["error"]
    assert "hot_standby = off" in rc["explanation"]


def test_server_starting_up():
    with RefusingPostgres() as srv:
        d = diagnose(f"postgres://app:{quote(APP_PASSWORD)}@127.0.0.1:{srv.port}/appdb", secrets=SECRETS)
    assert_cause(d, "pg.server_starting")
    assert "the database system is starting up" in d.report["root_cause"]["evidence"]["error"]


def test_server_shutting_down_for_real():
    c = PgCluster(name="stopping").init().start()
    try:
        c.add_role("app", APP_PASSWORD)
        held = hold_connections(c.url("app", APP_PASSWORD), 1)
        c.begin_smart_shutdown()
        try:
            d = diagnose(c.url("app", APP_PASSWORD), secrets=SECRETS)
        finally:
            close_all(held)
    finally:
        c.destroy()
    assert_cause(d, "pg.server_starting")
    assert "the database system is shutting down" in d.report["root_cause"]["evidence"]["error"]
    assert "stop or restart" in d.report["root_cause"]["explanation"]


def test_server_shutting_down():
    with RefusingPostgres(message="the database system is shutting down") as srv:
        d = diagnose(f"postgres://app:{quote(APP_PASSWORD)}@127.0.0.1:{srv.port}/appdb", secrets=SECRETS)
    assert_cause(d, "pg.server_starting")


def test_nothing_listening():
    port = free_port()
    d = diagnose(f"postgres://app:{quote(APP_PASSWORD)}@127.0.0.1:{port}/appdb", secrets=SECRETS)
    assert_cause(d, "net.connection_refused")
    assert str(port) in d.report["root_cause"]["title"]
    assert d.seconds < 5


def test_server_that_never_answers():
    with SilentServer() as srv:
        d = diagnose(f"postgres://app:{quote(APP_PASSWORD)}@127.0.0.1:{srv.port}/appdb", "--timeout", "1", secrets=SECRETS)
    assert_cause(d, "pg.handshake_timeout")
    assert d.step("pg.tcp")["status"] == "pass"
    # --timeout 1 plus a small margin (interpreter start-up included)
    assert d.seconds < 1 + 2.5, d.seconds
    assert d.report["elapsed_ms"] < 1800, d.report["elapsed_ms"]


def test_server_that_hangs_after_the_tls_answer():
    """The SSLRequest is answered, the login never is: the connect step ends at --timeout."""
    with SilentServer(answer_ssl=True) as srv:
        d = diagnose(f"postgres://app:{quote(APP_PASSWORD)}@127.0.0.1:{srv.port}/appdb", "--timeout", "1", secrets=SECRETS)
    assert_cause(d, "pg.handshake_timeout")
    assert d.step("pg.ssl")["outcome"] == "no_tls"
    assert d.step("pg.connect")["outcome"] == "timeout"
    assert d.report["elapsed_ms"] < 1800, d.report["elapsed_ms"]
    assert d.seconds < 1 + 2.5, d.seconds


# ---------------------------------------------------------------- TLS

TLS_HBA = [
    "local all all trust",
    "hostssl all all 0.0.0.0/0 scram-sha-256",
    "hostssl all all ::/0 scram-sha-256",
]


@pytest.fixture(scope="module")
def pg_tls():
    """A server with a self-signed certificate that only accepts TLS connections."""
    c = PgCluster(name="tls", tls=True, hba=TLS_HBA).init().start()
    try:
        c.add_role("app", APP_PASSWORD)
        yield c
    finally:
        c.destroy()


def test_tls_healthy_with_require(pg_tls):
    d = diagnose(pg_tls.url("app", APP_PASSWORD, "postgres", sslmode="require"), secrets=SECRETS)
    assert d.report["verdict"] == "healthy", d.report["steps"]
    assert d.rc == 0
    assert d.step("pg.ssl")["outcome"] == "tls"
    assert d.step("pg.session")["evidence"]["tls_in_use"] is True


@pytest.mark.parametrize("extra", [{}, {"sslrootcert": "system"}], ids=["no-root-cert", "system-roots"])
def test_self_signed_verify_full(pg_tls, extra):
    d = diagnose(pg_tls.url("app", APP_PASSWORD, "postgres", sslmode="verify-full", **extra), secrets=SECRETS)
    assert_cause(d, "pg.ssl_verify_failed")
    assert d.report["root_cause"]["evidence"]["tls_problem"] == ("untrusted" if extra else "no_root_cert")
    assert d.seconds < 5


def test_tls_only_server_and_sslmode_disable(pg_tls):
    d = diagnose(pg_tls.url("app", APP_PASSWORD, "postgres", sslmode="disable"), secrets=SECRETS)
    assert_cause(d, "pg.hba_rejected")
    rc = d.report["root_cause"]
    assert "no pg_hba.conf entry" in rc["evidence"]["error"]
    assert rc["evidence"]["hba_case"] == "no_entry" and rc["evidence"]["tls_offered"] is True
    # the server offers TLS and only accepts it: the first remedy is the client's sslmode
    assert "sslmode=require" in rc["fix"]["steps"][1]["command"]


def test_ssh_server_on_the_postgres_port():
    with BannerServer() as srv:
        d = diagnose(f"postgres://app:{quote(APP_PASSWORD)}@127.0.0.1:{srv.port}/appdb", "--timeout", "1", secrets=SECRETS)
    assert_cause(d, "pg.handshake_timeout")
    assert d.step("pg.ssl")["outcome"] == "not_postgres"
    assert "SSH-2.0-OpenSSH" in d.step("pg.ssl")["summary"] and "an SSH server" in d.step("pg.ssl")["summary"]
    assert d.seconds < 5

"""The self-hosted backend's rules (POSTGRES_URL, DO_NOT_REQUIRE_SSL,
INSTANCE_NAME) against real PostgreSQL clusters."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from pgcluster import SUPERPASS

ROLE_PW = "limited-Pw-4471z"


def walk(tmp_path, lines: dict, *args, secrets=(SUPERPASS, ROLE_PW)):
    envfile = tmp_path / "backend.env"
    envfile.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    r = run_cli("diagnose", "--json", "--symptom", "self-hosted-backend-down", "--timeout", "3", "--backend-env", str(envfile), *args)
    for s in secrets:
        assert s not in r.stdout and s not in r.stderr, "a password leaked into the output"
    d = json.loads(r.stdout)
    return r, d


def cause_of(d):
    return d["root_cause"]["id"] if d["root_cause"] else None


def step(d, node):
    return next(s for s in d["steps"] if s["node"] == node)


def cluster_url(pg, user="postgres", password=SUPERPASS, **params):
    return pg.url(user=user, password=password, db="").rstrip("/") + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


@pytest.fixture(scope="module")
def instance_db(pg):
    pg.psql("DROP DATABASE IF EXISTS fcp_healthy")
    pg.psql("CREATE DATABASE fcp_healthy")
    return "fcp-healthy"


def test_healthy(pg, instance_db, tmp_path):
    r, d = walk(tmp_path, {"POSTGRES_URL": cluster_url(pg), "INSTANCE_NAME": instance_db, "DO_NOT_REQUIRE_SSL": "1"}, "--database-url", pg.url())
    assert r.returncode == 0, d["root_cause"]
    assert step(d, "convex_self.database")["evidence"]["database"] == "fcp_healthy"  # - → _
    assert step(d, "convex_self.session")["status"] == "pass"
    assert d["inputs"]["backend_env"]["source"] == "flag"


def test_url_with_database_path(pg, tmp_path):
    r, d = walk(tmp_path, {"POSTGRES_URL": pg.url(db="fly-db"), "DO_NOT_REQUIRE_SSL": "1"})
    assert cause_of(d) == "convex_self.postgres_url_has_database" and r.returncode == 1
    rc = d["root_cause"]
    assert rc["evidence"]["backend_error"] == "cluster url already contains db name: /fly-db"
    fix = json.dumps(rc["fix"])
    assert f"POSTGRES_URL=\\\"postgres://postgres:${{PGPASSWORD}}@127.0.0.1:{pg.port}\\\"" in fix


def test_deprecated_database_url_fallback(pg, tmp_path):
    # what `fly pg attach` writes: DATABASE_URL with a database, and POSTGRES_URL unset
    r, d = walk(tmp_path, {"DATABASE_URL": pg.url(db="my_app"), "DO_NOT_REQUIRE_SSL": "1"})
    assert cause_of(d) == "convex_self.postgres_url_has_database"
    assert d["root_cause"]["evidence"]["variable"] == "DATABASE_URL"
    assert "deprecated" in step(d, "convex_self.env")["evidence"]["warning"]
    assert "fly secrets unset DATABASE_URL" in json.dumps(d["root_cause"]["fix"])


def test_tls_less_server_without_do_not_require_ssl(pg, instance_db, tmp_path):
    r, d = walk(tmp_path, {"POSTGRES_URL": cluster_url(pg), "INSTANCE_NAME": instance_db})
    assert cause_of(d) == "convex_self.ssl_required_unsupported" and r.returncode == 1
    assert d["root_cause"]["evidence"]["backend_error"] == "error performing TLS handshake: server does not support TLS"
    assert "DO_NOT_REQUIRE_SSL=1" in json.dumps(d["root_cause"]["fix"])


def test_do_not_require_ssl_false_still_turns_it_on(pg, instance_db, tmp_path):
    # ${DO_NOT_REQUIRE_SSL:+--do-not-require-ssl}: any non-empty value (facts §1.1)
    r, d = walk(tmp_path, {"POSTGRES_URL": cluster_url(pg), "INSTANCE_NAME": instance_db, "DO_NOT_REQUIRE_SSL": "false"}, "--database-url", pg.url())
    assert step(d, "convex_self.tls")["outcome"] == "no_tls_allowed"
    assert r.returncode == 0


def test_missing_instance_database(pg, tmp_path):
    r, d = walk(tmp_path, {"POSTGRES_URL": cluster_url(pg), "DO_NOT_REQUIRE_SSL": "1"})  # default INSTANCE_NAME
    assert cause_of(d) == "convex_self.instance_database_missing" and r.returncode == 1
    ev = d["root_cause"]["evidence"]
    assert ev["create_sql"] == "CREATE DATABASE convex_self_hosted;"
    assert ev["backend_error"] == 'db error: FATAL: database "convex_self_hosted" does not exist'


def test_role_without_create_on_public(pg, tmp_path):
    pg.psql("DROP DATABASE IF EXISTS fcp_schema")
    pg.psql("DROP ROLE IF EXISTS convex_limited")
    pg.add_role("convex_limited", ROLE_PW)
    pg.psql("CREATE DATABASE fcp_schema")  # owned by postgres: on PG15 public is not writable by others
    url = cluster_url(pg, user="convex_limited", password=ROLE_PW)
    r, d = walk(tmp_path, {"POSTGRES_URL": url, "INSTANCE_NAME": "fcp-schema", "DO_NOT_REQUIRE_SSL": "1"})
    assert cause_of(d) == "convex_self.schema_not_writable" and r.returncode == 1
    ev = d["root_cause"]["evidence"]
    assert ev["grant_sql"] == "GRANT CREATE ON SCHEMA public TO convex_limited;"
    assert "GRANT CREATE ON SCHEMA public TO convex_limited" in json.dumps(d["root_cause"]["fix"])


def test_standby_target(pg, instance_db, tmp_path):
    pg.psql("CHECKPOINT")  # flushed first, pg_basebackup's spread checkpoint has nothing left to pace
    sb = pg.make_standby()
    try:
        url = cluster_url(pg).replace(f":{pg.port}", f":{sb.port}")
        r, d = walk(tmp_path, {"POSTGRES_URL": url, "INSTANCE_NAME": instance_db, "DO_NOT_REQUIRE_SSL": "1"})
    finally:
        sb.destroy()
    assert cause_of(d) == "convex_self.target_read_only" and r.returncode == 1
    ev = d["root_cause"]["evidence"]
    assert ev["transaction_read_only"] == "on" and ev["pg_is_in_recovery"] is True


def test_inside_the_backend_machine(pg, instance_db):
    """No --backend-env: the backend's own environment when running in its machine."""
    env = {"POSTGRES_URL": cluster_url(pg), "INSTANCE_NAME": instance_db, "INSTANCE_SECRET": "ab" * 32}
    r = run_cli("diagnose", "--json", "--symptom", "self-hosted-backend-down", "--timeout", "3", env=env)
    d = json.loads(r.stdout)
    assert "own" in step(d, "convex_self.env")["evidence"]["source"]
    assert cause_of(d) == "convex_self.ssl_required_unsupported"
    assert "ab" * 32 not in r.stdout


def test_unsupported_query_parameter(pg, tmp_path):
    r, d = walk(tmp_path, {"POSTGRES_URL": cluster_url(pg, sslmode="verify-full"), "DO_NOT_REQUIRE_SSL": "1"})
    assert cause_of(d) == "config.database_url_invalid"
    assert "invalid value for option `sslmode`" in d["root_cause"]["explanation"]


def test_no_backend_environment_is_skipped():
    r = run_cli("diagnose", "--json", "--symptom", "self-hosted-backend-down", "--timeout", "2")
    d = json.loads(r.stdout)
    s = step(d, "convex_self.env")
    assert s["status"] == "skipped" and s["branch"] == "convex_self.origins"
    # without the backend's environment only its logs could tell; with no app nothing is read
    assert [step(d, n)["status"] for n in ("convex_self.origins", "convex_self.pooler", "convex_self.lease")] == ["skipped"] * 3
    assert not d["root_cause"]["id"].startswith("convex_self.")  # the Postgres track's missing URL, as before


@pytest.fixture(scope="module")
def tls_pg():
    """A server with TLS and a self-signed certificate (no public CA vouches for it)."""
    from pgcluster import PgCluster

    c = PgCluster(tls=True, name="tls").init().start()
    c.psql("CREATE DATABASE convex_self_hosted")
    try:
        yield c
    finally:
        c.destroy()


@pytest.mark.parametrize("dnrs", ["", "1"])
def test_self_signed_certificate_fails_even_with_do_not_require_ssl(tls_pg, tmp_path, dnrs):
    # §1.4: rustls verifies under require and under prefer; no plaintext fallback
    env = {"POSTGRES_URL": cluster_url(tls_pg)}
    if dnrs:
        env["DO_NOT_REQUIRE_SSL"] = dnrs
    r, d = walk(tmp_path, env)
    assert cause_of(d) == "pg.ssl_verify_failed" and r.returncode == 1
    assert "certificate verify failed" in d["root_cause"]["evidence"]["detail"]


def test_self_signed_certificate_with_sslmode_disable(tls_pg, tmp_path):
    # the maintainers' advice (PR #353): DO_NOT_REQUIRE_SSL plus ?sslmode=disable
    r, d = walk(tmp_path, {"POSTGRES_URL": cluster_url(tls_pg, sslmode="disable"), "DO_NOT_REQUIRE_SSL": "1"}, "--database-url", tls_pg.url())
    assert step(d, "convex_self.tls")["outcome"] == "tls_ok"
    assert step(d, "convex_self.session")["status"] == "pass"


# ------------------------------------------------------------------ origins, pooler, a second backend

BACKEND_IMAGE = "ghcr.io/get-convex/convex-backend:latest"
ORIGIN_LINE = "2026-11-30T08:00:01.101 app[e784e903c1d2e8] iad [info]Error: Origin url should start with https:// or http:// but got 'my-backend.fly.dev'"
LEASE_LINE = "2026-11-30T08:00:02.202 app[148e4d55f36278] iad [info]ERROR common::errors: Caught error: failed to acquire lease: Already acquired with higher timestamp"


def fly(tmp_path, logs: str = "", started: int = 1):
    """The stand-in flyctl with a backend app `my-backend` (its logs and machines)."""
    from fake_flyctl import FakeFly, machine

    f = FakeFly(tmp_path)
    ms = [machine(f"e784e903c1d2e{i}", role=None, image=BACKEND_IMAGE, private_ip=f"fdaa:0:1:a7b:1::{i + 2}") for i in range(started)]
    f.app("my-backend", logs=logs, machines=ms + [machine("9e78e1e3f4d5a6", state="stopped", role=None, image=BACKEND_IMAGE)])
    return str(f.executable())


def healthy_env(pg, instance_db, **more):
    return {"POSTGRES_URL": cluster_url(pg), "INSTANCE_NAME": instance_db, "DO_NOT_REQUIRE_SSL": "1", "FLY_APP_NAME": "my-backend", **more}


def test_origin_without_scheme_in_the_environment(pg, instance_db, tmp_path):
    env = healthy_env(pg, instance_db, CONVEX_CLOUD_ORIGIN="my-backend.fly.dev", CONVEX_SITE_ORIGIN="https://my-backend.fly.dev/http")
    r, d = walk(tmp_path, env)
    assert cause_of(d) == "convex_self.origin_without_scheme" and r.returncode == 1
    rc = d["root_cause"]
    # local_backend/src/config.rs convex_origin_url, the backend's words
    assert rc["evidence"]["backend_error"] == "Origin url should start with https:// or http:// but got 'my-backend.fly.dev'"
    assert "fly secrets set CONVEX_CLOUD_ORIGIN=https://my-backend.fly.dev -a my-backend" in json.dumps(rc["fix"])


def test_origin_without_scheme_in_the_logs(pg, instance_db, tmp_path):
    r, d = walk(tmp_path, healthy_env(pg, instance_db), "--flyctl", fly(tmp_path, logs=ORIGIN_LINE + "\n"))
    assert cause_of(d) == "convex_self.origin_without_scheme" and r.returncode == 1
    assert step(d, "convex_self.origins")["outcome"] == "refused_in_logs"
    assert "but got 'my-backend.fly.dev'" in d["root_cause"]["evidence"]["backend_error"]


def test_two_backends_seen_in_the_logs(pg, instance_db, tmp_path):
    r, d = walk(tmp_path, healthy_env(pg, instance_db), "--flyctl", fly(tmp_path, logs=LEASE_LINE + "\n"))
    assert cause_of(d) == "convex_self.two_backends_one_database" and r.returncode == 1
    ev = d["root_cause"]["evidence"]
    assert ev["count"] == 1 and ev["instances"] == ["148e4d55f36278"] and ev["started"] == 1
    assert "fly scale count 1 -a my-backend" in json.dumps(d["root_cause"]["fix"])


def test_two_started_backend_machines(pg, instance_db, tmp_path):
    r, d = walk(tmp_path, healthy_env(pg, instance_db), "--flyctl", fly(tmp_path, started=2))
    assert cause_of(d) == "convex_self.two_backends_one_database" and r.returncode == 1
    assert step(d, "convex_self.lease")["outcome"] == "several_started"
    assert "2 started machines of my-backend" in d["root_cause"]["explanation"]


def test_one_backend_with_clean_logs_is_healthy(pg, instance_db, tmp_path):
    ok = "2026-11-30T08:00:03.303 app[e784e903c1d2e0] iad [info]INFO db_connection: Connected to Postgres database: fcp-healthy\n"
    env = healthy_env(pg, instance_db, CONVEX_CLOUD_ORIGIN="https://my-backend.fly.dev", CONVEX_SITE_ORIGIN="https://my-backend.fly.dev/http")
    r, d = walk(tmp_path, env, "--flyctl", fly(tmp_path, logs=ok), "--database-url", pg.url())
    assert r.returncode == 0, d["root_cause"]
    assert [step(d, n)["outcome"] for n in ("convex_self.origins", "convex_self.pooler", "convex_self.lease")] == ["ok", "direct", "one"]


@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_backend_behind_pgbouncer(pg, instance_db, tmp_path, mode):
    """Debian's real PgBouncer as the backend's target: transaction mode loses the
    statements the backend caches; session mode keeps them."""
    from pgcluster import PgBouncer

    b = PgBouncer(pg, {"postgres": SUPERPASS}, pool_mode=mode, db="fcp_healthy", stats_users=("postgres",)).start()
    try:
        url = f"postgres://postgres:{SUPERPASS}@127.0.0.1:{b.port}"
        r, d = walk(tmp_path, {"POSTGRES_URL": url, "INSTANCE_NAME": instance_db, "DO_NOT_REQUIRE_SSL": "1"}, "--database-url", pg.url())
    finally:
        b.stop()
    if mode == "session":
        assert r.returncode == 0 and step(d, "convex_self.pooler")["outcome"] == "direct", d["root_cause"]
        return
    assert cause_of(d) == "convex_self.pooler_transaction_mode" and r.returncode == 1
    rc = d["root_cause"]
    assert rc["evidence"]["pooler_version"] == "1.18.0" and "does not exist" in rc["evidence"]["error"]
    assert "PgBouncer 1.18.0" in rc["explanation"] and "prepare_cached" in rc["explanation"]


def test_no_backend_environment_the_logs_tell(tmp_path):
    """From a laptop with --app only: the backend's startup line names the cause."""
    r = run_cli("diagnose", "--json", "--symptom", "self-hosted-backend-down", "--timeout", "3", "--app", "my-backend", "--flyctl", fly(tmp_path, logs=ORIGIN_LINE + "\n"))
    d = json.loads(r.stdout)
    assert cause_of(d) == "convex_self.origin_without_scheme" and r.returncode == 1
    assert "fly secrets set CONVEX_CLOUD_ORIGIN=https://my-backend.fly.dev -a my-backend" in json.dumps(d["root_cause"]["fix"])


def test_no_backend_environment_lease_lines(tmp_path):
    r = run_cli("diagnose", "--json", "--symptom", "self-hosted-backend-down", "--timeout", "3", "--app", "my-backend", "--flyctl", fly(tmp_path, logs=LEASE_LINE + "\n"))
    d = json.loads(r.stdout)
    assert cause_of(d) == "convex_self.two_backends_one_database" and r.returncode == 1


def test_no_backend_environment_machines_are_not_counted(tmp_path):
    """--app may name any app: two started machines of it say nothing about a backend."""
    r = run_cli("diagnose", "--json", "--symptom", "self-hosted-backend-down", "--timeout", "3", "--app", "my-backend", "--flyctl", fly(tmp_path, started=2))
    d = json.loads(r.stdout)
    assert cause_of(d) != "convex_self.two_backends_one_database"
    s = step(d, "convex_self.lease")
    assert (s["outcome"], s["status"]) == ("unknown", "skipped")

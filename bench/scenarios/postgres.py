"""Postgres fault environments, built on tests/pgcluster.py (via bench.lab)."""

from __future__ import annotations

from ..lab import APP_DB, APP_PW, APP_USER
from . import Env, Scenario


def pg(url: str, wrap: list[str] | None = None) -> Env:
    return Env(["--database-url", url], url=url, wrap=wrap or [])


PSQL = ("psql",)

SCENARIOS = [
    Scenario("healthy", "postgres", None, lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB)), PSQL),
    Scenario(
        "wrong password",
        "postgres",
        "pg.auth_failed",
        lambda lab: pg(lab.primary.url(APP_USER, "not-the-password", APP_DB)),
        PSQL,
        {"psql": r"password authentication failed"},
    ),
    Scenario(
        "missing role",
        "postgres",
        "pg.auth_failed",
        lambda lab: pg(lab.primary.url("ghost", APP_PW, APP_DB)),
        PSQL,
        {"psql": r"password authentication failed|role .* does not exist"},
        note="Postgres answers as for a wrong password: neither tool can tell which",
    ),
    Scenario(
        "no password",
        "postgres",
        "pg.password_missing",
        lambda lab: pg(lab.primary.url(APP_USER, None, APP_DB)),
        PSQL,
        {"psql": r"no password supplied|Password for user"},
    ),
    Scenario(
        "missing database",
        "postgres",
        "pg.database_missing",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, "nosuchdb")),
        PSQL,
        {"psql": r'database ".*" does not exist'},
    ),
    Scenario(
        "no TLS, sslmode=require",
        "postgres",
        "pg.ssl_required_unsupported",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, sslmode="require")),
        PSQL,
        {"psql": r"server does not support SSL"},
    ),
    Scenario(
        "self-signed cert, verify-full",
        "postgres",
        "pg.ssl_verify_failed",
        lambda lab: pg(lab.tls.url(APP_USER, APP_PW, "postgres", sslmode="verify-full")),
        PSQL,
        {"psql": r"certificate|root\.crt"},
    ),
    Scenario(
        "pg_hba rejection",
        "postgres",
        "pg.hba_rejected",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, host="::1")),
        PSQL,
        {"psql": r"pg_hba\.conf"},
        note="rules for IPv4 only, the client comes over IPv6",
    ),
    Scenario(
        "too many connections",
        "postgres",
        "pg.too_many_connections",
        lambda lab: pg(lab.primary.url("limited", APP_PW, APP_DB)),
        PSQL,
        {"psql": r"too many (connections|clients)|connection slots"},
        note="role CONNECTION LIMIT 0",
    ),
    Scenario(
        "standby",
        "postgres",
        "pg.read_only_replica",
        lambda lab: pg(lab.standby.url(APP_USER, APP_PW, APP_DB)),
        PSQL,
        {"psql": r"recovery|standby|read-only"},
    ),
    Scenario(
        "read-only database",
        "postgres",
        "pg.read_only_database",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, "rodb")),
        PSQL,
        {"psql": r"read-only"},
    ),
    Scenario(
        "nothing listening",
        "postgres",
        "net.connection_refused",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, port=lab.closed_port())),
        PSQL,
        {"psql": r"Connection refused"},
    ),
    Scenario(
        "hung TCP server",
        "postgres",
        "pg.handshake_timeout",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, port=lab.hung.port)),
        PSQL,
        {"psql": r"timeout|timed out"},
        slow=True,
    ),
    Scenario(
        "hung after the TLS answer",
        "postgres",
        "pg.handshake_timeout",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, port=lab.hung_after_tls.port)),
        PSQL,
        {"psql": r"timeout|timed out"},
        slow=True,
    ),
    Scenario(
        "server starting up",
        "postgres",
        "pg.server_starting",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, port=lab.starting.port)),
        PSQL,
        {"psql": r"starting up"},
    ),
    Scenario(
        "server shutting down",
        "postgres",
        "pg.server_starting",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, port=lab.shutting_down.port)),
        PSQL,
        {"psql": r"shutting down"},
    ),
    Scenario(
        "name does not resolve",
        "postgres",
        "net.dns_not_found",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, host="db.no-such-typo.example.com", port=5432), wrap=lab.netns.prefix),
        PSQL,
        {"psql": r"could not translate host name"},
    ),
    Scenario(
        "black-holed address",
        "postgres",
        "net.connect_timeout",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, host="db.known.example.com", port=5432), wrap=lab.netns.prefix),
        PSQL,
        {"psql": r"timeout|timed out"},
        slow=True,
    ),
    Scenario(
        "transaction-mode PgBouncer",
        "postgres",
        "pg.pooler_prepared_statements",
        lambda lab: pg(lab.primary.url(APP_USER, APP_PW, APP_DB, port=lab.bouncer.port)),
        PSQL,
        {"psql": r"prepared statement"},
    ),
]

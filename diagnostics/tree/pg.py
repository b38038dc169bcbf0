"""The Postgres track: from the URL to a working, writable session."""

from . import DONE, Rule, When, node, track, warning

# How Postgres refuses a login (the outcomes of probes.pg.classify_connect_error),
# for every node that logs in; a node overrides what means something else there.
LOGIN_REFUSED = {
    "auth_failed": "cause:pg.auth_failed",
    "password_missing": "cause:pg.password_missing",
    "database_missing": "cause:pg.database_missing",
    "hba_rejected": "cause:pg.hba_rejected",
    "too_many_connections": "cause:pg.too_many_connections",
    "server_starting": "cause:pg.server_starting",
    "ssl_verify_failed": "cause:pg.ssl_verify_failed",
    "ssl_required_unsupported": "cause:pg.ssl_required_unsupported",
    "timeout": "cause:pg.handshake_timeout",
    "closed": "cause:pg.handshake_timeout",
    "refused": "cause:net.connection_refused",
}

FLY_HOSTS = ("fly_private", "fly_public")  # pg.host's kinds of a Fly host

# PgBouncer 1.21 tracks protocol-level named prepared statements itself when
# max_prepared_statements > 0 (1.21.0 release notes; 1.24 made 200 the default):
# drivers' prepared statements then survive transaction pooling, SQL-level
# PREPARE still does not. The one place this threshold is written.
PGBOUNCER_TRACKS_PREPARED = (("pooler_version", "version>=", "1.21"), ("pooler_max_prepared_statements", ">", 0))
TRACKED_WHY = "PgBouncer 1.21+ with max_prepared_statements > 0 keeps drivers' (protocol-level) prepared statements; SQL-level PREPARE still does not survive"


def tracks_prepared(becomes: str = "prepared_tracked") -> Rule:
    return Rule("prepared_broken", PGBOUNCER_TRACKS_PREPARED, becomes, TRACKED_WHY)


track("postgres", "Can we reach Postgres the way the app does?", "pg.url")

node(
    "pg.url",
    "Is there a Postgres URL, and does it parse?",
    "Every other Postgres check needs the URL the app really uses.",
    "pg.url",
    {"ok": "pg.host", "missing": "cause:config.database_url_missing", "invalid": "cause:config.database_url_invalid"},
    asks=("database_url",),
)
node(
    "pg.host",
    "What kind of host is {host}?",
    "Fly-private names (.internal, .flycast, fdaa:, .flympg.net) only work inside Fly's private network.",
    "pg.host",
    {
        "loopback": "pg.dns",
        "public": "pg.dns",
        "private_ip": "pg.dns",
        "fly_public": "pg.dns",
        "fly_private": "fly.vantage",
        "socket": "pg.connect",
    },
)
node(
    "pg.dns",
    "Does {host} resolve?",
    "A name that does not resolve fails before any packet reaches Postgres.",
    "pg.dns",
    {"resolved": "pg.tcp", "not_found": "cause:net.dns_not_found"},
)
node(
    "pg.tcp",
    "Does anything accept TCP on {host}:{port}?",
    "Refused means nothing listens; no answer at all means packets are dropped on the way.",
    "pg.tcp",
    {
        "ok": "pg.ssl",
        "refused": "cause:net.connection_refused",
        "timeout": "cause:net.connect_timeout",
        "unreachable": "cause:net.connect_timeout",
    },
    # a Fly cluster listens on more than one port: ask the others before calling it refused
    when=(When("refused", "host_kind", FLY_HOSTS, "fly.port_check"),),
)
node(
    "pg.ssl",
    "Does the server offer TLS, and does the URL's sslmode={sslmode} agree?",
    "Fly Postgres on the private network offers no TLS, so sslmode=require can never connect there.",
    "pg.ssl",
    {
        "tls": "pg.connect",
        "no_tls": "pg.connect",
        "no_tls_required": "cause:pg.ssl_required_unsupported",
        "timeout": "cause:pg.handshake_timeout",
        "not_postgres": "cause:pg.handshake_timeout",
        "closed": "cause:pg.handshake_timeout",
    },
)
node(
    "pg.connect",
    "Can we log in as {user} to database {db}?",
    "Postgres names the refusal exactly: password, pg_hba.conf rule, database, connection slots.",
    "pg.connect",
    {"ok": "pg.session", **LOGIN_REFUSED},
    budget=1.5,
)
node(
    "pg.session",
    "Is this a writable primary with room for more connections?",
    "A standby or a read-only database accepts logins and then refuses every write.",
    "pg.session",
    {"ok": "pg.pooler", "replica": "cause:pg.read_only_replica", "read_only": "cause:pg.read_only_database"},
)
node(
    "pg.pooler",
    "Do named prepared statements survive the connection pooler?",
    "A transaction-mode PgBouncer hands each transaction a different server, where a prepared statement does not exist.",
    "pg.pooler",
    {
        "direct": DONE,
        "session_pooling": DONE,
        "transaction_pooling_ok": DONE,
        "no_second_connection": DONE,
        "pool_wait": DONE,
        "prepared_broken_handled": DONE,
        "prepared_tracked": DONE,
        "prepared_broken": "cause:pg.pooler_prepared_statements",
    },
    rules=(tracks_prepared(),),
    budget=2.0,
)

# Warnings (root-causes.md, "Warnings"): findings, and the verdict only for slow-queries
warning("pg.high_latency", ("pg.session", "convex.pg_from_convex"), ("ok",), reads="latency_ms", above=20.0, unit="ms")
warning("pg.connections_near_limit", ("pg.session",), ("ok",), reads="in_use/usable", above=0.8, unit="%")
warning("pg.superuser_app_role", ("pg.session",), ("ok",), reads="superuser")

"""The self-hosted backend track: the backend's own environment, read with
the backend's own rules, then the Postgres it will really use."""

from . import DONE, node, track
from .pg import LOGIN_REFUSED, tracks_prepared

track("convex_self", "Will the self-hosted backend start on its Postgres?", "convex_self.env")

node(
    "convex_self.env",
    "Which database does the backend's environment select?",
    "run_backend.sh picks POSTGRES_URL, then MYSQL_URL, then the deprecated DATABASE_URL, and otherwise SQLite on the volume.",
    "convex_self.env",
    {"absent": "convex_self.origins", "sqlite": "convex_self.origins", "mysql": "convex_self.origins", "postgres": "convex_self.url"},
)
node(
    "convex_self.url",
    "Is the backend's Postgres URL a cluster URL (no database, supported parameters)?",
    "The backend names the database itself (INSTANCE_NAME with - → _) and refuses a URL that already names one.",
    "convex_self.url",
    {"ok": "convex_self.reach", "has_database": "cause:convex_self.postgres_url_has_database", "invalid": "cause:config.database_url_invalid"},
)
node(
    "convex_self.reach",
    "Can the backend's Postgres host be reached from here?",
    "DNS and TCP first: the backend exits before listening when it cannot connect.",
    "convex_self.reach",
    {
        "ok": "convex_self.tls",
        "dns_not_found": "cause:net.dns_not_found",
        "outside_6pn": "cause:fly.private_host_outside_6pn",
        "refused": "cause:net.connection_refused",
        "timeout": "cause:net.connect_timeout",
    },
    budget=2.5,
)
node(
    "convex_self.tls",
    "Does the server's TLS match what the backend demands?",
    "Without DO_NOT_REQUIRE_SSL the backend appends sslmode=require and verifies the certificate with rustls.",
    "convex_self.tls",
    {
        "tls_ok": "convex_self.database",
        "no_tls_allowed": "convex_self.database",
        "no_tls_required": "cause:convex_self.ssl_required_unsupported",
        "untrusted": "cause:pg.ssl_verify_failed",
        "timeout": "cause:pg.handshake_timeout",
        "closed": "cause:pg.handshake_timeout",
        "not_postgres": "cause:pg.handshake_timeout",
    },
    budget=2.0,
)
node(
    "convex_self.database",
    "Does the instance database {convex_self_db} exist, and can the backend log in?",
    "Convex never creates its database: it must exist before the first start.",
    "convex_self.database",
    {
        "ok": "convex_self.session",
        **LOGIN_REFUSED,
        "database_missing": "cause:convex_self.instance_database_missing",
        "ssl_required_unsupported": "cause:convex_self.ssl_required_unsupported",
    },
    budget=1.5,
)
node(
    "convex_self.session",
    "Is the target writable, and may the role create tables in the schema?",
    "The backend connects with target_session_attrs=read-write and creates its tables in current_schema().",
    "convex_self.session",
    {"ok": "convex_self.origins", "read_only": "cause:convex_self.target_read_only", "schema_not_writable": "cause:convex_self.schema_not_writable"},
)
node(
    "convex_self.origins",
    "Do CONVEX_CLOUD_ORIGIN and CONVEX_SITE_ORIGIN start with https:// or http://?",
    "After connecting to its database the backend checks its origins, and exits on one without a scheme (an empty one is allowed); without its environment, its logs tell.",
    "convex_self.origins",
    {
        "ok": "convex_self.pooler",
        "unset": "convex_self.pooler",
        "unknown": "convex_self.pooler",
        "without_scheme": "cause:convex_self.origin_without_scheme",
        "refused_in_logs": "cause:convex_self.origin_without_scheme",
    },
    budget=2.0,
)
node(
    "convex_self.pooler",
    "Do the backend's cached prepared statements survive its Postgres pooler?",
    "The backend prepares and caches its statements; a transaction-mode PgBouncer (Managed Postgres' pooled host in Transaction mode) loses them.",
    "convex_self.pooler",
    {
        "no_connection": "convex_self.lease",
        "direct": "convex_self.lease",
        "transaction_pooling_ok": "convex_self.lease",
        "no_second_connection": "convex_self.lease",
        "pool_wait": "convex_self.lease",
        "prepared_broken_handled": "convex_self.lease",
        "prepared_tracked": "convex_self.lease",
        "prepared_broken": "cause:convex_self.pooler_transaction_mode",
    },
    rules=(tracks_prepared(),),
    budget=3.0,
)
node(
    "convex_self.lease",
    "Is this the only backend on its database?",
    "One backend holds the database's lease; a second one fails to acquire it or takes it away, and the two flap.",
    "convex_self.lease",
    {
        "one": DONE,
        "unknown": DONE,
        "sqlite": DONE,
        "lease_lost": "cause:convex_self.two_backends_one_database",
        "several_started": "cause:convex_self.two_backends_one_database",
    },
    budget=2.0,
)

from . import cause, steps
from ._fixes import READ_PASSWORD, pasteable_url, set_url_command

PG_DOCS = "https://www.postgresql.org/docs/current/"

cause(
    "pg.ssl_required_unsupported",
    "sslmode={sslmode} but the server offers no TLS",
    "The URL requires TLS (sslmode={sslmode}), and the server at {host}:{port} answered the TLS request "
    "with 'N': it has no TLS. Fly Postgres on the private network (6PN) is plain TCP — the WireGuard mesh "
    "already encrypts it — so a client that requires TLS can never connect there.",
    lambda n, e: steps(
        "Use sslmode=disable on the private-network URL (what `fly pg attach` writes).",
        READ_PASSWORD,
        ("Set the corrected URL on the app", set_url_command(n, pasteable_url(n, sslmode="disable"))),
        "If the database must be reached over the internet, use a TLS path instead (a public pg_tls service, or Fly Managed Postgres).",
    ),
    docs=("https://fly.io/docs/postgres/connecting/connecting-internal/",),
)

cause(
    "pg.ssl_verify_failed",
    "The server's TLS certificate is not trusted",
    "TLS was offered, but sslmode={sslmode} also verifies the certificate, and verification failed: {error}",
    lambda n, e: steps(
        "Either trust the server's CA, or require TLS without verifying it.",
        ("Encrypt without verifying the certificate", f"fly secrets set {n['url_var']}=\"{pasteable_url(n, sslmode='require')}\" -a {n['app']}"),
        f"Or keep sslmode={n['sslmode']} and give the CA: add sslrootcert=/path/to/ca.crt (or sslrootcert=system for a public CA).",
        "verify-full also checks that the host name in the URL matches the certificate.",
    ),
    docs=(PG_DOCS + "libpq-ssl.html",),
)

cause(
    "pg.hba_rejected",
    "pg_hba.conf has no rule for this connection",
    "The server refused the connection before any password check: {error}",
    lambda n, e: steps(
        "Add a pg_hba.conf rule that allows this host, user, database and encryption, then reload.",
        (
            "The rule to add (adjust the address range)",
            f"host{'ssl' if n['sslmode'] in ('require', 'verify-ca', 'verify-full') else ''}    {n['db']}    {n['user']}    {e.get('client_address', '0.0.0.0/0')}    scram-sha-256",
        ),
        ("Reload the configuration", "psql -c 'SELECT pg_reload_conf()'"),
    ),
    docs=(PG_DOCS + "auth-pg-hba-conf.html",),
)

cause(
    "pg.auth_failed",
    "Password authentication failed for user {user}",
    "Postgres rejected the password for role {user} (it says the same when the role does not exist). On Fly this "
    "usually means the app's {url_var} secret and the role's password diverged: a manual ALTER USER, an old "
    "URL copied around, or a detach/attach that did not finish.",
    lambda n, e: steps(
        "Reset the role's password and put the same one in the app's secret.",
        READ_PASSWORD,
        ("Set the role's password (in the Postgres app)", f"fly pg connect -a {n['pg_app']}  # then: ALTER ROLE \"{n['user']}\" PASSWORD '...';"),
        ("Store the matching URL on the app", set_url_command(n, pasteable_url(n))),
        ("Or let flyctl do both: detach and attach again", f"fly pg detach {n['pg_app']} -a {n['app']} && fly pg attach {n['pg_app']} -a {n['app']}"),
    ),
    docs=("https://fly.io/docs/postgres/managing/attach-detach/",),
)

cause(
    "pg.password_missing",
    "No password was supplied",
    "The server asks for a password and the URL has none: {error}",
    lambda n, e: steps(
        "Put the password in the URL's user part: postgres://USER:PASSWORD@HOST/DB.",
        READ_PASSWORD,
        ("Set the URL with the password on the app", set_url_command(n, pasteable_url(n))),
    ),
)

cause(
    "pg.database_missing",
    "Database {db} does not exist",
    "Login worked, but the server has no database named {db}: {error}",
    lambda n, e: steps(
        f"Create the database, or point the URL at one that exists.",
        ("Create it (Fly Postgres)", f"fly pg connect -a {n['pg_app']} -- -c 'CREATE DATABASE \"{n['db']}\" OWNER \"{n['user']}\"'"),
        ("List the databases that do exist", f"fly pg connect -a {n['pg_app']} -- -c '\\l'"),
    ),
    docs=(PG_DOCS + "sql-createdatabase.html",),
)

cause(
    "pg.too_many_connections",
    "No connection slot left",
    "The server refused a new connection: {error}. Each app machine's pool holds connections open; "
    "machines × pool size must stay under the server's limit, minus the reserved slots.",
    lambda n, e: steps(
        "Use fewer connections, or pool them.",
        ("See who holds the connections", f"fly pg connect -a {n['pg_app']} -- -c 'SELECT usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1,2,3 ORDER BY 4 DESC'"),
        "Shrink the pool size per machine, or put PgBouncer in front (transaction mode needs prepare_threshold=None in psycopg).",
        ("Or raise the limit (restart needed)", f"fly pg config update --max-connections 300 -a {n['pg_app']}"),
    ),
    docs=(PG_DOCS + "runtime-config-connection.html",),
)

cause(
    "pg.read_only_replica",
    "Connected to a standby (read-only replica)",
    "The server at {host}:{port} is in recovery: pg_is_in_recovery() is true, so every write fails with "
    "'cannot execute ... in a read-only transaction'. On Fly Postgres, port 5433 reaches whichever node the "
    "name resolved to; port 5432 (HAProxy) always reaches the primary.",
    lambda n, e: steps(
        "Point writes at the primary.",
        READ_PASSWORD,
        ("Use port 5432 for writes", set_url_command(n, pasteable_url(n).replace(f":{n['port']}/", ":5432/"))),
        "Keep the standby URL for read-only traffic only.",
    ),
    docs=("https://fly.io/docs/postgres/advanced-guides/high-availability-and-global-replication/",),
)

cause(
    "pg.read_only_database",
    "The primary refuses writes (default_transaction_read_only = on)",
    "This is the primary (pg_is_in_recovery() is false) but default_transaction_read_only is on for database {db}. "
    "Fly Postgres switches a database to read-only when its volume is 90% full.",
    lambda n, e: steps(
        "Free or add disk, then turn writes back on.",
        ("See the volume", f"fly volumes list -a {n['pg_app']}"),
        ("Grow it (then restart the machine)", f"fly volumes extend <VOLUME_ID> --size 10 -a {n['pg_app']}"),
        ("If it was set by hand, reset it", f"fly pg connect -a {n['pg_app']} -- -c 'ALTER DATABASE \"{n['db']}\" RESET default_transaction_read_only'"),
    ),
    docs=("https://github.com/fly-apps/postgres-flex/blob/master/docs/capacity_monitoring.md",),
)

cause(
    "pg.server_starting",
    "The server is starting up, shutting down or recovering",
    "The server answered, but is not accepting connections yet: {error}",
    lambda n, e: steps(
        "Wait, and watch the machine come up.",
        ("Machine state and checks", f"fly status -a {n['pg_app']}"),
        ("Its logs", f"fly logs -a {n['pg_app']} --no-tail"),
    ),
)

cause(
    "pg.handshake_timeout",
    "{host}:{port} accepts TCP but never speaks Postgres",
    "The TCP connection opened, but the Postgres startup never completed ({detail}). Either the server is hung, "
    "or what listens on port {port} is not Postgres (an HTTP service, a proxy with nothing behind it).",
    lambda n, e: steps(
        "Find out what really listens on that port.",
        ("Look at the first bytes it sends", f"timeout 3 nc -v {n['host']} {n['port']} </dev/null | head -c 200 | od -c | head"),
        "If it is Postgres, check the server's logs for a hang (full disk, stuck startup).",
    ),
)

cause(
    "pg.pooler_prepared_statements",
    "A transaction-mode pooler breaks prepared statements",
    "{host}:{port} is a connection pooler in transaction mode: each transaction may run on a different server "
    "connection, so a named prepared statement made in one is missing in the next ({error}).",
    lambda n, e: steps(
        "Turn off named prepared statements, or bypass the pooler.",
        "psycopg 3: connect with prepare_threshold=None. node-postgres: do not pass a `name` to queries. Prisma: add pgbouncer=true.",
        "Or run migrations and prepared-statement-heavy code on the direct URL (port 5432/5433), not the pooler.",
        "PgBouncer 1.21+ can track prepared statements itself: max_prepared_statements = 200 in pgbouncer.ini.",
    ),
    docs=("https://www.pgbouncer.org/faq.html#how-to-use-prepared-statements-with-transaction-pooling",),
)

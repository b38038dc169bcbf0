from . import cause, steps
from ._fixes import READ_PASSWORD, pasteable_url, set_url_command

PG_DOCS = "https://www.postgresql.org/docs/current/"

def _fly_private(n) -> bool:
    return n.get("host_kind") == "fly_private"


def _no_tls_explanation(n, e) -> str:
    head = "The URL requires TLS (sslmode={sslmode}), and the server at {host}:{port} answered the TLS request with 'N': it has no TLS. ".format_map(n)
    if _fly_private(n):
        return head + (
            "Fly Postgres on the private network (6PN) is plain TCP (the WireGuard mesh already encrypts it), "
            "so a client that requires TLS can never connect there."
        )
    return head + "The server runs with ssl = off, so a client that requires TLS can never connect to it."


def _no_tls_fix(n, e):
    fixed = set_url_command(n, pasteable_url(n, sslmode="disable"))
    if _fly_private(n):
        return steps(
            "Use sslmode=disable on the private-network URL (what `fly pg attach` writes).",
            READ_PASSWORD,
            ("Set the corrected URL on the app", fixed),
            "If the database must be reached over the internet, use a TLS path instead (a public pg_tls service, or Fly Managed Postgres).",
        )
    return steps(
        "Turn TLS on at the server, or stop requiring it where the network path is private.",
        "On the server: ssl = on with ssl_cert_file and ssl_key_file in postgresql.conf, then reload (SELECT pg_reload_conf()).",
        READ_PASSWORD,
        ("Only on a private path (6PN, WireGuard, a local proxy): stop requiring TLS", fixed),
    )


cause(
    "pg.ssl_required_unsupported",
    "sslmode={sslmode} but the server offers no TLS",
    _no_tls_explanation,
    _no_tls_fix,
    docs=("https://fly.io/docs/postgres/connecting/connecting-internal/", PG_DOCS + "ssl-tcp.html"),
)

_TLS_WHY = {
    "no_root_cert": "libpq had no CA certificate to check the server's certificate against (no sslrootcert, no ~/.postgresql/root.crt).",
    "untrusted": "The server's certificate is not signed by a CA this client trusts (a self-signed certificate, or a private CA).",
    "host_mismatch": "The certificate does not name {host}: verify-full checks that the host in the URL is in the certificate.",
}


cause(
    "pg.ssl_verify_failed",
    "The server's TLS certificate is not trusted",
    lambda n, e: "TLS was offered, but sslmode={sslmode} also verifies the certificate, and verification failed: {error}. ".format_map(n)
    + _TLS_WHY.get(e.get("tls_problem", "untrusted"), "").format_map(n),
    lambda n, e: steps(
        "Give libpq the CA that signed the server's certificate, or encrypt without verifying.",
        f"Keep sslmode={n['sslmode']} and add sslrootcert=/path/to/ca.crt to the URL (the CA of the server's certificate; "
        "sslrootcert=system for a certificate from a public CA).",
        READ_PASSWORD,
        (
            "Or encrypt without verifying the certificate (protects against eavesdropping, not against impersonation)",
            set_url_command(n, pasteable_url(n, sslmode="require", sslrootcert=None)),
        ),
    ),
    docs=(PG_DOCS + "libpq-ssl.html",),
)

def _hba_fix(n, e):
    addr = str(e.get("client_address") or "0.0.0.0")
    cidr = addr + ("/128" if ":" in addr else "/32")
    tls = n["sslmode"] in ("require", "verify-ca", "verify-full") or e.get("encryption", "").startswith("SSL")
    rule = f"host{'ssl' if tls else ''}    {n['db']}    {n['user']}    {cidr}    scram-sha-256"
    items: list = []
    if e.get("hba_case") == "reject_rule":
        summary = "A `reject` line in pg_hba.conf matches this connection first: remove it, or put an allowing line above it."
        items.append(
            (
                "Find the reject lines (as a superuser, on the database server)",
                "psql -c \"SELECT line_number, type, database, user_name, address, auth_method FROM pg_hba_file_rules WHERE auth_method = 'reject'\"",
            )
        )
        items.append(("An allowing line to put above it", rule))
    elif e.get("encryption") == "no encryption" and e.get("tls_offered") is True:
        summary = "The server only accepts TLS connections here (hostssl lines) and this one was not encrypted: connect with TLS."
        items += [READ_PASSWORD, ("Require TLS in the URL", set_url_command(n, pasteable_url(n, sslmode="require")))]
        items.append(("Or, on the server, allow this host without TLS", rule.replace("hostssl", "host")))
    else:
        summary = "No pg_hba.conf line matches this host, user, database and encryption: add one, then reload."
        items.append(("The line to add (narrow the address range to your clients)", rule))
    items.append(("Reload the configuration (no restart needed)", "psql -c 'SELECT pg_reload_conf()'"))
    return steps(summary, *items)


cause(
    "pg.hba_rejected",
    "pg_hba.conf refuses this connection",
    "The server refused the connection before any password check: {error}. pg_hba.conf is read top to bottom and "
    "the first line matching the connection type, database, user and client address decides; a `reject` line, or no "
    "matching line at all, ends the login here.",
    _hba_fix,
    docs=(PG_DOCS + "auth-pg-hba-conf.html",),
)

_AUTH_WHY = {
    "password": "Postgres rejected the password for role {user}. It says exactly the same when the role does not exist, "
    "or when its password has expired (VALID UNTIL), so check all three. On Fly this usually means the app's {url_var} "
    "secret and the role's password diverged: a manual ALTER ROLE, an old URL copied around, or a detach/attach that "
    "did not finish.",
    "no_role": "Role {user} does not exist on this server.",
    "nologin": "The password was accepted, but role {user} has NOLOGIN: it may own objects or grant privileges, not log in.",
    "no_connect_privilege": "The login worked, but role {user} lacks the CONNECT privilege on database {db} "
    "(REVOKE CONNECT ... FROM PUBLIC, without a GRANT to this role).",
}


def _auth_fix(n, e):
    case = e.get("auth_case", "password")
    psql = ("Open psql on the Postgres app", f"fly pg connect -a {n['pg_app']}")
    if case == "nologin":
        return steps("Let the role log in.", (psql[0], f"fly pg connect -a {n['pg_app']} -- -c 'ALTER ROLE \"{n['user']}\" LOGIN'"))
    if case == "no_connect_privilege":
        return steps(
            "Grant the role CONNECT on the database.",
            (psql[0], f"fly pg connect -a {n['pg_app']} -- -c 'GRANT CONNECT ON DATABASE \"{n['db']}\" TO \"{n['user']}\"'"),
        )
    return steps(
        "Make the role's password and the app's URL agree again.",
        psql,
        f"In psql, `\\du {n['user']}` shows whether the role exists and until when its password is valid; "
        f"`\\password {n['user']}` sets its password (typed twice, sent as a SCRAM hash, never logged).",
        READ_PASSWORD,
        ("Store the matching URL on the app", set_url_command(n, pasteable_url(n))),
        ("Or let flyctl make a new user and URL: detach and attach again", f"fly pg detach {n['pg_app']} -a {n['app']} && fly pg attach {n['pg_app']} -a {n['app']}"),
    )


cause(
    "pg.auth_failed",
    "Postgres refused the login of {user}",
    lambda n, e: _AUTH_WHY.get(e.get("auth_case", "password"), _AUTH_WHY["password"]).format_map(n),
    _auth_fix,
    docs=("https://fly.io/docs/postgres/managing/attach-detach/", PG_DOCS + "auth-password.html"),
)

cause(
    "pg.password_missing",
    "No password was supplied",
    "The server asks role {user} for a password and the URL has none (libpq: 'fe_sendauth: no password supplied'). "
    "A URL with no password only works where pg_hba.conf trusts the client, or where a ~/.pgpass file or PGPASSWORD "
    "supplies one; the app's machines have neither.",
    lambda n, e: steps(
        "Put the password in the URL: postgres://USER:${PGPASSWORD}@HOST:PORT/DB (percent-encoded).",
        READ_PASSWORD,
        ("Set the URL with the password on the app", set_url_command(n, pasteable_url(n))),
    ),
    docs=(PG_DOCS + "libpq-connect.html#LIBPQ-CONNSTRING-URIS",),
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

_LIMIT_WHY = {
    "role": "Role {limit_name} has a CONNECTION LIMIT and every one of its slots is taken.",
    "database": "Database {limit_name} has a CONNECTION LIMIT and every one of its slots is taken.",
    "reserved": "Only the slots reserved for superusers are left (superuser_reserved_connections): every slot a normal role may use is taken.",
    "server": "Every one of the server's max_connections slots is taken.",
}


def _limit_fix(n, e):
    kind = e.get("limit_kind", "server")
    who = (
        "SELECT usename, datname, application_name, client_addr, state, count(*) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' GROUP BY 1,2,3,4,5 ORDER BY 6 DESC"
    )
    items: list = [("See who holds the connections", f'fly pg connect -a {n["pg_app"]} -- -c "{who}"')]
    if kind == "role":
        items.append(("Raise or lift the role's limit (-1 = none)", f"fly pg connect -a {n['pg_app']} -- -c 'ALTER ROLE \"{e.get('limit_name', n['user'])}\" CONNECTION LIMIT -1'"))
    elif kind == "database":
        items.append(("Raise or lift the database's limit (-1 = none)", f"fly pg connect -a {n['pg_app']} -- -c 'ALTER DATABASE \"{e.get('limit_name', n['db'])}\" CONNECTION LIMIT -1'"))
    items.append(
        "Size the pools: app machines × pool size per machine must stay below the limit. Idle sessions count too; "
        "idle_session_timeout or a pooler (PgBouncer, in transaction mode with prepare_threshold=None in psycopg) frees them."
    )
    if kind in ("server", "reserved"):
        items.append(("Or raise max_connections (Postgres restarts)", f"fly pg config update --max-connections 300 -a {n['pg_app']}"))
    return steps("Free connection slots, or pool the connections.", *items)


cause(
    "pg.too_many_connections",
    "No connection slot left",
    lambda n, e: "The server refused a new connection: {error}. ".format_map(n) + _LIMIT_WHY[e.get("limit_kind", "server")].format_map(n),
    _limit_fix,
    docs=(PG_DOCS + "runtime-config-connection.html", PG_DOCS + "sql-alterrole.html"),
)

def _replica_fix(n, e):
    items: list = [READ_PASSWORD]
    url = pasteable_url(n)
    if e.get("primary_host"):
        primary = f"{e['primary_host']}:{e.get('primary_port') or 5432}"
        items.append((f"Point writes at the primary this standby follows ({primary})", set_url_command(n, url.replace(f"{n['host']}:{n['port']}", primary))))
    elif str(n["port"]) == "5433":
        items.append(("Use port 5432 (HAProxy, always the primary) for writes", set_url_command(n, url.replace(f":{n['port']}/", ":5432/"))))
    else:
        items.append(("Find the primary: its machine has the role 'primary'", f"fly status -a {n['pg_app']}"))
        items.append("Then point the URL's host at the primary (on Fly Postgres: <pg-app>.internal port 5432).")
    items.append("Keep the standby's URL for read-only traffic only.")
    return steps("Point writes at the primary.", *items)


cause(
    "pg.read_only_replica",
    "Connected to a standby (read-only replica)",
    "The server at {host}:{port} is in recovery: pg_is_in_recovery() is true, so every write fails with "
    "'cannot execute ... in a read-only transaction'. On Fly Postgres, port 5433 reaches whichever node the "
    "name resolved to; port 5432 (HAProxy) always reaches the primary.",
    _replica_fix,
    docs=("https://fly.io/docs/postgres/advanced-guides/high-availability-and-global-replication/",),
)

def _read_only_fix(n, e):
    src = str(e.get("read_only_set_by") or "")
    reset = {
        "database": f"ALTER DATABASE \"{n['db']}\" RESET default_transaction_read_only",
        "user": f"ALTER ROLE \"{n['user']}\" RESET default_transaction_read_only",
        "database user": f"ALTER ROLE \"{n['user']}\" IN DATABASE \"{n['db']}\" RESET default_transaction_read_only",
        "configuration file": "ALTER SYSTEM RESET default_transaction_read_only; SELECT pg_reload_conf()",
    }.get(src, f"ALTER DATABASE \"{n['db']}\" RESET default_transaction_read_only")
    return steps(
        "Free or add disk if the volume is full, then turn writes back on.",
        ("How full is the volume? (Fly Postgres turns writes off at 90 %)", f"fly ssh console -a {n['pg_app']} -C 'df -h /data'"),
        ("See the volume", f"fly volumes list -a {n['pg_app']}"),
        ("Grow it (then restart the machine)", f"fly volumes extend <VOLUME_ID> --size 10 -a {n['pg_app']}"),
        (f"Reset the setting (set at the '{src or 'database'}' level)", f"fly pg connect -a {n['pg_app']} -- -c '{reset}'"),
    )


cause(
    "pg.read_only_database",
    "The primary refuses writes (default_transaction_read_only = on)",
    "This is the primary (pg_is_in_recovery() is false), but default_transaction_read_only is on for {user} in "
    "database {db} (set at the '{read_only_set_by}' level), so every transaction starts read-only and writes fail "
    "with 'cannot execute ... in a read-only transaction'. Fly Postgres does this itself when its volume is 90 % full.",
    _read_only_fix,
    docs=("https://github.com/fly-apps/postgres-flex/blob/master/docs/capacity_monitoring.md", PG_DOCS + "runtime-config-client.html"),
)

def _starting_state(e) -> str:
    words = str(e.get("error", ""))
    for key in ("starting up", "shutting down", "in recovery mode", "not yet accepting", "not accepting"):
        if key in words:
            return key
    return "starting up"


_STARTING_WHY = {
    "starting up": "The postmaster is up but has not finished starting (replaying WAL after a restart can take a while on a busy database).",
    "shutting down": "A stop or restart is under way: new logins are refused until the server is back.",
    "in recovery mode": "The server crashed and is replaying WAL to recover (often an out-of-memory kill): logins wait until recovery ends.",
    "not yet accepting": "A standby is starting and has not yet reached a consistent state: it accepts read-only logins once it has.",
    "not accepting": "This is a standby with hot_standby = off: it never accepts logins, it only replays WAL.",
}


def _starting_fix(n, e):
    state = _starting_state(e)
    if state == "not accepting":
        return steps(
            "Connect to the primary, or let the standby serve reads.",
            ("Find the primary: its machine has the role 'primary'", f"fly status -a {n['pg_app']}"),
            "Or set hot_standby = on on this standby (restart needed) to let it take read-only logins.",
        )
    return steps(
        "Wait for the server, and find out why it restarted.",
        ("Machine state and health checks", f"fly status -a {n['pg_app']}"),
        ("Its recent logs (look for 'out of memory', 'terminated by signal', 'redo starts at')", f"fly logs -a {n['pg_app']} --no-tail"),
        "If it stays in this state for minutes, the logs say what it is waiting for (WAL replay, a full disk).",
    )


cause(
    "pg.server_starting",
    "The server is starting up, shutting down or recovering",
    lambda n, e: "The server answered, but refuses logins for now: {error} (SQLSTATE 57P03). ".format_map(n) + _STARTING_WHY[_starting_state(e)],
    _starting_fix,
    docs=(PG_DOCS + "server-start.html", PG_DOCS + "hot-standby.html"),
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

def pooler_version_text(e) -> str:
    """The pooler's version as its admin console gave it, or why it is unknown."""
    v = e.get("pooler_version", "unknown")
    if v == "unknown":
        why = e.get("pooler_version_error")
        return "its version could not be read" + (f": {why}" if why else "") + "; SHOW VERSION on its pgbouncer database tells"
    mps = e.get("pooler_max_prepared_statements")
    setting = f"max_prepared_statements = {mps}" if mps is not None else "no max_prepared_statements setting"
    return f"PgBouncer {v}, {setting}"


cause(
    "pg.pooler_prepared_statements",
    "A transaction-mode pooler breaks prepared statements",
    lambda n, e: f"{n['host']}:{n['port']} is a connection pooler in transaction mode ({pooler_version_text(e)}): each "
    f"transaction may run on a different server connection, so a named prepared statement made in one is missing in "
    f"the next ({e.get('error')}).",
    lambda n, e: steps(
        "Turn off named prepared statements, or bypass the pooler.",
        "psycopg 3: connect with prepare_threshold=None. node-postgres: do not pass a `name` to queries. Prisma: add pgbouncer=true.",
        "Or run migrations and prepared-statement-heavy code on the direct URL (port 5432/5433), not the pooler.",
        "Or let PgBouncer track them: from 1.21 on, max_prepared_statements = 200 in pgbouncer.ini (the default since 1.24) "
        f"keeps drivers' protocol-level prepared statements ({pooler_version_text(e)}).",
    ),
    docs=("https://www.pgbouncer.org/faq.html#how-to-use-prepared-statements-with-transaction-pooling",),
)

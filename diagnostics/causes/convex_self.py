"""A self-hosted Convex backend on Postgres (../shared/facts/convex.md §1.3-§1.5, §6)."""

from . import Names, cause, steps
from ._fixes import set_url_command
from .pg import pooler_version_text

SELF_HOSTED_DOCS = "https://github.com/get-convex/convex-backend/tree/main/self-hosted"
PG_DOCS = "https://github.com/get-convex/convex-backend/blob/main/self-hosted/advanced/postgres_or_mysql.md"


def _app(n) -> str:
    return n["backend_app"] if "backend_app" in n else n["app"]


def _bare_url(e) -> str:
    """The suggested URL with the password as ${PGPASSWORD} (paste-ready, never the secret)."""
    return str(e.get("suggested_url", "postgres://USER:****@HOST:5432")).replace(":****@", ":${PGPASSWORD}@")


cause(
    "convex_self.postgres_url_has_database",
    "The backend's {variable} names a database ({path})",
    "The backend refuses it: `{backend_error}`. It derives the database itself from INSTANCE_NAME "
    "({database}), so {variable} must be a cluster URL with no path.",
    lambda n, e: steps(
        f"Set POSTGRES_URL (the variable the backend reads first) to the URL without the database.",
        ("Put the password in a shell variable (nothing is shown or stored)", "read -rs PGPASSWORD"),
        ("Set the cluster URL on the backend app", f"fly secrets set POSTGRES_URL=\"{_bare_url(e)}\" -a {_app(n)}"),
        e.get("note", "POSTGRES_URL wins over the deprecated DATABASE_URL fallback."),
        ("Optionally remove the deprecated fallback the attach wrote", f"fly secrets unset DATABASE_URL -a {_app(n)}") if e.get("variable") == "DATABASE_URL" else "The database itself must exist: CREATE DATABASE {db} (see convex_self.instance_database_missing).".format(db=e.get("database") or "convex_self_hosted"),
    ),
    docs=(PG_DOCS,),
)

cause(
    "convex_self.ssl_required_unsupported",
    "The backend requires TLS, and {host}:{port} offers none",
    "DO_NOT_REQUIRE_SSL is {do_not_require_ssl}, so the backend appends sslmode=require; the server answered the TLS "
    "request with 'N'. The backend exits with `{backend_error}`. Fly Postgres on the private network has no TLS "
    "(WireGuard already encrypts the 6PN).",
    lambda n, e: steps(
        "Tell the backend not to require TLS on the private network.",
        ("Set DO_NOT_REQUIRE_SSL (any non-empty value turns it on, even `false`)", f"fly secrets set DO_NOT_REQUIRE_SSL=1 -a {_app(n)}"),
        "Also add ?sslmode=disable to POSTGRES_URL if the server ever offers a certificate the backend cannot verify: "
        "with DO_NOT_REQUIRE_SSL alone it still tries TLS and verifies it.",
        "To undo it later, unset the variable entirely (`fly secrets unset DO_NOT_REQUIRE_SSL`); setting it to false does not.",
    ),
    docs=(PG_DOCS,),
)

cause(
    "convex_self.instance_database_missing",
    "The backend's database {db} does not exist",
    "The backend connects to the database named after INSTANCE_NAME (- becomes _): {db}. Convex never creates it, so "
    "it exits with `{backend_error}`.",
    lambda n, e: steps(
        f"Create {e.get('db')} once, owned by the backend's role.",
        (
            "Create it (Fly Postgres)",
            f"fly pg connect -a {n['pg_app']} -- -c '{e.get('create_sql', 'CREATE DATABASE convex_self_hosted;').rstrip(';')} OWNER \"{e.get('user', 'postgres')}\"'",
        ),
        ("Or with psql on any reachable database", f"psql \"$POSTGRES_URL/postgres\" -c '{e.get('create_sql')}'"),
        "If INSTANCE_NAME changed, the old data is in the database named after the old name: restore INSTANCE_NAME instead.",
    ),
    docs=(PG_DOCS,),
)

cause(
    "convex_self.schema_not_writable",
    "Role {role} cannot create tables in schema {schema}",
    "has_schema_privilege({role}, {schema}, 'CREATE') is false in {db}. The backend creates its tables (documents, "
    "indexes, leases, ...) at first start and fails with `permission denied for schema {schema}`. Since PostgreSQL 15, "
    "public is writable only by the database owner.",
    lambda n, e: steps(
        "Let the role create tables there.",
        ("Grant CREATE on the schema", f"fly pg connect -a {n['pg_app']} -d {e.get('db')} -- -c '{e.get('grant_sql')}'"),
        ("Or make the role own the database", f"fly pg connect -a {n['pg_app']} -- -c '{e.get('owner_sql')}'"),
    ),
    docs=(PG_DOCS,),
)

cause(
    "convex_self.target_read_only",
    "The backend's Postgres target refuses writes",
    "transaction_read_only is {transaction_read_only} on {host}:{port}: {target}. The backend connects with "
    "target_session_attrs=read-write and exits with `{backend_error}`.",
    lambda n, e: steps(
        "Point the backend at the writable primary.",
        "Fly Postgres: port 5432 (HAProxy) always reaches the primary; 5433 reaches whichever node the name resolves to.",
        ("Put the password in a shell variable (nothing is shown or stored)", "read -rs PGPASSWORD"),
        ("Set the primary's cluster URL", f"fly secrets set POSTGRES_URL=\"postgres://{e.get('user') or n['user']}:${{PGPASSWORD}}@{n['pg_app']}.flycast:5432\" -a {_app(n)}"),
        ("If it is a primary turned read-only (a full volume), grow the volume and restart", f"fly volumes list -a {n['pg_app']}"),
    ),
    docs=(PG_DOCS,),
)


cause(
    "convex_self.origin_without_scheme",
    "The backend's {variable} has no https:// or http://",
    "The backend refuses to start with it: `{backend_error}`. CONVEX_CLOUD_ORIGIN and CONVEX_SITE_ORIGIN are "
    "the URLs clients use (storage links, process.env.CONVEX_SITE_URL), so each must be a whole URL with its scheme; "
    "an empty value is allowed.",
    lambda n, e: steps(
        "Give the origins their scheme.",
        (
            "Set them on the backend app",
            f"fly secrets set {e.get('set_command') or 'CONVEX_CLOUD_ORIGIN=https://' + _app(n) + '.fly.dev CONVEX_SITE_ORIGIN=https://' + _app(n) + '.fly.dev/http'} -a {_app(n)}",
        ),
        "Behind Fly only port 3210 is public: the site origin is then the cloud origin plus /http.",
    ),
    docs=(SELF_HOSTED_DOCS,),
)


def _pooler_fix(n, e):
    host = str(e.get("host", ""))
    direct = "direct." + host[len("pgbouncer.") :] if host.startswith("pgbouncer.") and host.endswith(".flympg.net") else ""
    return steps(
        "Give the backend a connection that keeps its prepared statements.",
        (
            f"Point POSTGRES_URL at the direct host {direct} (Managed Postgres), keeping user and password"
            if direct
            else "Point POSTGRES_URL at the database itself (the direct host and port), not the pooler",
            set_url_command(Names({**n, "app": _app(n)}), f"postgres://{e.get('user', 'USER')}:${{PGPASSWORD}}@{direct or 'DIRECT_HOST'}:{e.get('port', 5432)}", var="POSTGRES_URL"),
        ),
        "Or switch the pool to Session mode (Managed Postgres: the cluster's pooling setting).",
        f"Or run PgBouncer 1.21 or later with max_prepared_statements > 0 ({pooler_version_text(e)}).",
    )


cause(
    "convex_self.pooler_transaction_mode",
    "The backend's Postgres URL goes through a transaction-mode pooler",
    lambda n, e: f"{e.get('host')}:{e.get('port')} pools by transaction ({pooler_version_text(e)}), and the backend caches "
    f"named prepared statements on its connections (crates/postgres `prepare_cached`): on the next transaction they are "
    f"gone ({e.get('error')}), and the backend's queries fail.",
    _pooler_fix,
    docs=(PG_DOCS, "https://fly.io/docs/mpg/client-configuration/"),
)


cause(
    "convex_self.two_backends_one_database",
    "Two backends share one database",
    lambda n, e: "Only one backend may hold the database's lease; the other fails (`failed to acquire lease: Already acquired "
    "with higher timestamp`) or takes it away (`Lease Lost`), and they flap. Seen: "
    + "; ".join(
        x
        for x in (
            f"{e.get('count')} lease line(s) in the logs of {e.get('app')}" if e.get("log_lines") else "",
            f"{e.get('started')} started machines of {e.get('app')}" if (e.get("started") or 0) > 1 else "",
        )
        if x
    )
    + ".",
    lambda n, e: steps(
        "Run one backend per database.",
        ("Scale the backend app to one machine", f"fly scale count 1 -a {e.get('app') or _app(n)}"),
        ("Check", f"fly machines list -a {e.get('app') or _app(n)}"),
        "Or give each backend its own database (its own INSTANCE_NAME, whose database it uses).",
    ),
    docs=(PG_DOCS,),
)

"""Warnings: findings on their own; the verdict only for the slow-queries symptom."""

from . import cause, steps

cause(
    "pg.high_latency",
    "Round trip to Postgres is {latency_ms} ms",
    "A `SELECT 1` took {latency_ms} ms (median of several) from here to {host}: above {threshold}. Every query pays "
    "this at least once; a Convex or Fly app in another region than its database pays it on every query.",
    lambda n, e: steps(
        "Put the app (or the self-hosted Convex backend) in the database's region.",
        ("The database's region", f"fly status -a {n['pg_app']}"),
        ("The app's regions", f"fly status -a {n['app']}"),
        (f"Move the app next to the database", f"fly scale count 1 --region <DB_REGION> -a {n['app']}"),
    ),
    severity="warning",
    rank=3,
)

cause(
    "pg.connections_near_limit",
    "{in_use} of {usable} connection slots in use",
    "More than {threshold} of the usable connection slots (max_connections {max_connections} minus {reserved} reserved) are taken. "
    "The next deploy or scale-up can hit 'too many clients'.",
    lambda n, e: steps(
        "Pool connections before the limit is reached.",
        "Lower the pool size per app machine, or add PgBouncer.",
        ("Or raise the limit", f"fly pg config update --max-connections 300 -a {n['pg_app']}"),
    ),
    severity="warning",
    rank=2,
)

cause(
    "pg.superuser_app_role",
    "The app connects as a superuser ({user})",
    "Role {user} is a superuser: a bug or an injected query in the app can drop any database, read any table, "
    "or run programs on the server. `fly pg attach` creates superusers by default.",
    lambda n, e: steps(
        "Give the app a role with only what it needs.",
        ("Create a least-privilege role", f"fly pg connect -a {n['pg_app']} -- -c 'CREATE ROLE app_rw LOGIN PASSWORD ...; GRANT CONNECT ON DATABASE \"{n['db']}\" TO app_rw;'"),
        ("Attach with a normal user next time", f"fly pg attach {n['pg_app']} -a {n['app']} --superuser=false"),
    ),
    severity="warning",
    rank=1,
)

from . import cause, steps
from ._fixes import READ_PASSWORD

cause(
    "config.database_url_missing",
    "No Postgres URL was found",
    "fcp-doctor looked for --database-url, the DATABASE_URL and POSTGRES_URL environment variables, "
    ".env.local, .env and fly.toml in {cwd}, and found none. On Fly the URL is a secret of the app "
    "(`fly pg attach` sets DATABASE_URL), so it lives in the machines, not in your project folder.",
    lambda n, e: steps(
        "Read the URL from where the app gets it, then pass it to fcp-doctor.",
        ("See which secrets the app has (the value is never shown here)", f"fly secrets list -a {n['app']}"),
        ("Print the URL from inside a running machine", f'fly ssh console -a {n["app"]} -C "printenv DATABASE_URL"'),
        ("Run the check with it (the variable keeps it out of your shell history)", 'read -rs DATABASE_URL && export DATABASE_URL && fcp-doctor'),
    ),
    docs=("https://fly.io/docs/postgres/managing/attach-detach/",),
)

cause(
    "config.database_url_invalid",
    "The Postgres URL does not parse",
    "{problem}. The offending part is `{part}`. A password with @, #, / or : in it must be "
    "percent-encoded in a URL, or libpq cuts the URL in the wrong place.",
    lambda n, e: steps(
        "Rewrite the URL in this shape, percent-encoding the password.",
        ("The shape libpq expects", "postgres://USER:PASSWORD@HOST:5432/DBNAME?sslmode=disable"),
        (
            "Percent-encode a password (@ → %40, # → %23, / → %2F, : → %3A)",
            "python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' \"$PGPASSWORD\"",
        ),
        f"{e.get('hint') or 'Then set the corrected URL where it came from'} (the value came from {n['source']}).",
    ),
    docs=("https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS",),
)

cause(
    "config.fly_toml_invalid",
    "fly.toml is not valid",
    "{path} line {line}, column {column}: {error}. Every fly command that reads this file fails the same way, "
    "and without `app` no command knows which app you mean.",
    lambda n, e: steps(
        f"Fix line {e.get('line') or '?'} of {e.get('path', 'fly.toml')}.",
        f"The line reads: {e.get('text') or '(see the file)'}",
        ("Check the file again", f"fcp-doctor diagnose --config {e.get('path', 'fly.toml')}"),
        "fly.toml needs at least `app = \"<your-app-name>\"` on its own line.",
    ),
    docs=("https://fly.io/docs/reference/configuration/",),
)

cause(
    "config.convex_url_invalid",
    "The Convex URL is malformed or is the wrong origin",
    "{problem}",
    lambda n, e: steps(
        "Use each origin for its purpose.",
        "The client and CLI talk to the API origin: https://<deployment>.convex.cloud (self-hosted: the backend's port 3210 URL).",
        "HTTP actions are served on the site origin: https://<deployment>.convex.site (self-hosted: port 3211, or <origin>/http behind Fly).",
        (f"Check again with the right origin", f"fcp-doctor diagnose --convex-url {e.get('suggested_url') or 'https://<deployment>.convex.cloud'}"),
    ),
    docs=("https://docs.convex.dev/functions/http-actions",),
)

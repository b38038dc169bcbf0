from . import cause, steps
from ._fixes import READ_PASSWORD, set_url_command

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

_URL_WHY = {
    "password": "libpq cuts a URL at the first '/', '?' or '#' and takes the host after the '@', so a password holding "
    "@, #, / (or ?) must be percent-encoded (@ → %40, # → %23, / → %2F, ? → %3F), or the URL falls apart.",
    "scheme": "libpq only reads postgres:// and postgresql:// URLs.",
    "port": "The port is digits only, from 1 to 65535; Postgres listens on 5432 unless told otherwise.",
    "sslmode": "sslmode takes one of disable, allow, prefer, require, verify-ca, verify-full.",
    "other": "The URL shape libpq reads is postgres://USER:${PGPASSWORD_ENC}@HOST:PORT/DBNAME?sslmode=MODE, with the password percent-encoded.",
}

ENCODE_PASSWORD = (
    "Percent-encode the password into PGPASSWORD_ENC",
    "PGPASSWORD_ENC=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' \"$PGPASSWORD\")",
)


def _url_invalid_fix(n, e):
    kind = e.get("kind") or "other"
    corrected = e.get("corrected") or ""
    source = str(e.get("source") or "")
    items: list = []
    if corrected and "${PGPASSWORD_ENC}" in corrected:
        items += [READ_PASSWORD, ENCODE_PASSWORD]
    if corrected:
        where = source.split(":", 1)[0]
        if where in (".env", ".env.local"):
            var = source.split(":", 1)[1] if ":" in source else "DATABASE_URL"
            items.append((f"Write the corrected line into {where}", f'echo "{var}={corrected}"  # replace the {var} line of {where} with this'))
        else:
            items.append(("Set the corrected URL on the app", set_url_command(n, corrected)))
        items.append(("Check it locally first", f'DATABASE_URL="{corrected}" fcp-doctor diagnose'))
    else:
        items.append(("The shape libpq expects", "postgres://USER:${PGPASSWORD_ENC}@HOST:5432/DBNAME?sslmode=disable"))
        items.append(ENCODE_PASSWORD)
    if e.get("hint"):
        items.append(f"{str(e['hint'])[0].upper()}{str(e['hint'])[1:]} (the URL came from {source or 'your input'}).")
    return steps("Rewrite the URL so libpq reads it as meant" + (": " + _SUMMARY[kind] if kind in _SUMMARY else "."), *items)


_SUMMARY = {
    "password": "percent-encode the password.",
    "scheme": "start it with postgres://.",
    "port": "give a numeric port.",
    "sslmode": "use a valid sslmode.",
}

cause(
    "config.database_url_invalid",
    "The Postgres URL does not parse",
    lambda n, e: "{problem}. The offending part is `{part}`, in {url} (from {source}). ".format_map(n) + _URL_WHY[e.get("kind") or "other"],
    _url_invalid_fix,
    docs=("https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS",),
)

cause(
    "config.fly_toml_invalid",
    "fly.toml is not valid",
    "{location}: {error}. Every fly command that reads this file fails the same way, "
    "and without `app` no command knows which app you mean.",
    lambda n, e: steps(
        (f"Fix line {e['line']} of {e.get('path', 'fly.toml')}" if e.get("line") else f"Fix {e.get('path', 'fly.toml')}")
        + (f" (column {e['column']})." if e.get("line") and e.get("column") else "."),
        *([f"The line reads: {e['text']}"] if e.get("text") else []),
        "fly.toml needs at least `app = \"<your-app-name>\"` near the top, outside any [section]; "
        "string values need double quotes, and each [section] appears once.",
        ("Check the file again", f"fcp-doctor diagnose --config {e.get('path', 'fly.toml')}"),
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

"""The Convex deployment: reachability, identity, keys, origins, HTTP actions,
and where its functions' Postgres URL points. Facts: ../shared/facts/convex.md."""

from . import cause, steps

CONVEX_DOCS = "https://docs.convex.dev/"
SELF_HOSTED_DOCS = "https://github.com/get-convex/convex-backend/tree/main/self-hosted"


def _backend_app(n) -> str:
    return n["convex_app"] if "convex_app" in n else n["app"]


def _unreachable_fix(n, e):
    layer = str(e.get("layer", ""))
    target = e.get("target") or n["convex_url"]
    host = str(target).split(":")[0].replace("https//", "")
    remedies = {
        "DNS": (
            "The name does not resolve: check the deployment name for a typo (the dashboard's Settings → URL), "
            "and that the deployment was not deleted.",
            f"getent hosts {e.get('host', host)} || dig +short {e.get('host', host)}",
        ),
        "TCP": (
            "Nothing accepts the connection: a self-hosted backend exits before listening when its database fails "
            "(see its logs), or the port is not exposed.",
            f"fly logs -a {_backend_app(n)} --no-tail" if "convex_app" in n else f"nc -zv -w3 {str(target).replace(':', ' ')}",
        ),
        "TLS": (
            "The certificate is not trusted by this machine (self-signed, expired, or for another name). "
            "Browsers and Convex's own clients refuse it too: serve a certificate from a public CA (Fly's *.fly.dev "
            "certificates are), or check for a TLS-intercepting proxy.",
            f"openssl s_client -connect {target} -servername {str(target).rsplit(':', 1)[0]} </dev/null | head -20",
        ),
    }
    http_fix = (
        "The backend does not answer HTTP: a self-hosted backend exits before listening when it cannot use its database "
        "(run `fcp-doctor --symptom self-hosted-backend-down --backend-env FILE`), or it is stopped or overloaded.",
        f"fly logs -a {_backend_app(n)} --no-tail" if "convex_app" in n else f"curl -sv --max-time 10 {n['convex_url']}/version",
    )
    text, cmd = remedies.get(layer, http_fix)
    return steps(
        f"Fix the {layer or 'HTTP'} layer first; nothing above it can work.",
        (text, cmd),
        ("Convex's own layer-by-layer check", f"npx convex network-test --url {n['convex_url']}"),
    )


cause(
    "convex.unreachable",
    "The Convex deployment cannot be reached ({layer} failed)",
    "The {layer} step to {target} failed: {detail}. Checked bottom-up like `npx convex network-test`: DNS, then TCP, then TLS, then HTTP.",
    _unreachable_fix,
    docs=("https://docs.convex.dev/production/hosting/",),
)

cause(
    "convex.not_convex",
    "Something answers at {url}, but it is not a Convex backend",
    "A Convex backend answers GET / with exactly `This Convex deployment is running. See https://docs.convex.dev/.` "
    "This server answered HTTP {status} with: {body}",
    lambda n, e: steps(
        "Point fcp-doctor (and your client) at the Convex backend's API origin.",
        "Convex Cloud: https://<deployment>.convex.cloud (the dashboard's Settings → URL & Deploy Key).",
        "Self-hosted on Fly: https://<backend-app>.fly.dev, whose fly.toml has internal_port = 3210; not the dashboard app (6791).",
        ("Check what answers", f"curl -s {e.get('url') or n['convex_url']} | head -c 300"),
    ),
)

cause(
    "convex.http_actions_not_deployed",
    "The deployment has no HTTP actions (no convex/http.ts)",
    "{url} answered 404 `This Convex deployment does not have HTTP actions enabled.`: no http.ts (or http.js) "
    "exporting a router was pushed to this deployment.",
    lambda n, e: steps(
        "Create convex/http.ts exporting a router, then push it.",
        "convex/http.ts: `import { httpRouter } from \"convex/server\"; const http = httpRouter(); /* http.route({...}) */ export default http;`",
        ("Push to the deployment", "npx convex deploy"),
        ("Check the route again", f"fcp-doctor diagnose --http-action {e.get('route', '/')}"),
    ),
    docs=("https://docs.convex.dev/functions/http-actions",),
)

cause(
    "convex.http_route_not_found",
    "No HTTP action is routed at {method} {route}",
    lambda n, e: (
        f"{e.get('site_url')} is the backend's site proxy, which answers {e.get('method')} {e.get('route')} itself "
        "(its own /version and /metrics) and forwards every other path to the HTTP actions: no action can be routed there."
        if e.get("shadowed_by")
        else f"The router is deployed, but answered 404 `No matching routes found` for {e.get('method')} {e.get('route')} at {e.get('site_url')}. "
        "Exact `path` routes must match the whole path and method; a `pathPrefix` must start and end with `/`."
    ),
    lambda n, e: steps(
        "Route that path and method in convex/http.ts, or call the path that is routed.",
        f"http.route({{ path: \"{e.get('route', '/route')}\", method: \"{e.get('method', 'GET')}\", handler }}) — or pathPrefix: \"/prefix/\" for a family of paths.",
        e.get("hint") or "Routes are case-sensitive, and /a and /a/ are different paths.",
        ("Push, then check again", "npx convex deploy"),
    ),
    docs=("https://docs.convex.dev/functions/http-actions",),
)

cause(
    "convex.http_action_failed",
    "The HTTP action {route} fails (HTTP {status})",
    "{url} reached the route, and the function failed: {error}",
    lambda n, e: steps(
        "Read the function's own error in the deployment logs.",
        ("Stream the logs while calling the route again", "npx convex logs"),
        ("Call it yourself", f"curl -si {e.get('url', '')}"),
        "Cloud deployments redact error text sent to clients (`Server Error`); the logs have the full message.",
    ),
    docs=("https://docs.convex.dev/functions/debugging",),
)

cause(
    "convex.site_url_missing_http_prefix",
    "The HTTP actions URL lacks the /http prefix",
    lambda n, e: (
        f"The backend's own CONVEX_SITE_ORIGIN is {e.get('canonical_site_origin')}: the site URL given "
        f"({e.get('site_url')}, from {e.get('site_source')}) is that origin without /http. The backend is right; "
        "behind Fly only port 3210 is public, and the backend serves HTTP actions there under /http."
        if e.get("canonical_site_origin")
        else f"{e.get('site_url')} answered {e.get('route')} with an empty 404, while {e.get('suggested_site_url')} answered it "
        f"({e.get('prefixed_status')}). Behind Fly only port 3210 is public, and the backend serves HTTP actions there under /http."
    ),
    lambda n, e: steps(
        f"Use {e.get('suggested_site_url')} as the site URL everywhere.",
        *(
            ()
            if e.get("canonical_site_origin")  # the backend already says so
            else (("Tell the backend (CONVEX_SITE_ORIGIN is process.env.CONVEX_SITE_URL)", f"fly secrets set CONVEX_SITE_ORIGIN={e.get('suggested_site_url')} -a {_backend_app(n)}"),)
        ),
        f"In your app and webhooks, call {e.get('suggested_site_url')}<route>, and set CONVEX_SITE_URL={e.get('suggested_site_url')} in .env.local.",
    ),
    docs=(SELF_HOSTED_DOCS + "/advanced/fly",),
)


def _admin_fix(n, e):
    app = _backend_app(n)
    items = []
    if e.get("key_instance"):
        items.append(f"The key is for instance {e['key_instance']}, but this deployment is {e['deployment_instance']}.")
    if e.get("status") == 400:
        items.append("HTTP 400: the header must be `Authorization: Convex <key>`, and the key must be the whole `name|hex` value.")
    items += [
        ("Generate a key on the backend machine", f'fly ssh console -a {app} -C "./generate_admin_key.sh"'),
        (
            "Pin the instance secret, so a new volume or machine keeps the keys valid",
            f"printf '%s=%s\\n' INSTANCE_SECRET \"$(fly ssh console -a {app} -C 'cat /convex/data/credentials/instance_secret' | tr -d '\\r\\n')\" | fly secrets import -a {app}",
        ),
        "Quote the key in .env.local with single quotes around the whole name|hex value (an unquoted `|` is cut by the shell). Convex Cloud: create a new deploy key in the dashboard's Settings.",
    ]
    return steps("Use a key made by this backend's instance secret.", *items)


cause(
    "convex.admin_key_invalid",
    "The admin key is rejected ({code})",
    "/api/check_admin_key: {status} {code}: {message}. The key comes from {key_source}. A key is "
    "`<instance_name>|<hex>` derived from INSTANCE_SECRET: a new secret (a new volume with no pinned secret), "
    "another instance's key, a mangled `|` or stray quotes all give this.",
    _admin_fix,
    docs=(SELF_HOSTED_DOCS,),
)

cause(
    "convex.origin_mismatch",
    "The backend's CONVEX_CLOUD_ORIGIN / CONVEX_SITE_ORIGIN do not match its URL",
    "The backend reports cloud origin {convex_cloud_origin} and site origin {convex_site_origin}, but it is reached at "
    "{url_in_use}. The bare image leaves both empty; storage URLs, process.env.CONVEX_SITE_URL and Node actions' "
    "callbacks are built from them.",
    lambda n, e: steps(
        "Set both origins to the public URLs and restart the backend.",
        (
            "Set them on the backend app",
            f"fly secrets set CONVEX_CLOUD_ORIGIN={e.get('expected_cloud_origin')} CONVEX_SITE_ORIGIN={e.get('expected_site_origin')} -a {_backend_app(n)}",
        ),
        "With docker compose, set them in .env next to docker-compose.yml and `docker compose up -d`.",
    ),
    docs=(SELF_HOSTED_DOCS + "/advanced/fly",),
)


def _cloud_private_fix(n, e):
    pg = n["pg_app"] if "pg_app" in n else "<PG_APP>"
    var = e.get("variable") or "DATABASE_URL"
    user = n["convex_pg_user"] if "convex_pg_user" in n else n["user"]
    db = n["convex_pg_db"] if "convex_pg_db" in n else n["db"]
    if e.get("host_flavour") == "mpg":
        return steps(
            "Fly Managed Postgres (.flympg.net) has private addresses only: Convex Cloud cannot reach it.",
            "Run the database access on Fly instead (an HTTPS API app next to the database that your Convex action calls with fetch),",
            "or move to a Postgres that can be exposed with TLS (a Fly Postgres app with a public pg_tls service, or a hosted provider).",
        )
    return steps(
        f"Expose {pg} to the internet over TLS, and give Convex the public URL.",
        ("Give the Postgres app a public IP (dedicated IPv4, billed monthly; or allocate-v6 for IPv6 only)", f"fly ips allocate-v4 -a {pg}"),
        ("Check that 5432 is served with the pg_tls handler (`TCP 5432 => 5432 [PG_TLS]`)", f"fly services list -a {pg}"),
        "If it is missing: `fly config save -a {pg}`, add [[services]] internal_port = 5432, protocol = \"tcp\", [[services.ports]] port = 5432, handlers = [\"pg_tls\"], then `fly deploy . -a {pg} --image flyio/postgres-flex:<major>`.".format(pg=pg),
        ("Put the password in a shell variable (nothing is shown or stored)", "read -rs PGPASSWORD"),
        (
            "Point the Convex deployment at the public name (add --prod for production)",
            f"npx convex env set {var} \"postgres://{user}:${{PGPASSWORD}}@{pg}.fly.dev:5432/{db}?sslmode=require\"",
        ),
        "Security: the database is now on the internet. Use a long random password and a role that is not a superuser "
        "(`fly pg attach` makes superusers by default); never use sslmode=disable on this URL; Convex's egress IPs are shared "
        "by all deployments in a region, so an IP allowlist is not authentication. Keep the .internal URL for apps inside Fly.",
    )


cause(
    "convex.cloud_private_database_host",
    "Convex Cloud is pointed at a Fly-private Postgres host ({pg_host})",
    "{variable} ({source}) points at {pg_host}, a Fly-private name ({host_flavour}). Convex Cloud runs outside "
    "your organisation's private network (6PN): it can never resolve .internal/.flycast names or route to fdaa: "
    "addresses, so every connection from your functions fails with ENOTFOUND or a timeout.",
    _cloud_private_fix,
    docs=("https://fly.io/docs/postgres/connecting/connecting-external/", "https://docs.convex.dev/production/networking"),
)

cause(
    "convex.metrics_public",
    "The self-hosted backend serves /metrics publicly",
    "{url} returned Prometheus metrics to an anonymous request. The bare image defaults DISABLE_METRICS_ENDPOINT to false "
    "(docker compose sets it to true).",
    lambda n, e: steps(
        "Turn the endpoint off.",
        ("Set it on the backend app", f"fly secrets set DISABLE_METRICS_ENDPOINT=true -a {_backend_app(n)}"),
    ),
    severity="warning",
    rank=0,
)

"""The Convex track: reach the deployment layer by layer, then ask it about
its key, its origins, its Postgres URL and its HTTP actions, and finally ask
Convex itself how Postgres looks from where the functions run."""

from . import DONE, node, track, warning
from .pg import LOGIN_REFUSED

track("convex", "Is the Convex deployment reachable, and can it reach Postgres?", "convex.url")

UNREACHABLE = "cause:convex.unreachable"
URL_INVALID = "cause:config.convex_url_invalid"

node(
    "convex.url",
    "Is there a Convex URL, and is it the API origin?",
    "The client, the CLI and every check talk to the API origin (.convex.cloud or the backend's port 3210), not the HTTP actions origin.",
    "convex.url",
    {"cloud": "convex.dns", "self_hosted": "convex.dns", "missing": DONE, "invalid": URL_INVALID, "site_origin": URL_INVALID, "swapped": URL_INVALID, "has_path": URL_INVALID},
    asks=("convex_url",),
)
node(
    "convex.dns",
    "Does the deployment's host resolve?",
    "Like `npx convex network-test`, layer by layer: a name that does not resolve fails before anything else.",
    "convex.dns",
    {"resolved": "convex.tcp", "failed": UNREACHABLE},
)
node(
    "convex.tcp",
    "Does the deployment accept TCP?",
    "Refused or silent ports mean the backend is down or the port is not exposed.",
    "convex.tcp",
    {"ok_tls": "convex.tls", "ok_plain": "convex.http", "failed": UNREACHABLE},
)
node(
    "convex.tls",
    "Does the TLS handshake succeed with a trusted certificate?",
    "Browsers, the Convex client and Convex's own Node actions refuse a certificate they cannot verify.",
    "convex.tls",
    {"ok": "convex.http", "untrusted": UNREACHABLE, "failed": UNREACHABLE},
    budget=2.0,
)
node(
    "convex.http",
    "Does GET / answer with Convex's running message?",
    "A Convex backend answers `This Convex deployment is running.` on its root; anything else is another server.",
    "convex.http",
    {"convex": "convex.admin_key", "not_convex": "cause:convex.not_convex", "site_origin": URL_INVALID, "failed": UNREACHABLE},
    budget=2.5,
)
node(
    "convex.admin_key",
    "Does the deployment accept the admin key?",
    "The CLI, the dashboard and the admin checks below all need a key the backend accepts.",
    "convex.admin_key",
    {"ok": "convex.env", "no_key": "convex.env", "rejected": "cause:convex.admin_key_invalid", "error": UNREACHABLE},
    asks=("admin_key",),
    budget=2.5,
)
node(
    "convex.env",
    "Where does the deployment's Postgres URL point?",
    "Convex Cloud runs outside Fly's private network: a .internal, .flycast, fdaa: or .flympg.net host can never be reached from it.",
    "convex.env",
    {
        "ok": "convex.origins",
        "none": "convex.origins",
        "skipped": "convex.origins",
        "unknown": "convex.origins",
        "unparsable": "convex.origins",
        "cloud_private": "cause:convex.cloud_private_database_host",
    },
    budget=1.5,
)
node(
    "convex.origins",
    "Do CONVEX_CLOUD_ORIGIN and CONVEX_SITE_ORIGIN match the URL in use?",
    "A self-hosted backend builds storage URLs, process.env.CONVEX_SITE_URL and Node-action callbacks from them; the bare image leaves them empty.",
    "convex.origins",
    {"ok": "convex.metrics", "skipped": "convex.metrics", "cloud": "convex.metrics", "unknown": "convex.metrics", "mismatch": "cause:convex.origin_mismatch",
     "site_missing_prefix": "cause:convex.site_url_missing_http_prefix"},
    budget=3.5,
)
node(
    "convex.metrics",
    "Is /metrics private?",
    "Outside docker compose the backend serves Prometheus metrics to anyone unless DISABLE_METRICS_ENDPOINT is set.",
    "convex.metrics",
    {"public": "convex.site", "private": "convex.site", "not_applicable": "convex.site", "unknown": "convex.site"},
    budget=1.5,
)
node(
    "convex.site",
    "Do HTTP actions answer on the site origin?",
    "The router's 404 body tells a deployed router, a deployment without convex/http.ts and a wrong site URL apart.",
    "convex.site",
    {
        "router_ok": "convex.pg_from_convex",
        "ok": "convex.pg_from_convex",
        "not_deployed_unasked": "convex.pg_from_convex",
        "unknown_site": "convex.pg_from_convex",
        "route_not_found": "cause:convex.http_route_not_found",
        "proxy_meta_route": "cause:convex.http_route_not_found",
        "not_deployed": "cause:convex.http_actions_not_deployed",
        "missing_prefix": "cause:convex.site_url_missing_http_prefix",
        "failed": "cause:convex.http_action_failed",
        "unreachable": UNREACHABLE,
        "not_convex": "cause:convex.not_convex",
    },
    budget=2.5,
)
node(
    "convex.pg_from_convex",
    "How does Postgres look from inside Convex?",
    "The fcp-doctor probe module runs where your functions run, so its answer is the one that counts.",
    "convex.pg_from_convex",
    {
        "ok": DONE,
        "not_configured": DONE,
        "route_missing": "cause:convex.http_route_not_found",
        "failed": "cause:convex.http_action_failed",
        "unreachable": UNREACHABLE,
        "not_convex": "cause:convex.not_convex",
        "cloud_private": "cause:convex.cloud_private_database_host",
        "dns_not_found": "cause:net.dns_not_found",
        **LOGIN_REFUSED,
        "timeout": "cause:net.connect_timeout",  # seen from the functions: the TCP connect, not the login
        "read_only": "cause:pg.read_only_database",
        "replica": "cause:pg.read_only_replica",
    },
    budget=3.5,
)

warning("convex.metrics_public", ("convex.metrics",), ("public",))
# a deployment without HTTP actions, when no route was asked for: not the verdict, but never silent
warning("convex.http_actions_not_deployed", ("convex.site",), ("not_deployed_unasked",))

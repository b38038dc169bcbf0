"""The Fly track pieces: the 6PN view of a Fly-private host, and flyctl's view from outside.

Inside the 6PN (a machine, --resolver, --wireguard-config) the 6PN DNS answers;
outside it, flyctl asks the platform first and then opens a `fly proxy`, and the
Postgres nodes run through the forwarded port.
"""

from . import node

node(
    "fly.vantage",
    "Can this machine see Fly's private network?",
    "A .internal or .flycast name needs the 6PN: inside a machine, over WireGuard, or through `fly proxy`.",
    "fly.vantage",
    {
        "in_6pn": "fly.dns",
        "flyctl": "flyctl.auth",
        "outside": "cause:fly.private_host_outside_6pn",
        "flyctl_missing": "cause:flyctl.missing",
    },
)
node(
    "fly.dns",
    "What does the 6PN DNS say about {host}?",
    "AAAA answers list only started machines; the TXT records name the org's apps and every machine, started or stopped.",
    "fly.dns",
    {
        "resolved": "pg.tcp",
        "app_not_found": "cause:fly.app_not_found",
        "machines_stopped": "cause:fly.machines_stopped",
        "flycast_no_ip": "cause:fly.flycast_no_private_ip",
        "no_resolver": "cause:fly.private_host_outside_6pn",
        "not_found": "cause:net.dns_not_found",
    },
)
node(
    "flyctl.auth",
    "Is flyctl logged in?",
    "Every platform question and `fly proxy` need a valid Fly token.",
    "flyctl.auth",
    {"ok": "flyctl.platform", "error": "flyctl.platform", "not_authenticated": "cause:flyctl.not_authenticated"},
)
node(
    "flyctl.platform",
    "What does Fly say about {pg_app}: machines, IPs, secrets?",
    "A stopped database is named in seconds here, instead of after `fly proxy` waits four minutes for DNS.",
    "flyctl.platform",
    {
        "ok": "flyctl.proxy",
        "error": "flyctl.proxy",
        "not_authenticated": "cause:flyctl.not_authenticated",
        "app_not_found": "cause:fly.app_not_found",
        "machines_stopped": "cause:fly.machines_stopped",
        "flycast_no_ip": "cause:fly.flycast_no_private_ip",
        "secret_not_deployed": "cause:fly.secret_not_deployed",
        "no_app": "cause:fly.private_host_outside_6pn",
    },
    # the probe reports every problem it sees; the first of these names the outcome
    precedence=("flycast_no_ip", "machines_stopped", "secret_not_deployed"),
    budget=2.0,  # the commands run at once; `fly apps list` follows an unknown app
)
node(
    "flyctl.proxy",
    "Can `fly proxy` forward a local port to {host}:{port}?",
    "From outside the 6PN, the Postgres checks run through a port that flyctl forwards over its WireGuard tunnel.",
    "flyctl.proxy",
    {"ok": "pg.tcp", "failed": "cause:flyctl.proxy_failed"},
    budget=3.0,
)
node(
    "fly.port_check",
    "Is Postgres listening on another of the cluster's ports?",
    "Fly Postgres listens on 5432 (primary through HAProxy) and 5433 (this node); PgBouncer setups use 6432.",
    "fly.port_check",
    {"other_port": "cause:fly.wrong_port", "nothing": "cause:net.connection_refused"},
)

"""The Fly track pieces: the 6PN view of a Fly-private host."""

from . import node

node(
    "fly.vantage",
    "Can this machine see Fly's private network?",
    "A .internal or .flycast name needs the 6PN: inside a machine, over WireGuard, or through `fly proxy`.",
    "fly.vantage",
    {
        "in_6pn": "pg.dns",
        "flyctl": "cause:fly.private_host_outside_6pn",
        "outside": "cause:fly.private_host_outside_6pn",
    },
)
node(
    "fly.port_check",
    "Is Postgres listening on another of the cluster's ports?",
    "Fly Postgres listens on 5432 (primary through HAProxy) and 5433 (this node); PgBouncer setups use 6432.",
    "fly.port_check",
    {"other_port": "cause:fly.wrong_port", "nothing": "cause:net.connection_refused"},
)

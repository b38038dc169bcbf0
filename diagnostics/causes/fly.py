from . import cause, steps
from ._fixes import READ_PASSWORD, pasteable_url, set_url_command

cause(
    "fly.private_host_outside_6pn",
    "{host} is a Fly-private name, and this machine is not on Fly's private network",
    "{host} only resolves inside the organisation's 6PN: in a Fly machine, over a WireGuard peer, or through "
    "`fly proxy`. From here the name cannot resolve, so no connection can be made.",
    lambda n, e: steps(
        "Reach it through the 6PN.",
        ("Forward a local port to the database through flyctl", f"fly proxy 15432:{n['port']} -a {n['pg_app']}"),
        ("Then connect to the forwarded port", f"psql \"postgres://{n['user']}@127.0.0.1:15432/{n['db']}?sslmode=disable\""),
        ("Or check from inside a machine of your app", f"fly ssh console -a {n['app']}"),
        "A service outside Fly (Convex Cloud, a laptop without WireGuard) can never use this name: see convex.cloud_private_database_host.",
    ),
    docs=("https://fly.io/docs/networking/private-networking/", "https://fly.io/docs/flyctl/proxy/"),
)

cause(
    "fly.wrong_port",
    "Port {url_port} is closed, but the cluster answers on {open_port}",
    "Nothing accepts connections on port {url_port} of {host}, while port {open_port} does. On Fly Postgres, 5432 is "
    "HAProxy to the primary (use it for writes), 5433 is the node itself (read replicas), and 6432 is PgBouncer where configured.",
    lambda n, e: steps(
        f"Use the port the cluster serves.",
        READ_PASSWORD,
        ("Set the URL with the right port", set_url_command(n, pasteable_url(n).replace(f":{n['url_port']}/", f":{n['open_port']}/"))),
    ),
    docs=("https://fly.io/docs/postgres/connecting/connecting-internal/",),
)

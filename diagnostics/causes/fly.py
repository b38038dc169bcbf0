from . import cause, steps
from ._fixes import READ_PASSWORD, pasteable_url, set_url_command

INSTALL_FLYCTL = ("Install flyctl", "curl -L https://fly.io/install.sh | sh")


def _proxy_port(n) -> int:
    return n["port"] if isinstance(n["port"], int) else 5432


cause(
    "fly.private_host_outside_6pn",
    "{host} is a Fly-private name, and this machine is not on Fly's private network",
    "{host} only resolves inside the organisation's 6PN: in a Fly machine, over a WireGuard peer, or through "
    "`fly proxy`. From here the name cannot resolve, so no connection can be made.",
    lambda n, e: steps(
        "Reach it through the 6PN: `fly proxy`, a WireGuard peer, or from inside a machine.",
        ("Forward a local port to the database through flyctl (install it first if needed)", f"fly proxy 15432:{_proxy_port(n)} {n['host']} -a {n['pg_app']}"),
        ("Then connect to the forwarded port", f"psql \"postgres://{n['user']}@127.0.0.1:15432/{n['db']}?sslmode=disable\""),
        ("Or join the 6PN with a WireGuard peer (org slug from `fly orgs list`)", f"fly wireguard create {n['fly_org'] if 'fly_org' in n else 'personal'} {n['machine_region'] if 'machine_region' in n else 'iad'} fcp-doctor-peer fcp-doctor.conf"),
        ("Bring it up and check again through its DNS", "sudo wg-quick up ./fcp-doctor.conf && fcp-doctor diagnose --wireguard-config fcp-doctor.conf"),
        ("Or check from inside a machine of your app", f"fly ssh console --pty -a {n['app']}"),
        INSTALL_FLYCTL,
        "A service outside Fly (Convex Cloud, CI) can never use this name: see convex.cloud_private_database_host.",
    ),
    docs=("https://fly.io/docs/networking/private-networking/", "https://fly.io/docs/flyctl/proxy/"),
)

cause(
    "fly.app_not_found",
    "There is no app {pg_app} on this private network",
    "{pg_app} does not resolve on the 6PN and is not among the organisation's apps ({apps_existing}). The name is "
    "misspelt, or the database lives in another organisation or on a custom private network that this side cannot see.",
    lambda n, e: steps(
        f"Use the name of an app that exists here, or reach the other organisation.",
        f"Apps on this network: {n['apps_existing']}.",
        ("List your apps with their organisation and network", "fly apps list"),
        ("See which org and network the database app is in", f"fly status -a {n['pg_app']} --json"),
        "Apps in different organisations or custom networks never see each other's .internal names: bridge them with "
        "`fly ips allocate-v6 --private --network <name>` or a public IP.",
    ),
    docs=("https://fly.io/docs/networking/private-networking/", "https://fly.io/docs/networking/custom-private-networks/"),
)

cause(
    "fly.machines_stopped",
    "{pg_app} has no started machine",
    "The app exists, but none of its machines is started ({stopped_machines}), and .internal names only answer "
    "for started machines. Autostop, FLY_SCALE_TO_ZERO or a crash stopped it; only Flycast (Fly Proxy) wakes machines up.",
    lambda n, e: steps(
        "Start the database machine, then keep it from stopping or reach it through Flycast.",
        ("Start it", f"fly machine start {n['stopped_machine_id']} -a {n['pg_app']}"),
        ("See its state and logs if it stops again", f"fly status -a {n['pg_app']} && fly logs -a {n['pg_app']}"),
        ("Or give it a Flycast address, so connections wake it", f"fly ips allocate-v6 --private -a {n['pg_app']}"),
        "Then use postgres://...@{pg}.flycast:5432/... in the URL; or remove FLY_SCALE_TO_ZERO from [env] and redeploy.".format(pg=n["pg_app"]),
    ),
    docs=("https://fly.io/docs/postgres/managing/scale-to-zero/", "https://fly.io/docs/networking/flycast/"),
)

cause(
    "fly.flycast_no_private_ip",
    "{pg_app}.flycast has no address: no Flycast IP is allocated",
    "An AAAA record at <app>.flycast exists only once the app has a private (Flycast) IPv6 address, and {pg_app} has none.",
    lambda n, e: steps(
        "Allocate a Flycast address for the database app.",
        ("Allocate it", f"fly ips allocate-v6 --private -a {n['pg_app']}"),
        ("Check it is there (Type private_v6)", f"fly ips list -a {n['pg_app']}"),
        f"Or use {n['pg_app']}.internal, which needs no IP but only reaches started machines.",
    ),
    docs=("https://fly.io/docs/networking/flycast/",),
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

cause(
    "fly.secret_not_deployed",
    "{secret_name} on {app} is {secret_status}: the running machines do not have it",
    "`fly secrets list` shows {secret_name} as {secret_status}: it was set (or written by `fly pg attach`) but not deployed, "
    "so the running machines still have the old value or none at all.",
    lambda n, e: steps(
        "Deploy the staged secrets.",
        ("Deploy them (restarts the machines)", f"fly secrets deploy -a {n['app']}"),
        ("Check every machine has it", f"fly secrets list -a {n['app']}"),
    ),
    docs=("https://fly.io/docs/apps/secrets/",),
)

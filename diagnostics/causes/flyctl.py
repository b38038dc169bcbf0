from . import cause, steps
from .fly import INSTALL_FLYCTL

cause(
    "flyctl.missing",
    "flyctl is not installed where this check looked",
    "This step needs flyctl ({flyctl}), and there is no executable there, nor `fly` or `flyctl` on PATH.",
    lambda n, e: steps(
        "Install flyctl, or point at it with --flyctl.",
        INSTALL_FLYCTL,
        ("Then log in", "fly auth login"),
        "Or pass the full path: fcp-doctor diagnose --flyctl ~/.fly/bin/flyctl",
    ),
    docs=("https://fly.io/docs/flyctl/install/",),
)

cause(
    "flyctl.not_authenticated",
    "flyctl is not logged in",
    "flyctl has no valid access token: {error}",
    lambda n, e: steps(
        "Log in, then run the check again.",
        ("Log in (opens a browser)", "fly auth login"),
        ("Check who you are", "fly auth whoami"),
        "For CI, set FLY_API_TOKEN from `fly tokens create deploy -a APP` instead.",
    ),
    docs=("https://fly.io/docs/flyctl/auth-login/",),
)

_REMEDY = {
    "port_in_use": ("Let flyctl pick a free local port (it prints the port it took)", "fly proxy 0:{port} {host} -a {pg_app}"),
    "app_not_found": ("Check the app name (the database app, not your web app)", "fly apps list"),
    "tunnel_down": ("Restart the flyctl agent, which owns the WireGuard tunnel", "fly agent restart"),
    "host_not_found": ("The name has no started machine behind it: look at the machines", "fly machines list -a {pg_app}"),
    "not_authenticated": ("Log in again", "fly auth login"),
    "no_answer": ("Run it yourself with debug logs to see where it waits", "LOG_LEVEL=debug fly proxy 15432:{port} {host} -a {pg_app}"),
    "other": ("Run it yourself with debug logs", "LOG_LEVEL=debug fly proxy 15432:{port} {host} -a {pg_app}"),
}


def _proxy_fix(n, e):
    cls = e.get("error_class", "other")
    text, cmd = _REMEDY.get(cls, _REMEDY["other"])
    extra = []
    if cls == "tunnel_down":
        extra = [
            ("If it still fails, use WireGuard over WebSockets and restart the agent", "fly wireguard websockets enable && fly agent restart"),
            ("Then a full check of flyctl's tunnel", "fly doctor"),
        ]
    if cls == "port_in_use":
        extra = [("Or see what holds the port", "ss -ltnp | grep ':{port} '".format(port=n["port"]))]
    return steps(f"fly proxy failed: {cls.replace('_', ' ')}.", (text, cmd.format_map(n)), *extra)


cause(
    "flyctl.proxy_failed",
    "`fly proxy` could not start: {error}",
    "flyctl could not forward a local port to {host} ({error_class}): {error}",
    _proxy_fix,
    docs=("https://fly.io/docs/flyctl/proxy/",),
)

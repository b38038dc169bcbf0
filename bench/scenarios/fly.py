"""Fly fault environments: inside a machine on the emulated 6PN (tests/sixpn.py:
network namespace, dnsmasq on fdaa::3, Postgres on a 6PN address), and on a
laptop with the stand-in flyctl (tests/fake_flyctl).

psql runs inside the 6PN namespace, as a person would from `fly ssh console`.
On the laptop it is not run: there `<app>.internal` goes to the machine's own
resolver, which this bench must not query; flyctl itself cannot run here, so
its documented proxy wait stands in (fly.md F8/F22)."""

from __future__ import annotations

from ..lab import APP_DB, APP_PW, APP_USER
from . import Env, Scenario

FLYCTL_DOC = "flyctl proxy (documented)"


def six(host: str, port: int = 5432, sslmode: str = "disable", slow: bool = False):
    def build(lab):
        from sixpn import machine_env

        net = lab.sixpn
        url = f"postgres://{APP_USER}:{APP_PW}@{host}:{port}/{APP_DB}?sslmode={sslmode}"
        return Env(["--symptom", "app-cant-reach-postgres", "--database-url", url], url=url, wrap=["ip", "netns", "exec", net.ns], env=machine_env())

    return build


def laptop(change=None, host: str = "mydb.internal", extra: tuple = (), path: str | None = None):
    def build(lab):
        env = lab.fakefly(change)
        if path is not None:
            env = {"PATH": path}
        url = f"postgres://{APP_USER}:{APP_PW}@{host}:5432/{APP_DB}?sslmode=disable"
        return Env(["--symptom", "laptop-cant-reach-postgres", "--database-url", url, *extra], env=env)

    return build


def _stop_all(state):
    for m in state["apps"]["mydb"]["machines"]:
        m["state"] = "stopped"


PSQL = ("psql",)
SCENARIOS = [
    # inside a machine, on the 6PN
    Scenario("6PN: healthy", "fly", None, six("pgdb.internal"), PSQL),
    Scenario(
        "6PN: sslmode=require, no TLS",
        "fly",
        "pg.ssl_required_unsupported",
        six("pgdb.internal", sslmode="require"),
        PSQL,
        {"psql": r"server does not support SSL"},
    ),
    Scenario("6PN: app not found", "fly", "fly.app_not_found", six("pgdbb.internal"), PSQL, {"psql": r"could not translate host name"}),
    Scenario(
        "6PN: machines stopped",
        "fly",
        "fly.machines_stopped",
        six("sleepydb.internal"),
        PSQL + (FLYCTL_DOC,),
        {"psql": r"stopped|no started"},
    ),
    Scenario(
        "6PN: Flycast without private IP",
        "fly",
        "fly.flycast_no_private_ip",
        six("noflydb.flycast"),
        PSQL,
        {"psql": r"private IP|allocate"},
    ),
    Scenario("6PN: wrong port (5433)", "fly", "fly.wrong_port", six("pgdb.internal", port=5433), PSQL, {"psql": r"wrong port|port 5432"}),
    Scenario(
        "6PN: black-holed address",
        "fly",
        "net.connect_timeout",
        six("lostdb.internal"),
        PSQL,
        {"psql": r"timeout|timed out"},
        slow=True,
    ),
    # on a laptop, with the stand-in flyctl
    Scenario("laptop: healthy via fly proxy", "fly", None, laptop(extra=("--app", "web"))),
    Scenario("laptop: private host, no flyctl", "fly", "fly.private_host_outside_6pn", laptop(path="/usr/bin:/bin")),
    Scenario("laptop: flyctl not logged in", "fly", "flyctl.not_authenticated", laptop(lambda s: s.update(email=None))),
    Scenario(
        "laptop: machines stopped",
        "fly",
        "fly.machines_stopped",
        laptop(_stop_all),
        (FLYCTL_DOC,),
    ),
    Scenario(
        "laptop: proxy tunnel down",
        "fly",
        "flyctl.proxy_failed",
        laptop(lambda s: s["proxy"].update(tunnel_error=True)),
    ),
    Scenario(
        "laptop: secret staged",
        "fly",
        "fly.secret_not_deployed",
        laptop(lambda s: s["apps"]["web"]["secrets"][0].update(status="Staged"), extra=("--app", "web")),
    ),
]

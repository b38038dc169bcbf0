"""Fly 6PN fault environments. The emulated 6PN (a network namespace with
dnsmasq, tests/sixpn.py) and the stand-in flyctl are not in this tree yet:
until they are, a scenario here has `build=None` and its row shows only the
alternatives that need no environment (a documented constant).

To add one when the builder lands: give Lab a property that builds it once
(see bench/lab.py) and set `build`, e.g.
    build=lambda lab: Env(["--database-url", url, "--resolver", lab.sixpn.resolver], url=url, wrap=lab.sixpn.wrap)
"""

from __future__ import annotations

from . import Scenario

SCENARIOS = [
    Scenario(
        "stopped database machine",
        "fly",
        "fly.machines_stopped",
        None,
        ("flyctl proxy (documented)",),
        note="needs the emulated 6PN (tests/sixpn.py)",
    ),
]

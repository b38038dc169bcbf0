"""Convex fault environments against the Convex stand-ins (tests/convex_standin.py).

The stand-ins are not in this tree yet, so this list is empty; the
`npx convex network-test` runner (bench/alternatives.py) is ready. A scenario
is then a few lines, e.g.
    Scenario("HTTP actions not deployed", "convex", "convex.http_actions_not_deployed",
             lambda lab: Env(["--convex-url", u := lab.convex("no-http").url], convex_url=u),
             ("convex network-test",), {"convex network-test": r"HTTP actions"})
"""

from __future__ import annotations

SCENARIOS: list = []

"""Each fault environment is one small declarative Scenario: a name, how to
build it (from the Lab's shared pieces), the fcp-doctor arguments, the cause id
the verdict must name, and the other tools to run against the same thing.

Adding one is a few lines in the layer's file; `ALL` collects them in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Env:
    fcp_args: list[str]  # after `python -m tui diagnose --json`
    url: str | None = None  # the Postgres URL, for psql
    convex_url: str | None = None  # for `npx convex network-test --url`
    wrap: list[str] = field(default_factory=list)  # a command prefix, e.g. `ip netns exec NS`
    env: dict = field(default_factory=dict)  # extra environment for every tool run here


@dataclass
class Scenario:
    name: str
    layer: str  # postgres | fly | convex | convex_self
    expect: str | None  # the root cause id; None: the verdict must be healthy
    build: Callable[..., Env] | None  # (lab) -> Env; None: no builder in this tree yet
    alternatives: tuple[str, ...] = ()  # keys of bench.alternatives.ALTERNATIVES
    names: dict[str, str] = field(default_factory=dict)  # alternative -> regex: its output names the cause
    slow: bool = False  # the verdict waits on a timeout: fewer runs, bounded alternatives run alongside
    note: str = ""


from . import convex, convex_self, fly, postgres  # noqa: E402

ALL: list[Scenario] = postgres.SCENARIOS + fly.SCENARIOS + convex.SCENARIOS + convex_self.SCENARIOS

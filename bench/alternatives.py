"""What people use today, run against the same environment as fcp-doctor,
each with its own defaults: psql, `npx convex network-test`, and flyctl's
documented proxy wait (the flyctl binary cannot run here)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import measure

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
NPM_DIR = WORK / "npm"

# how long a tool that never answers is given, in seconds (one run only)
BOUND_S = float(os.environ.get("BENCH_BOUND", "30"))


def clean_env(home: str, extra: dict | None = None) -> dict:
    """The machine's environment without anything that would change what a tool
    does on its own: no PG* variables, no ~/.pgpass or ~/.psqlrc, no URLs."""
    drop = ("PG", "DATABASE_URL", "POSTGRES_URL", "CONVEX", "FLY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(HOME=home, NO_COLOR="1", LC_ALL="C.UTF-8")
    env.update(extra or {})
    return env


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def first_line(text: str) -> str:
    for line in ANSI.sub("", text).splitlines():
        line = line.strip()
        if line:
            return line[:160]
    return ""


def key_line(text: str) -> str:
    """The line that carries the verdict: the first error or failure, else the first line."""
    for line in ANSI.sub("", text).splitlines():
        if re.search(r"error|FATAL|FAIL", line):
            return line.strip()[:160]
    return first_line(text)


@dataclass
class Alternative:
    key: str
    command: str  # as a person would type it
    documented: Callable[[], dict] | None = None  # a documented constant instead of a run
    run: Callable[..., measure.Run] | None = None  # (env, lab, bound) -> Run
    needs: str = ""  # the Env field it needs
    bound: float | None = None  # its own bound, when its default timeout is longer than BOUND_S


def _psql(env, lab, bound: float) -> measure.Run:
    # `psql "$DATABASE_URL"` with stdin not a terminal: it connects, reads no
    # command and exits. Run in its own session so it cannot prompt on a tty.
    return measure.run([*env.wrap, "psql", env.url], env=clean_env(lab.home, env.env), cwd=lab.home, bound=bound)


SETUP_NODE = ROOT / "tests" / ".tmp" / "node"  # where scripts/setup-test-env installs `convex` for the tests


def convex_cli() -> Path | None:
    for d in (SETUP_NODE, NPM_DIR):
        p = d / "node_modules" / ".bin" / "convex"
        if p.exists():
            return p
    return None


def install_convex_cli() -> Path:
    """The real `convex` npm package: the test setup's copy, else installed once into bench/.work/npm."""
    if convex_cli() is None:
        NPM_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(NPM_DIR), "--no-audit", "--no-fund", "--loglevel=error", "convex"],
            check=True,
            capture_output=True,
            text=True,
        )
    return convex_cli()


def _convex_network_test(env, lab, bound: float) -> measure.Run:
    cli = install_convex_cli()
    e = clean_env(lab.home, env.env)
    e["CI"] = "1"  # no spinner animation in the captured output
    return measure.run([*env.wrap, str(cli), "network-test", "--url", env.convex_url], env=e, cwd=lab.home, bound=bound)


def _flyctl_proxy_stopped() -> dict:
    return {
        "seconds": 240.0,
        "said": "Error: <pg>.internal: host was not found in DNS",
        "named": False,
        "source": "/work/shared/facts/fly.md F8, F22(b), §2.2 step 4 (flyctl WaitForDNS loops up to 4 min)",
        "why_not_named": "says the name has no DNS answer, not that the machines are stopped",
    }


ALTERNATIVES: dict[str, Alternative] = {
    a.key: a
    for a in (
        Alternative("psql", 'psql "$DATABASE_URL"', run=_psql, needs="url"),
        Alternative(
            "convex network-test",
            "npx convex network-test --url URL",
            run=_convex_network_test,
            needs="convex_url",
            bound=max(BOUND_S, 40.0),  # its own overall timeout is 30 s: let it say so
        ),
        Alternative("flyctl proxy (documented)", "fly proxy 5432 -a <pg>", documented=_flyctl_proxy_stopped),
    )
}


def named(pattern: str | None, r: measure.Run) -> bool:
    """Did the tool's own output name the cause? Judged from what it printed."""
    if not pattern:
        return False
    return re.search(pattern, r.stdout + "\n" + r.stderr, re.I) is not None

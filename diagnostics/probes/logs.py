"""The logs of the app (and of its Postgres app) as evidence: `fly logs --no-tail`
scanned for the failure strings of the fact sheets (diagnostics/logscan.py)."""

from __future__ import annotations

import asyncio

from .. import logscan
from ..flyctl import run_flyctl
from ..model import PASS, SKIPPED, WARN, Outcome
from ..secret import redact
from . import probe
from .context import find_flyctl


class _LogCache:
    """One `fly logs --no-tail` per app and walk, shared by every probe that reads it."""

    def __init__(self):
        self.tasks: dict[str, asyncio.Task] = {}

    def close(self) -> None:
        for t in self.tasks.values():
            t.cancel()


async def app_logs(ctx, app: str, flyctl: str):
    """The result of `fly logs -a APP --no-tail` (diagnostics.flyctl.FlyctlResult), run once per walk."""
    cache = ctx.resources.setdefault("fly_logs", _LogCache())
    task = cache.tasks.get(app)
    if task is None:
        task = cache.tasks[app] = asyncio.ensure_future(run_flyctl(flyctl, ["logs", "-a", app, "--no-tail"], timeout=ctx.timeout))
    return await asyncio.shield(task)  # a probe cut off at its time limit leaves the run to the others


@probe("logs.scan")
async def scan_logs(ctx) -> Outcome:
    apps = [a for a in dict.fromkeys((ctx.app, ctx.pg_app)) if a]
    flyctl = ctx.facts.get("flyctl_path") or find_flyctl(ctx)
    if not apps:
        return Outcome("unavailable", SKIPPED, "no app name: no logs to read", {"apps": []})
    if not flyctl:
        return Outcome("unavailable", SKIPPED, "flyctl not found: logs not read", {"apps": apps})
    matches: list[dict] = []
    read, errors = [], {}

    ctx.progress(f"fly logs --no-tail -a {', '.join(apps)}")
    results = await asyncio.gather(*(app_logs(ctx, app, flyctl) for app in apps))
    for app, r in zip(apps, results):
        if not r.ok:
            errors[app] = redact(r.error_line())
            continue
        read.append(app)
        for m in logscan.scan(r.stdout):
            matches.append({**m, "app": app})
    evidence = {"apps_read": read, "errors": errors, "matches": matches}
    if not read:
        return Outcome("unavailable", SKIPPED, f"logs not read: {next(iter(errors.values()))}", evidence)
    bad = [m for m in matches if m["kind"] != "ok"]
    facts = {"log_matches": matches}
    if bad:
        return Outcome("failures", WARN, logscan.summary(matches), evidence, facts)
    return Outcome("clean", PASS, logscan.summary(matches), evidence, facts)

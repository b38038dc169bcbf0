"""flyctl: who is logged in, what the platform says about the apps, and a
`fly proxy` so the Postgres checks can run from outside the 6PN.

Strings and JSON field names: ../shared/facts/fly.md §2 (proxy), §6.2 (JSON:
PascalCase for `ips list`, snake_case for machines), §7 F8/F11/F17/F22.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal

from .. import children
from ..flyctl import FlyctlResult, error_line, kill_group
from ..flyctl import run_flyctl as run
from ..model import FAIL, PASS, WARN, Outcome
from . import probe

# (class, pattern) in order; fly.md §2.3
ERROR_CLASSES: list[tuple[str, re.Pattern]] = [
    (
        "not_authenticated",
        re.compile(r"no access token available|You must be (logged in|authenticated)|session has expired|can't verify access token"),
    ),
    ("app_not_found", re.compile(r"Could not (find|resolve) App", re.I)),
    ("port_in_use", re.compile(r"address already in use")),
    ("host_not_found", re.compile(r"host was not found in DNS")),
    (
        "tunnel_down",
        re.compile(r"tunnel unavailable|Error contacting Fly\.io API when probing|couldn't ping agent|agent failed to start|failed probing|no such organization"),
    ),
]
PROXY_LINE = re.compile(r"^Proxying localhost:(\S+) to remote (\[.*\]:\d+)\s*$")  # fly.md §2.2 step 5


def classify_error(text: str) -> str:
    for cls, pat in ERROR_CLASSES:
        if pat.search(text):
            return cls
    return "other"


def _env(ctx) -> dict:
    env = dict(os.environ)
    env.update(ctx.env)
    return env


async def run_flyctl(ctx, *args: str, timeout: float | None = None) -> FlyctlResult:
    """flyctl as the walk runs it: the path found by the `flyctl` step, the walk's environment."""
    return await run(ctx.facts.get("flyctl_path"), list(args), timeout or ctx.timeout, env=_env(ctx))


# ---------------------------------------------------------------- auth


@probe("flyctl.auth")
async def auth(ctx) -> Outcome:
    r = await run_flyctl(ctx, "auth", "whoami", "--json")
    data = r.parsed(dict)
    if data and data.get("email"):
        return Outcome("ok", PASS, f"logged in as {data['email']}", {"email": data["email"]}, {"fly_user": data["email"]})
    ev = {"command": "fly auth whoami --json", "exit_code": r.rc, "error": r.garbled("auth whoami") if r.rc == 0 else r.error}
    if classify_error(r.stderr + r.stdout) == "not_authenticated":
        return Outcome("not_authenticated", FAIL, r.error or "flyctl is not logged in", ev)
    if r.rc == 0:
        return Outcome("error", WARN, ev["error"], ev)
    return Outcome("error", WARN, f"fly auth whoami failed: {r.error}", ev)


# ---------------------------------------------------------------- platform state


def machine_summary(m: dict) -> dict:
    """The fields a verdict needs from one `fly machines list --json` entry (snake_case, §6.2)."""
    role = ""
    for c in m.get("checks") or []:
        if c.get("name") == "role":
            role = (c.get("output") or "").strip()
    return {
        "id": m.get("id", ""),
        "state": m.get("state", ""),
        "region": m.get("region", ""),
        "private_ip": m.get("private_ip", ""),
        "role": role,
    }


@probe("flyctl.platform")
async def platform(ctx) -> Outcome:
    """Ask the platform first, so a stopped database is named in seconds instead
    of after `fly proxy`'s 4-minute DNS wait (fly.md §2.2 step 4, F8)."""
    hc = ctx.host_class
    pg = ctx.pg_app
    app = ctx.app
    ev: dict = {"pg_app": pg, "host": ctx.pg_url.host}
    if not pg or hc.flavour == "mpg":
        ev["reason"] = "Managed Postgres host: use `fly mpg proxy`" if hc.flavour == "mpg" else "no app name in the host; pass --pg-app"
        return Outcome("no_app", FAIL, ev["reason"], ev)

    jobs = {
        "machines": run_flyctl(ctx, "machines", "list", "-a", pg, "--json"),
        "ips": run_flyctl(ctx, "ips", "list", "-a", pg, "--json"),
        "status": run_flyctl(ctx, "status", "-a", pg, "--json"),
    }
    if app and app != pg:
        jobs["secrets"] = run_flyctl(ctx, "secrets", "list", "-a", app, "--json")
    results = dict(zip(jobs, await asyncio.gather(*jobs.values())))
    kinds = {"status": dict}  # the others print JSON lists
    ev["commands"] = {
        k: ("ok" if r.parsed(kinds.get(k, list)) is not None else "no usable JSON") if r.rc == 0 else (r.error or f"exit {r.rc}")
        for k, r in results.items()
    }

    m = results["machines"]
    if m.rc != 0:
        cls = classify_error(m.stderr + m.stdout)
        ev["error"] = m.error
        if cls == "not_authenticated":
            return Outcome("not_authenticated", FAIL, m.error, ev)
        if cls == "app_not_found":
            apps = await run_flyctl(ctx, "apps", "list", "--json")
            names = [a.get("Name", "") for a in (apps.json() or []) if isinstance(a, dict)]  # PascalCase, §6.2
            shown = ", ".join(n for n in names if n) or "(none listed)"
            ev["apps_existing"] = shown
            return Outcome("app_not_found", FAIL, f"{m.error}; your apps: {shown}", ev, {"apps_existing": shown})
        return Outcome("error", WARN, f"fly machines list failed: {m.error}", ev)
    listed = m.parsed(list)
    if listed is None:  # no machine list is not an empty machine list
        ev["error"] = m.garbled("machines list")
        return Outcome("error", WARN, ev["error"], ev)

    machines = [machine_summary(x) for x in listed if isinstance(x, dict)]
    ev["machines"] = [
        f"{x['id']} {x['state']} {x['region']} {x['private_ip']}" + (f" role={x['role']}" if x["role"] else "") for x in machines
    ]
    started = [x for x in machines if x["state"] == "started"]
    roles = {x["id"]: x["role"] for x in machines if x["role"]}
    if roles:
        ev["roles"] = roles

    st = results["status"].parsed(dict)
    if st:
        org = (st.get("Organization") or {}).get("Slug", "")
        ev["organization"] = org
        if st.get("Network"):
            ev["network"] = st["Network"]
    ips = results["ips"].parsed(list)
    flycast = [i.get("Address", "") for i in (ips or []) if isinstance(i, dict) and i.get("Type") == "private_v6"]
    if ips is not None:
        ev["ip_types"] = sorted({i.get("Type", "") for i in ips if isinstance(i, dict)})
        ev["flycast_ips"] = flycast
    facts: dict = {"fly_org": ev.get("organization", "")} if ev.get("organization") else {}

    # every problem seen goes back; the node's precedence says which one is the outcome
    problems: dict[str, str] = {}
    if hc.flavour == "flycast" and ips is not None and not flycast:
        problems["flycast_no_ip"] = f"{pg} has no private_v6 (Flycast) address in `fly ips list`"
    if hc.flavour != "flycast" and not started:
        stopped = [x for x in machines]
        ev["stopped_machines"] = ", ".join(f"{x['id']} ({x['region']}, {x['state']})" for x in stopped) or "(no machines)"
        ev["stopped_regions"] = ", ".join(sorted({x["region"] for x in stopped if x["region"]}))
        facts.update(
            stopped_machine_ids=" ".join(x["id"] for x in stopped),
            stopped_machine_id=stopped[0]["id"] if stopped else "<MACHINE_ID>",
        )
        problems["machines_stopped"] = f"{pg} has no started machine: {ev['stopped_machines']}"

    sec = results.get("secrets")
    if sec is not None and sec.parsed(list) is not None:
        entries = [s for s in sec.parsed(list) if isinstance(s, dict)]
        ev["secrets"] = {s.get("name", ""): s.get("status", "") for s in entries if s.get("name") in ("DATABASE_URL", "POSTGRES_URL")}
        staged = [s for s in entries if s.get("name") in ("DATABASE_URL", "POSTGRES_URL") and s.get("status") in ("Staged", "Partial")]
        if staged:
            s = staged[0]
            facts.update(secret_name=s["name"], secret_status=s["status"])
            ev.update(secret_name=s["name"], secret_status=s["status"])
            problems["secret_not_deployed"] = f"{s['name']} on {app} is {s['status']}: not on the running machines"
    summary = f"{pg}: {len(started)}/{len(machines)} machines started" + (f", Flycast {flycast[0]}" if flycast else "")
    return Outcome("ok", PASS, summary, ev, facts, problems)


# ---------------------------------------------------------------- fly proxy


class FlyProxy:
    """A running `fly proxy`; closed by the engine at the end of the walk (and
    `--watch-stdin` ends it if this process dies first)."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.port: int | None = None
        self.stderr = bytearray()
        self._drain: asyncio.Task | None = None

    async def aclose(self) -> None:
        p = self.proc
        if p.returncode is None:
            try:
                p.stdin.close()
            except Exception:
                pass
            kill_group(p, signal.SIGTERM)
            try:
                await asyncio.wait_for(p.wait(), 1.0)
            except asyncio.TimeoutError:
                kill_group(p)
                await p.wait()
        if self._drain:
            self._drain.cancel()


async def start_proxy(ctx, remote_port: int, host: str, app: str, limit: float) -> tuple[FlyProxy, str, str]:
    """Start `fly proxy 0:<port> <host> -a <app>` and wait for its `Proxying` line.
    Returns (proxy, status, detail); status ok | failed | timeout."""
    fly = ctx.facts["flyctl_path"]
    args = [fly, "proxy", f"0:{remote_port}", host, "-a", app, "--watch-stdin", "-q"]
    proc = await children.spawn(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(ctx),
    )
    px = FlyProxy(proc)

    async def drain():
        while True:
            chunk = await proc.stderr.read(4096)
            if not chunk:
                return
            px.stderr.extend(chunk[: max(0, 65536 - len(px.stderr))])

    px._drain = asyncio.create_task(drain())

    other: list[str] = []  # stdout lines that are not the `Proxying` line

    async def first_line() -> str | None:
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                return None
            text = raw.decode(errors="replace").strip()
            m = PROXY_LINE.match(text)
            if m:
                return m.group(1) + " " + m.group(2)
            if text and len(other) < 20:
                other.append(text[:200])

    try:
        line = await asyncio.wait_for(first_line(), limit)
    except asyncio.TimeoutError:
        return px, "timeout", f"no `Proxying localhost:...` line within {limit:g} s"
    except BaseException:
        await px.aclose()
        raise
    if line is None:
        try:
            await asyncio.wait_for(asyncio.gather(proc.wait(), px._drain), 2)
        except asyncio.TimeoutError:
            pass
        err = bytes(px.stderr).decode(errors="replace")
        if not err.strip() and other:
            err = "no `Proxying localhost:...` line; it printed: " + other[-1]
        return px, "failed", err
    local, remote = line.split(" ", 1)
    px.port = int(local) if local.isdigit() else None
    return px, "ok", remote


@probe("flyctl.proxy")
async def proxy(ctx) -> Outcome:
    host = ctx.pg_url.host
    port = ctx.pg_url.port
    pg = ctx.pg_app
    limit = ctx.timeout * 2.5
    cmd = f"fly proxy 0:{port} {host} -a {pg} --watch-stdin -q"
    ctx.progress(f"starting {cmd}")
    px, status, detail = await start_proxy(ctx, port, host, pg, limit)
    ev = {"command": cmd}
    if status == "ok" and px.port:
        ctx.resources["fly_proxy"] = px
        ev.update(local_port=px.port, remote=detail)
        facts = {"pg_target_host": "127.0.0.1", "pg_target_port": px.port, "pg_addresses": ["127.0.0.1"], "proxied": True, "proxy_port": px.port}
        return Outcome("ok", PASS, f"Proxying localhost:{px.port} to remote {detail}", ev, facts)
    await px.aclose()
    if status == "timeout":
        cls = "no_answer"
        err = detail
    else:
        err = error_line(detail) or f"fly proxy exited with code {px.proc.returncode}"
        cls = classify_error(detail)
    ev.update(error=err, error_class=cls, exit_code=px.proc.returncode if status != "timeout" else "killed")
    return Outcome("failed", FAIL, f"fly proxy failed ({cls.replace('_', ' ')}): {err}", ev, {"proxy_error_class": cls})

"""Where the walk runs, and whether fly.toml reads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..model import FAIL, PASS, SKIPPED, Outcome
from . import probe

RESOLV_CONF = "/etc/resolv.conf"
HOSTS = "/etc/hosts"
FLY_VARS = ("FLY_APP_NAME", "FLY_MACHINE_ID", "FLY_REGION", "FLY_PRIVATE_IP", "FLY_ALLOC_ID")


def resolv_nameservers(path: str = RESOLV_CONF) -> list[str]:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    return [line.split()[1] for line in text.splitlines() if line.startswith("nameserver") and len(line.split()) > 1]


def hosts_has_6pn(path: str = HOSTS) -> bool:
    try:
        return "fly-local-6pn" in Path(path).read_text(errors="replace")
    except OSError:
        return False


def find_flyctl(ctx) -> str | None:
    explicit = ctx.inputs.text("flyctl")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    path = ctx.env.get("PATH", os.environ.get("PATH", ""))
    return shutil.which("fly", path=path) or shutil.which("flyctl", path=path)


@probe("context.where")
async def where(ctx) -> Outcome:
    return locate(ctx)


def locate(ctx) -> Outcome:
    """Where the walk runs. Tracks run concurrently, so the Fly nodes call this
    too when the context track has not recorded `where` yet."""
    env = ctx.env
    fly_vars = {k: env[k] for k in FLY_VARS if env.get(k)}
    nameservers = resolv_nameservers()
    six_pn_hosts = hosts_has_6pn()
    flyctl = find_flyctl(ctx)
    # fly.md §5.1 (FLY_* variables) and §1.1 (fly-local-6pn in /etc/hosts, fdaa::3 in resolv.conf)
    inside = bool(env.get("FLY_APP_NAME") and (env.get("FLY_MACHINE_ID") or env.get("FLY_ALLOC_ID")))
    inside = inside or (six_pn_hosts and "fdaa::3" in nameservers)
    evidence = {
        "fly_env": fly_vars,
        "resolv_conf_nameservers": nameservers,
        "resolv_conf_fdaa_3": "fdaa::3" in nameservers,
        "hosts_fly_local_6pn": six_pn_hosts,
        "flyctl": flyctl or "not found",
    }
    requested = ctx.inputs.text("flyctl")
    if requested and not flyctl:
        evidence["flyctl"] = f"{requested} (given with --flyctl) is not an executable"
    if inside:
        where = "fly_machine"
        summary = (
            f"inside Fly machine {env.get('FLY_MACHINE_ID', '?')} of {env.get('FLY_APP_NAME', '?')} ({env.get('FLY_REGION', '?')})"
            + ("; 6PN resolver fdaa::3" if "fdaa::3" in nameservers else "")
        )
    elif flyctl:
        where = "laptop_flyctl"
        summary = f"outside Fly; flyctl at {flyctl}"
    else:
        where = "laptop"
        summary = "outside Fly; flyctl not found"
    facts = {"where": where}
    if flyctl:
        facts["flyctl_path"] = flyctl
    elif requested:
        facts["flyctl_requested_missing"] = True
    if inside:
        facts.update(machine_app=env.get("FLY_APP_NAME", ""), machine_region=env.get("FLY_REGION", ""))
    return Outcome(where, PASS, summary, evidence, facts)


@probe("config.fly_toml")
async def fly_toml(ctx) -> Outcome:
    inputs = ctx.inputs
    err = inputs.fly_toml_error
    if err:
        where = f"{err['path']}" + (f" line {err['line']}, column {err['column']}" if err.get("line") else "")
        return Outcome(
            "invalid",
            FAIL,
            f"{where}: {err['message']}",
            {
                "path": err["path"],
                "location": where,
                "line": err.get("line", 0),
                "column": err.get("column", 0),
                "error": err["message"],
                "text": err.get("text", ""),
            },
            {"fly_toml_path": err["path"], "fly_toml_line": err.get("line", 0)},
        )
    if inputs.fly_toml is None:
        return Outcome("absent", SKIPPED, "no fly.toml here (pass --config or --app)", {"cwd": str(inputs.cwd)})
    app = inputs.fly_toml.get("app")
    problems = [f"{p['file']}:{p['line']}: {p['message']}" for p in inputs.problems]
    return Outcome(
        "ok",
        PASS,
        f"app = \"{app}\"" + (f"; primary_region = \"{inputs.fly_toml.get('primary_region')}\"" if inputs.fly_toml.get("primary_region") else ""),
        {"app": app, "primary_region": inputs.fly_toml.get("primary_region", ""), "file_problems": problems},
    )

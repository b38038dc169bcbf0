"""The `ship` and `fleet` commands: their flags, their printed forms and the
wizard for a machine's walk (wired into tui/cli.py). The work itself is
headless, in diagnostics/remote/."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys

from diagnostics.remote import fleet as fleet_mod
from diagnostics.remote.compare import compare
from diagnostics.remote.ship import ShipError, find_executable, list_machines, pick_machine, remote_path, remove, run_on_machine, upload, walk_argv
from diagnostics.report import ExitCode, Report
from diagnostics.secret import redact, redact_obj


def add_parsers(sub, common) -> None:
    s = sub.add_parser("ship", help="run the walk on a running machine of an app (through flyctl)")
    _remote_flags(s)
    s.add_argument("--machine", metavar="ID", help="the machine (default: the first started one)")
    s.add_argument("--keep", action="store_true", help="leave the executable on the machine")
    s.add_argument("--pty", action="store_true", help="run the interactive wizard there (fly ssh console --pty)")
    s.add_argument("--no-local", action="store_true", help="do not compare with a walk from here")
    common(s, suppress=True)
    f = sub.add_parser("fleet", help="run the headless walk on every started machine of an app")
    _remote_flags(f)
    f.add_argument("--parallel", type=int, default=4, help="machines at once (default 4)")
    f.add_argument("--machine-timeout", type=float, default=120.0, help="seconds per flyctl call on one machine (default 120)")
    f.add_argument("--keep", action="store_true", help="leave the executable on the machines")
    common(f, suppress=True)


def _remote_flags(p) -> None:
    p.add_argument("-a", dest="app", metavar="APP", help="the Fly app whose machines run the walk")
    p.add_argument("--exe", metavar="PATH", help="the single-file executable to ship (default: dist/fcp-doctor, or this one)")
    p.add_argument("--transfer", choices=("auto", "sftp", "stream"), default="auto", help="how to upload: fly ssh sftp put, or a fly ssh console stream")


class RemoteUsage(Exception):
    pass


def _flyctl(args) -> str:
    explicit = getattr(args, "flyctl", None)
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise ShipError(f"--flyctl {explicit} is not an executable")
        return explicit
    found = shutil.which("fly") or shutil.which("flyctl")
    if not found:
        raise ShipError("flyctl not found on PATH (install: curl -L https://fly.io/install.sh | sh), or pass --flyctl PATH")
    return found


def _app(args) -> str:
    app = getattr(args, "app", None) or os.environ.get("FLY_APP")
    if not app:
        raise RemoteUsage("-a APP is required (the app whose machines run the walk)")
    return app


def _walk_args(args) -> list[str]:
    """What the machine's walk gets: the symptom and the time limit, never a
    secret (the machine reads its own environment, secrets included)."""
    out = ["--timeout", f"{getattr(args, 'timeout', 5.0) or 5.0:g}"]
    symptom = getattr(args, "symptom", None)
    if symptom and symptom != "everything":
        out += ["--symptom", symptom]
    return out


def wizard_wanted(args) -> bool:
    from .cli import plain_wanted

    return not plain_wanted(args)


def show_in_wizard(args, recorded: dict, title: str, comparison: dict | None) -> int:
    """The machine's walk, replayed through the local engine and shown in the wizard."""
    from diagnostics import recording

    from .cli import run_wizard

    rec = recording.parse(recorded, "the machine's recording")
    if comparison and not comparison.get("agree"):
        title += f" · from here: {comparison['local']['verdict']} ({redact(comparison['explanation'])[:60]})"
    args.symptom = rec.symptom
    return run_wizard(args, rec.context(), rec.runner(speed=0), title=title)


def _code(report: dict | None) -> ExitCode:
    return ExitCode.of(report.get("verdict") if report else None)


async def _local_walk(ctx, symptom: str) -> dict:
    from diagnostics.engine import Engine

    report = await Engine(ctx, symptom).run()
    return report.to_json()


def cmd_ship(args, make_context) -> int:
    from diagnostics import render

    try:
        app = _app(args)
    except RemoteUsage as exc:
        print(f"fcp-doctor: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        flyctl = _flyctl(args)
        exe = find_executable(args.exe)
        timeout = max(30.0, (getattr(args, "timeout", 5.0) or 5.0) * 12)
        machines = asyncio.run(list_machines(flyctl, app, timeout))
        m = pick_machine(machines, app, args.machine)
    except ShipError as exc:
        print(f"fcp-doctor: {exc}", file=sys.stderr)
        return ExitCode.INCONCLUSIVE
    where = f"{app}'s machine {m.id} in {m.region}"
    if args.pty:
        return _ship_pty(flyctl, app, m, exe, args, timeout)

    local_ctx = None if args.no_local else make_context(args)
    symptom = getattr(args, "symptom", "everything") or "everything"
    in_wizard = not args.json and wizard_wanted(args)

    async def both():
        remote = run_on_machine(flyctl, app, m, exe, _walk_args(args), timeout, keep=args.keep, transfer=args.transfer, want_recording=in_wizard)
        if local_ctx is None:
            return await remote, None
        return await asyncio.gather(remote, _local_walk(local_ctx, symptom))

    print(f"fcp-doctor: running the walk on {where} …", file=sys.stderr)
    run, local = asyncio.run(both())
    for note in run.notes:
        print(f"fcp-doctor: {note}", file=sys.stderr)
    if run.report is None:
        print(f"fcp-doctor: {where}: {run.error}", file=sys.stderr)
        return ExitCode.INCONCLUSIVE
    comparison = compare(local, run.report, app, m.id, m.region) if local else None
    if args.json:
        doc = {
            "schema": "fcp-doctor.ship/1", "app": app, "machine": m.id, "region": m.region, "seen_from": where,
            "transfer": run.transfer, "remote": run.report, "local": local, "comparison": comparison,
        }
        print(json.dumps(redact_obj(doc), indent=2))
        return _code(run.report)
    if in_wizard and run.recording is not None:
        return show_in_wizard(args, run.recording, f"seen from {where}", comparison)
    out = sys.stdout
    color = render.use_color(out)
    rep = Report.from_json(run.report)
    print(f"fcp-doctor — seen from {where} (uploaded by {run.transfer})", file=out)
    print("Checks:", file=out)
    for s in rep.steps:
        print(render.step_line(s, color), file=out)
    for line in render.verdict_lines(rep, color):
        print(line, file=out)
    if comparison:
        print("", file=out)
        print("Two vantage points:", file=out)
        loc, remv = comparison["local"], comparison["remote"]
        print(f"  from here:        {loc['verdict']}" + (f" ({loc['cause']})" if loc["cause"] else ""), file=out)
        print(f"  from the machine: {remv['verdict']}" + (f" ({remv['cause']})" if remv["cause"] else ""), file=out)
        print(redact(f"  {'AGREE' if comparison['agree'] else 'DIFFER'}: {comparison['explanation']}"), file=out)
        if comparison["cause"] and not comparison["agree"]:
            print(f"  cause: {comparison['cause']}", file=out)
    return _code(run.report)


def _ship_pty(flyctl: str, app: str, m, exe, args, timeout: float) -> int:
    """The wizard on the machine, over `fly ssh console --pty` (stdio is the user's terminal)."""
    remote = remote_path()
    try:
        how = asyncio.run(upload(flyctl, app, m, exe, remote, timeout, args.transfer))
    except ShipError as exc:
        print(f"fcp-doctor: {exc}", file=sys.stderr)
        return ExitCode.INCONCLUSIVE
    print(f"fcp-doctor: uploaded by {how}; starting the wizard on {app}'s machine {m.id} in {m.region}", file=sys.stderr)
    try:
        rc = subprocess.call([flyctl, "ssh", "console", "--pty", "-a", app, "--machine", m.id, "-C", walk_argv(remote, ["wizard", *_walk_args(args)])])
    finally:
        if not args.keep:
            r = asyncio.run(remove(flyctl, app, m, remote, 30))
            if not r.ok:
                print(f"fcp-doctor: could not remove {remote}: {redact(r.error_line())}", file=sys.stderr)
        else:
            print(f"fcp-doctor: kept at {remote} on machine {m.id}", file=sys.stderr)
    return rc


def cmd_fleet(args) -> int:
    try:
        app = _app(args)
    except RemoteUsage as exc:
        print(f"fcp-doctor: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if args.parallel < 1 or not (0 < args.machine_timeout <= 3600):
        print("fcp-doctor: --parallel must be at least 1 and --machine-timeout between 0 and 3600", file=sys.stderr)
        return ExitCode.USAGE
    try:
        flyctl = _flyctl(args)
        exe = find_executable(args.exe)
        machines = asyncio.run(list_machines(flyctl, app, args.machine_timeout))
    except ShipError as exc:
        print(f"fcp-doctor: {exc}", file=sys.stderr)
        return ExitCode.INCONCLUSIVE
    started = [m for m in machines if m.state == "started"]
    if not started:
        print(f"fcp-doctor: app {app} has no started machine (see `fly machines list -a {app}`)", file=sys.stderr)
        return ExitCode.INCONCLUSIVE
    print(f"fcp-doctor: running the walk on {len(started)} machine(s) of {app}, {args.parallel} at a time …", file=sys.stderr)
    runs = asyncio.run(
        fleet_mod.run_fleet(flyctl, app, started, exe, _walk_args(args), args.parallel, args.machine_timeout, args.keep, args.transfer)
    )
    doc = fleet_mod.table(runs)
    if args.json:
        print(json.dumps(fleet_mod.to_json(app, runs, doc), indent=2))
    else:
        for line in fleet_lines(app, doc):
            print(redact(line))
    return fleet_mod.exit_code(doc)


def fleet_lines(app: str, doc: dict) -> list[str]:
    """The fleet document as a table, the machines that disagree with the majority first."""
    rows = doc["machines"]
    if not rows:
        return [f"{app}: no started machine"]
    maj = doc["majority"]
    lines = [f"fleet of {app}: {len(rows)} started machine(s); majority: {maj['verdict']}" + (f" ({maj['cause']})" if maj["cause"] else "") + f" on {maj['machines']}", ""]
    head = f"{'':2}{'machine':<16} {'region':<7} {'verdict':<13} {'Postgres RTT':>12}  cause"
    lines.append(head)
    for r in rows:
        mark = "! " if not r["agrees"] else "  "
        rtt = f"{r['pg_rtt_ms']:.1f} ms" if r["pg_rtt_ms"] is not None else "—"
        what = r["cause"] or ("" if r["verdict"] == "healthy" else r["title"])
        if r["cause"] and r["title"]:
            what = f"{r['cause']}: {r['title']}"
        lines.append(f"{mark}{r['machine']:<16} {r['region']:<7} {r['verdict']:<13} {rtt:>12}  {what}")
    if any(not r["agrees"] for r in rows):
        lines += ["", "! disagrees with the majority: run `fcp-doctor ship -a " + app + " --machine ID` for its full walk"]
    return lines

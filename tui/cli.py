"""The command line: `fcp-doctor [wizard] | diagnose | demo | replay | causes | tree | ship | fleet`.

Imports no Textual unless the full-screen wizard is really started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from diagnostics import __version__

EXIT_HEALTHY, EXIT_CAUSE, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

INPUT_FLAGS = {
    "database_url": ("--database-url", "URL", "Postgres URL (else DATABASE_URL, POSTGRES_URL, .env.local, .env)"),
    "convex_url": ("--convex-url", "URL", "Convex deployment URL (else CONVEX_URL, CONVEX_SELF_HOSTED_URL, ...)"),
    "convex_site_url": ("--convex-site-url", "URL", "Convex HTTP actions origin (else CONVEX_SITE_URL, or derived)"),
    "http_action": ("--http-action", "PATH", "the HTTP action route to ping"),
    "admin_key": ("--admin-key", "KEY", "Convex admin or deploy key (masked everywhere)"),
    "app": ("--app", "NAME", "Fly app name (else FLY_APP_NAME, FLY_APP, fly.toml)"),
    "pg_app": ("--pg-app", "NAME", "Fly Postgres app name (else taken from the URL's host)"),
    "config": ("--config", "PATH", "fly.toml path (default ./fly.toml)"),
    "backend_env": ("--backend-env", "FILE", "a self-hosted Convex backend's environment as KEY=VALUE lines"),
    "resolver": ("--resolver", "ADDR[:PORT]", "the 6PN DNS server (fdaa::3 inside a machine)"),
    "flyctl": ("--flyctl", "PATH", "flyctl binary (else fly, flyctl on PATH)"),
    "wireguard_config": ("--wireguard-config", "FILE", "a WireGuard config whose DNS = line names the 6PN resolver"),
}


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(EXIT_USAGE, f"fcp-doctor: {message}\n")


def _common(p: argparse.ArgumentParser, suppress: bool) -> None:
    d = argparse.SUPPRESS if suppress else None
    for name, (flag, metavar, help_) in INPUT_FLAGS.items():
        p.add_argument(flag, dest=name, metavar=metavar, help=help_, default=d)
    p.add_argument("--symptom", default=d if suppress else "everything", help="where the walk starts (see `fcp-doctor tree`)")
    p.add_argument("--timeout", type=float, default=d if suppress else 5.0, help="per-probe limit in seconds (default 5)")
    p.add_argument("--record", metavar="FILE", default=d, help="write the walk (redacted) for `replay`")
    p.add_argument("--plain", action="store_true", default=d if suppress else False, help="line mode, no full-screen UI")
    p.add_argument("--json", action="store_true", default=d if suppress else False, help="print the JSON report on stdout")
    p.add_argument("--low-bandwidth", action="store_true", default=d if suppress else False, help="fewer screen updates (slow SSH links)")
    p.add_argument("--apply", action="store_true", default=d if suppress else False, help="after the verdict, offer the fix's fly.toml changes (diff first) and live commands")
    p.add_argument("--yes", action="store_true", default=d if suppress else False, help="with --apply: apply fly.toml changes without asking (headless)")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="fcp-doctor", description="Find why Convex, your Fly app or your laptop can't reach Postgres on Fly.io.")
    p.add_argument("--version", action="version", version=f"fcp-doctor {__version__}")
    _common(p, suppress=False)
    sub = p.add_subparsers(dest="command", parser_class=Parser)
    for name, help_ in (("wizard", "the interactive wizard (the default)"), ("diagnose", "walk the tree headless and print the verdict")):
        sp = sub.add_parser(name, help=help_)
        _common(sp, suppress=True)
    d = sub.add_parser("demo", help="replay a bundled walk (no network)")
    d.add_argument("scenario", nargs="?", default="fly-ssl-require")
    d.add_argument("--list", action="store_true", help="name the scenarios")
    d.add_argument("--speed", type=float, default=1.0, help="pace: 1 = recorded timing, 0 = instant")
    d.add_argument("--cast", metavar="FILE", help="write the wizard's walk as an asciinema v2 recording (80x24) instead of showing it")
    _common(d, suppress=True)
    r = sub.add_parser("replay", help="replay a walk recorded with --record FILE")
    r.add_argument("file")
    r.add_argument("--speed", type=float, default=1.0, help="pace: 1 = recorded timing, 0 = instant")
    _common(r, suppress=True)
    cp = sub.add_parser("convex-probe", help="write the Convex module that tests Postgres from inside Convex")
    cp.add_argument("action", choices=["init"])
    cp.add_argument("--dir", default="convex", help="the Convex functions folder (default convex)")
    cp.add_argument("--force", action="store_true", help="replace fcp-doctor's module files if they differ")
    c = sub.add_parser("causes", help="the catalog of root causes")
    c.add_argument("--json", action="store_true")
    sub.add_parser("tree", help="print the whole decision tree")
    from diagnostics.remote import cli as remote_cli

    remote_cli.add_parsers(sub, _common)  # ship, fleet
    return p


def plain_wanted(args) -> bool:
    if getattr(args, "plain", False) or getattr(args, "json", False):
        return True
    if os.environ.get("TERM", "") in ("", "dumb", "unknown"):
        return True
    try:
        return not (sys.stdin.isatty() and sys.stderr.isatty())
    except (AttributeError, ValueError):
        return True


def make_context(args):
    from diagnostics.context import Context
    from diagnostics.inputs import discover
    from diagnostics.urls import UrlError, parse_convex_url, parse_pg_url

    flags = {name: getattr(args, name, None) for name in INPUT_FLAGS}
    # a URL given as a flag that does not parse is a usage error (exit 2)
    if flags.get("database_url"):
        try:
            parse_pg_url(flags["database_url"])
        except UrlError as exc:
            raise UsageError(f"--database-url: {exc}" + (f" (at '{exc.part}')" if exc.part else ""))
    for key in ("convex_url", "convex_site_url"):
        if flags.get(key):
            try:
                parse_convex_url(flags[key])
            except UrlError as exc:
                raise UsageError(f"--{key.replace('_', '-')}: {exc}")
    if flags.get("resolver") or flags.get("wireguard_config"):
        from diagnostics.probes.fly import parse_resolver, wireguard_dns

        if flags.get("resolver"):
            try:
                parse_resolver(flags["resolver"])
            except ValueError:
                raise UsageError(f"--resolver: '{flags['resolver']}' is not ADDR or ADDR:PORT (e.g. fdaa::3, [fdaa:0:18::3]:53)")
        if flags.get("wireguard_config"):
            dns = wireguard_dns(flags["wireguard_config"])
            if not dns:
                raise UsageError(f"--wireguard-config: no readable `DNS =` line in {flags['wireguard_config']}")
            try:
                parse_resolver(dns)
            except ValueError:
                raise UsageError(f"--wireguard-config: the DNS = line '{dns}' is not an IP address")
    timeout = getattr(args, "timeout", None)
    if timeout is None:
        timeout = 5.0
    if not (0 < timeout <= 600):
        raise UsageError("--timeout must be between 0 and 600 seconds")
    inputs = discover(flags)
    return Context(inputs=inputs, timeout=float(timeout))


def check_symptom(symptom: str) -> None:
    from diagnostics import tree

    if symptom not in tree.SYMPTOMS:
        raise UsageError(f"unknown symptom '{symptom}' (one of: {', '.join(tree.SYMPTOMS)})")


async def walk_plain(engine, out, color: bool, asker_enabled: bool, json_mode: bool, header_lines=()) -> "object":
    from diagnostics import render
    from diagnostics.model import Question, StepFinished, StepStarted, VerdictReady

    report = None
    if not json_mode:
        for line in header_lines:
            print(line, file=out)
    async for ev in engine.events():
        if isinstance(ev, StepFinished) and not json_mode:
            print(render.step_line(ev.step, color), file=out, flush=True)
        elif isinstance(ev, StepStarted) and not json_mode:
            pass
        elif isinstance(ev, Question) and not asker_enabled and not json_mode:
            print(f"NOTE  {ev.prompt}: skipped (no terminal to ask on)", file=out)
        elif isinstance(ev, VerdictReady):
            report = ev.report
    return report


def _line_asker():
    import getpass

    async def ask(q):
        loop = asyncio.get_running_loop()
        prompt = f"? {q.prompt}\n  ({q.why}) leave empty to skip: "

        def read():
            try:
                if q.secret:
                    return getpass.getpass(prompt, stream=sys.stderr)
                sys.stderr.write(prompt)
                sys.stderr.flush()
                return sys.stdin.readline().strip()
            except (EOFError, OSError):
                return ""

        return (await loop.run_in_executor(None, read)) or None

    return ask


def run_walk(args, ctx, runner=None, interactive: bool = False, header: str = "") -> int:
    from diagnostics import recording, render
    from diagnostics.engine import Engine, RecordingRunner

    symptom = getattr(args, "symptom", "everything") or "everything"
    check_symptom(symptom)
    record_path = getattr(args, "record", None)
    if record_path:
        runner = RecordingRunner(runner)
    asker = _line_asker() if interactive else None
    engine = Engine(ctx, symptom, runner=runner, asker=asker)
    out = sys.stdout
    color = render.use_color(out)
    json_mode = bool(getattr(args, "json", False))
    head = [f"fcp-doctor {__version__} — {header or engine.symptom.title}"]
    report = asyncio.run(walk_plain(engine, out, color, interactive, json_mode, head + ["Found:"] + _inputs_preview(ctx) + ["Checks:"]))
    if record_path:
        recording.save(recording.from_walk(ctx, symptom, runner), record_path)
    if json_mode:
        print(json.dumps(report.to_json(), indent=2))
    else:
        for line in render.verdict_lines(report, color):
            print(line, file=out)
    if getattr(args, "apply", False):
        return apply_fixes(args, ctx, report, sys.stderr if json_mode else out)
    return report.exit_code


def apply_fixes(args, ctx, report, out) -> int:
    """`--apply`: show the fix's file changes and live commands, apply on yes, then walk again."""
    from diagnostics import fixes

    diagnoses = ([report.root_cause] if report.root_cause else []) + list(report.findings)
    if ctx.replay:
        print("\n--apply: a replayed walk changes nothing.", file=out)
        return report.exit_code
    if not fixes.patches_of(diagnoses) and not fixes.commands_of(diagnoses):
        print("\n--apply: nothing to apply.", file=out)
        return report.exit_code
    tty = sys.stdin.isatty()
    print("", file=out)
    res = fixes.offer(
        diagnoses,
        out,
        _yes_no(out) if tty else None,
        yes=bool(getattr(args, "yes", False)),
        config=ctx.inputs.text("config"),
        cwd=ctx.inputs.cwd,
        run_commands=tty,
    )
    if not res.changed:
        return report.exit_code
    print("\nChecking again after the change:", file=out)
    args.apply = False
    return run_walk(args, make_context(args), header="after the fix")


def _yes_no(out):
    def ask(question: str) -> bool:
        out.write(f"? {question} [y/N] ")
        out.flush()
        try:
            return sys.stdin.readline().strip().lower() in ("y", "yes")
        except (EOFError, OSError):
            return False

    return ask


def _inputs_preview(ctx) -> list[str]:
    files = ctx.inputs.files_found
    lines = [f"  {'files':<16} {', '.join(files) if files else 'no fly.toml, .env.local or .env here'}"]
    for name, v in sorted(ctx.inputs.values.items()):
        lines.append(f"  {name:<16} {v.display}   ({v.source})")
    for p in ctx.inputs.problems:
        lines.append(f"  WARN {p['file']}:{p['line']}: {p['message']}")
    return lines


def cmd_causes(args) -> int:
    from diagnostics import causes

    rows = causes.listing()
    if args.json:
        print(json.dumps({"schema": "fcp-doctor.causes/1", "causes": rows}, indent=2))
    else:
        for r in rows:
            sev = " (warning)" if r["severity"] == "warning" else ""
            print(f"{r['id']:<40} {r['layer']:<12} {r['title']}{sev}")
    return 0


def cmd_replay(args, rec, header: str) -> int:
    ctx = rec.context()
    args.symptom = rec.symptom
    if not plain_wanted(args) and not getattr(args, "record", None):
        return run_wizard(args, ctx, rec.runner(speed=args.speed), title=header)
    return run_walk(args, ctx, runner=rec.runner(speed=args.speed if not args.json else 0), header=header)


def run_wizard(args, ctx, runner=None, title: str = "") -> int:
    try:
        from tui.app import run_app
    except ImportError:  # the full-screen wizard is optional; plain mode is always there
        return run_walk(args, ctx, runner=runner, interactive=sys.stdin.isatty(), header=title)
    return run_app(args, ctx, runner=runner, title=title)


def main(argv: list[str] | None = None) -> int:
    from diagnostics.secret import install_log_redaction

    install_log_redaction()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except UsageError as exc:
        print(f"fcp-doctor: {_redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("fcp-doctor: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `fcp-doctor diagnose | head`
        return 0
    except Exception as exc:  # never a traceback (it could carry a secret): one redacted line
        print(f"fcp-doctor: internal error: {type(exc).__name__}: {_redact(str(exc)).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return EXIT_INCONCLUSIVE


def _redact(text: str) -> str:
    from diagnostics.secret import redact

    return redact(text)


def cmd_cast(rec, title: str, path: str) -> int:
    try:
        from tui.cast import write_cast
    except ImportError as exc:
        raise UsageError(f"--cast needs the full-screen wizard (Textual): {exc}")
    try:
        out = write_cast(rec, title, path)
    except OSError as exc:
        raise UsageError(f"--cast: cannot write {path}: {exc.strerror or exc}")
    print(f"fcp-doctor: wrote {out} (asciinema v2, play with `asciinema play {out}`)", file=sys.stderr)
    return EXIT_HEALTHY


def _dispatch(args) -> int:
    from diagnostics import recording

    cmd = args.command or "wizard"
    if cmd == "causes":
        return cmd_causes(args)
    if cmd == "convex-probe":
        from diagnostics.convex_probe import InitError, init

        try:
            lines = init(Path.cwd(), args.dir, args.force)
        except InitError as exc:
            raise UsageError(str(exc))
        print("\n".join(lines))
        return 0
    if cmd == "tree":
        from diagnostics import tree

        print(tree.describe())
        return 0
    if cmd == "demo":
        scenarios = recording.demo_scenarios()
        if args.list:
            for name, path in scenarios.items():
                rec = recording.load(path)
                print(f"{name:<28} {rec.title}")
            return 0
        if args.scenario not in scenarios:
            raise UsageError(f"unknown demo scenario '{args.scenario}' (see `fcp-doctor demo --list`)")
        rec = recording.load(scenarios[args.scenario])
        if args.cast:
            return cmd_cast(rec, f"demo: {rec.title}", args.cast)
        return cmd_replay(args, rec, header=f"demo: {rec.title}")
    if cmd == "replay":
        try:
            rec = recording.load(args.file)
        except recording.RecordingError as exc:
            raise UsageError(str(exc))
        return cmd_replay(args, rec, header=f"replay of {Path(args.file).name}")
    if cmd in ("ship", "fleet"):
        from diagnostics.remote import cli as remote_cli

        check_symptom(args.symptom)
        return remote_cli.cmd_ship(args, make_context) if cmd == "ship" else remote_cli.cmd_fleet(args)
    ctx = make_context(args)
    check_symptom(args.symptom)
    if cmd == "diagnose":
        return run_walk(args, ctx)
    if plain_wanted(args):
        return run_walk(args, ctx, interactive=sys.stdin.isatty() and not args.json)
    return run_wizard(args, ctx)


if __name__ == "__main__":
    sys.exit(main())

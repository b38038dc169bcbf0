"""`make bench`: time to verdict, start-up and footprint; writes
bench/results.json, bench/results.md and the README's Performance table.

    python -m bench                  # everything
    python -m bench -k standby       # only scenarios whose name contains a word (no files written)
    python -m bench -k fleet         # only the fleet timing; -k terminal: only the terminal's bytes
Environment: BENCH_RUNS (3), BENCH_SLOW_RUNS (2), BENCH_STARTUP_RUNS (5), BENCH_BOUND (30 s),
BENCH_LATENCIES ("20,80" ms round trip), BENCH_LATENCY_RUNS (2).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone

from . import alternatives, fleet, footprint, latency, report, startup, verdict
from .alternatives import ROOT, WORK
from .lab import APP_DB, APP_PW, APP_USER, SUPERPASS, Lab
from .scenarios import ALL


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine() -> dict:
    def out(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    return {
        "cpus": os.cpu_count(),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "psql": out(["psql", "--version"]),
        "pgbouncer": out(["pgbouncer", "--version"]),
        "kernel": platform.release(),
        "tcp_syn_retries": open("/proc/sys/net/ipv4/tcp_syn_retries").read().strip(),
    }


def demo_or_replay(lab) -> tuple[list[str], str]:
    """A bundled demo when one replays to a verdict, else a walk recorded here
    and replayed (the same replay path a demo takes)."""
    env = verdict.fcp_env(lab)
    listing = subprocess.run([sys.executable, "-m", "tui", "demo", "--list"], capture_output=True, text=True, env=env, cwd=lab.home)
    names = [line.split()[0] for line in listing.stdout.splitlines() if line.strip()]
    why = "no bundled demo in this tree"
    for name in names:
        r = subprocess.run([sys.executable, "-m", "tui", "demo", name, "--json"], capture_output=True, text=True, env=env, cwd=lab.home)
        try:
            v = json.loads(r.stdout).get("verdict")
        except ValueError:
            v = None
        if v in ("healthy", "root_cause"):
            return ["demo", name], f"`fcp-doctor demo {name}` at recorded pace"
        why = f"the bundled demo `{name}` replays to `{v}` in this tree"
    s = next(s for s in ALL if s.name == "no TLS, sslmode=require")
    e = s.build(lab)
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "walk.json"
    subprocess.run(verdict.fcp_cmd(e, "--record", str(path)), env=env, cwd=lab.home, capture_output=True)
    return ["replay", str(path)], f"`fcp-doctor replay` of a walk recorded here (no TLS, sslmode=require) at recorded pace ({why})"


def _max(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("-k", dest="only", help="run only scenarios whose name contains this; writes no files")
    args = ap.parse_args(argv)
    t_start = time.monotonic()
    lab = Lab()
    result: dict = {
        "schema": "fcp-doctor.bench/1",
        "when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "settings": {"runs": verdict.RUNS, "slow_runs": verdict.SLOW_RUNS, "bound_s": alternatives.BOUND_S, "fcp_doctor_timeout_s": 5},
    }
    try:
        log("time to verdict")
        scenarios = [s for s in ALL if not args.only or args.only in s.name]
        result["verdicts"] = [verdict.run_scenario(s, lab, log) for s in scenarios]
        verdict.finish(result["verdicts"], log)
        log("time to verdict at a distance (a delaying proxy)")
        result["latency"] = latency.run_all(scenarios, lab, log)
        if args.only:
            lines = report.latency_section(result["latency"])
            if args.only == "fleet":
                lines += report.fleet_section(fleet.run_all(lab, log))
            if args.only == "terminal":
                replay_args, label = demo_or_replay(lab)
                lines += report.terminal_section(footprint.terminal_walk(lab, verdict.fcp_env, replay_args, label))
            print("\n".join(lines))
            return 0
        cli = alternatives.convex_cli()
        pkg = cli.resolve().parents[1] / "package.json" if cli else None
        result["convex_runner"] = {
            "cli": str(cli.relative_to(ROOT)) if cli else None,
            "version": json.loads(pkg.read_text()).get("version") if pkg and pkg.exists() else None,
            "scenarios": sum(1 for s in ALL if s.layer == "convex"),
        }
        healthy = lab.primary.url(APP_USER, APP_PW, APP_DB)
        log("start-up")
        result["startup"] = startup.diagnose_startup(lab, verdict.fcp_env, healthy)
        result["first_screen"] = startup.first_screens(lab, verdict.fcp_env, healthy)
        log("footprint")
        replay_args, label = demo_or_replay(lab)
        h = next(r for r in result["verdicts"] if r["name"] == "healthy")
        result["footprint"] = {
            "headless_walk_maxrss_kb": _max(x["maxrss_kb"] for x in h["fcp_doctor"]["runs"]),
            "all_walks_maxrss_kb": _max(x["maxrss_kb"] for r in result["verdicts"] if r.get("fcp_doctor") for x in r["fcp_doctor"]["runs"]),
            "terminal": footprint.terminal_walk(lab, verdict.fcp_env, replay_args, label),
            "wizard_mode": startup.wizard_mode(),
        }
        log("fleet")
        result["fleet"] = fleet.run_all(lab, log)
    finally:
        lab.close()
    result["total_s"] = round(time.monotonic() - t_start, 1)
    out = ROOT / "bench"
    text = json.dumps(result, indent=2) + "\n"
    for pw in (APP_PW, SUPERPASS, "not-the-password"):  # tools' output is kept: never a password in it
        if pw in text:
            log("a password appeared in a tool's output; masked in the results")
            text = text.replace(pw, "****")
    result = json.loads(text)
    (out / "results.json").write_text(text)
    (out / "results.md").write_text(report.markdown(result))
    report.update_readme(ROOT / "README.md", result)
    log(f"wrote bench/results.md, bench/results.json and README's Performance section ({result['total_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

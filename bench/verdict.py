"""Time to verdict: fcp-doctor against each scenario, several runs, with the
alternatives side by side in the same run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

from . import alternatives, measure
from .alternatives import ALTERNATIVES, BOUND_S, ROOT, clean_env, first_line, key_line

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SLOW_RUNS = int(os.environ.get("BENCH_SLOW_RUNS", "2"))
LONG_S = 10.0  # an alternative that took longer than this is not run again


def fcp_env(lab, extra: dict | None = None) -> dict:
    env = clean_env(lab.home, extra)
    env["PYTHONPATH"] = str(ROOT)
    return env


def fcp_cmd(env, *extra: str) -> list[str]:
    return [*env.wrap, sys.executable, "-m", "tui", "diagnose", "--json", *extra, *env.fcp_args]


def judge(scenario, r: measure.Run) -> tuple[bool, str, int | None, str]:
    """(correct, what it said, the walk's own elapsed_ms, the verdict's title):
    the root cause id, or healthy, with the exit code."""
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        return False, f"no JSON (exit {r.rc}): {first_line(r.stderr)}", None, ""
    rc = doc.get("root_cause") or {}
    said = rc.get("id") or doc.get("verdict", "?")
    title = rc.get("title") or doc.get("verdict", "")
    if scenario.expect is None:
        return doc.get("verdict") == "healthy" and r.rc == 0, said, doc.get("elapsed_ms"), title
    return rc.get("id") == scenario.expect and r.rc == 1, said, doc.get("elapsed_ms"), title


def run_scenario(scenario, lab, log) -> dict:
    row = {"name": scenario.name, "layer": scenario.layer, "expect": scenario.expect or "healthy", "note": scenario.note}
    if scenario.build is None:
        row["fcp_doctor"] = None
        row["skipped"] = scenario.note or "no builder in this tree"
        row["alternatives"] = {k: _documented(k) for k in scenario.alternatives if ALTERNATIVES[k].documented}
        return row
    try:
        env = scenario.build(lab)
    except Exception as exc:  # e.g. no root for a network namespace: a row that says so, not a crash
        row["fcp_doctor"] = None
        row["skipped"] = f"could not build: {type(exc).__name__}: {first_line(str(exc))}"
        row["alternatives"] = {}
        log(f"  {scenario.name:<32} skipped: {row['skipped']}")
        return row
    runs = SLOW_RUNS if scenario.slow else RUNS
    alts: dict[str, dict] = {}
    background = []
    for key in scenario.alternatives:
        alt = ALTERNATIVES[key]
        if alt.documented:
            alts[key] = _documented(key)
        elif getattr(env, alt.needs, None) is None:
            alts[key] = {"command": alt.command, "skipped": f"the scenario gives no {alt.needs}"}
        elif scenario.slow:
            # one bounded run in the background, alongside the scenarios that follow:
            # it only waits on the network (joined by finish())
            t = threading.Thread(target=lambda k=key, a=alt: alts.__setitem__(k, _alt(scenario, a, env, lab, 1)), daemon=True)
            t.start()
            background.append(t)
        else:
            alts[key] = _alt(scenario, alt, env, lab, runs)
    fcp_runs = []
    for _ in range(runs):
        r = measure.run(fcp_cmd(env), env=fcp_env(lab, env.env), cwd=lab.home, bound=120)
        ok, said, walk_ms, title = judge(scenario, r)
        fcp_runs.append({"wall_s": r.wall_s, "walk_ms": walk_ms, "rc": r.rc, "maxrss_kb": r.maxrss_kb, "said": said, "title": title, "correct": ok})
    s = measure.stats([x["wall_s"] for x in fcp_runs])
    row["fcp_doctor"] = {
        **s,
        "walk_median_s": measure.stats([x["walk_ms"] / 1000 for x in fcp_runs if x["walk_ms"] is not None])["median_s"],
        "correct": sum(x["correct"] for x in fcp_runs),
        "said": fcp_runs[-1]["said"],
        "runs": fcp_runs,
    }
    row["alternatives"] = alts
    row["_pending"] = background
    if not background:
        _finish_row(row, log)
    else:
        log(f"  {scenario.name:<32} fcp-doctor {s['median_s']:.2f}s; the bounded run goes on in the background")
    return row


def finish(rows: list[dict], log) -> None:
    """Join the bounded background runs and fill in every ratio."""
    for row in rows:
        pending = row.pop("_pending", [])
        for t in pending:
            t.join()
        if pending:
            _finish_row(row, log)


def _finish_row(row: dict, log) -> None:
    f = row["fcp_doctor"]
    for a in row["alternatives"].values():
        if a.get("median_s") and f["median_s"]:
            a["ratio"] = round(a["median_s"] / f["median_s"], 2)
        elif a.get("seconds") and f["median_s"]:
            a["ratio"] = round(a["seconds"] / f["median_s"], 1)
    log(f"  {row['name']:<32} fcp-doctor {f['median_s']:.2f}s ({f['correct']}/{len(f['runs'])} {f['said']})  "
        + "  ".join(f"{k} {_short(a)}" for k, a in row["alternatives"].items()))


def _alt(scenario, alt, env, lab, runs: int) -> dict:
    bound = alt.bound or BOUND_S
    results = []
    try:
        for _ in range(runs):
            results.append(alt.run(env, lab, bound))
            if results[-1].wall_s > LONG_S:  # one run is enough for a long wait
                break
    except (OSError, subprocess.CalledProcessError) as exc:  # e.g. npm could not install the convex package
        return {"command": alt.command, "skipped": f"could not run: {first_line(str(exc))}"}
    last = results[-1]
    over = any(r.timed_out for r in results)
    out = {
        "command": alt.command,
        **measure.stats([r.wall_s for r in results]),
        "over_bound": over,
        "bound_s": bound,
        "rc": last.rc,
        "said": key_line(last.stderr) or key_line(last.stdout) or ("(still waiting, killed at the bound)" if over else "(nothing: connected)"),
        "named": alternatives.named(scenario.names.get(alt.key), last) if scenario.expect else None,
        "ok": (last.rc == 0) if scenario.expect is None else None,
    }
    return out


def _documented(key: str) -> dict:
    d = ALTERNATIVES[key].documented()
    return {"command": ALTERNATIVES[key].command, "documented": True, **d}


def _short(a: dict) -> str:
    if a.get("skipped"):
        return "skipped"
    if a.get("documented"):
        return f"{a['seconds']:.0f}s (documented)"
    t = f">{a['bound_s']:.0f}s" if a.get("over_bound") else f"{a['median_s']:.2f}s"
    return f"{t} named={a.get('named')}"

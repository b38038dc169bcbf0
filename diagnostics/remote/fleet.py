"""`fcp-doctor fleet`: the headless walk on every started machine of an app at
once (bounded parallelism, a time limit per machine), and one document:
machine × region × verdict × Postgres round trip, the machines that disagree
with the majority first (tui/remote.py prints it as a table)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from ..report import ExitCode
from ..secret import redact_obj
from .ship import Machine, RemoteRun, run_on_machine

SCHEMA = "fcp-doctor.fleet/1"


async def run_fleet(
    flyctl: str,
    app: str,
    machines: list[Machine],
    exe: Path,
    walk_args: list[str],
    parallel: int = 4,
    machine_timeout: float = 120.0,
    keep: bool = False,
    transfer: str = "auto",
) -> list[RemoteRun]:
    sem = asyncio.Semaphore(max(1, parallel))

    async def one(m: Machine) -> RemoteRun:
        async with sem:
            try:
                # each flyctl call is bounded by the machine's limit; this is the backstop
                return await asyncio.wait_for(
                    run_on_machine(flyctl, app, m, exe, walk_args, machine_timeout, keep=keep, transfer=transfer), machine_timeout * 3 + 5
                )
            except asyncio.TimeoutError:
                return RemoteRun(m, error=f"no result within {machine_timeout * 3 + 5:.0f} s")

    return list(await asyncio.gather(*(one(m) for m in machines)))


def _rtt(report: dict | None) -> float | None:
    if not report:
        return None
    for s in report.get("steps") or []:
        ev = s.get("evidence") or {}
        if s.get("node") == "pg.session" and isinstance(ev.get("latency_ms"), (int, float)):
            return float(ev["latency_ms"])
    for s in report.get("steps") or []:
        if s.get("node") == "pg.tcp" and s.get("status") == "pass":
            ok = [a for a in (s.get("evidence") or {}).get("attempts", []) if a.get("result") == "ok"]
            if ok:
                return float(ok[-1].get("ms", 0))
    return None


def row(run: RemoteRun) -> dict:
    rep = run.report
    if rep is None:
        verdict, cause, title = "error", None, run.error
    else:
        rc = rep.get("root_cause") or {}
        verdict, cause, title = rep.get("verdict", "?"), rc.get("id"), rc.get("title", "")
    return {
        "machine": run.machine.id,
        "region": run.machine.region,
        "verdict": verdict,
        "cause": cause,
        "title": title,
        "pg_rtt_ms": _rtt(rep),
        "elapsed_ms": run.elapsed_ms,
        "transfer": run.transfer,
        "notes": list(run.notes),
    }


def table(runs: list[RemoteRun]) -> dict:
    """The fleet document: the majority (verdict, cause) and the rows, those
    that disagree with it first."""
    rows = [row(r) for r in runs]
    votes = Counter((r["verdict"], r["cause"]) for r in rows)
    majority = None
    if votes:
        (mv, mc), n = max(votes.items(), key=lambda kv: (kv[1], kv[0][0] == "healthy"))
        majority = {"verdict": mv, "cause": mc, "machines": n}
    for r in rows:
        r["agrees"] = bool(majority) and (r["verdict"], r["cause"]) == (majority["verdict"], majority["cause"])
    rows.sort(key=lambda r: (r["agrees"], r["region"], r["machine"]))
    return {"schema": SCHEMA, "majority": majority, "machines": rows}


def exit_code(doc: dict) -> ExitCode:
    verdicts = {r["verdict"] for r in doc["machines"]}
    if "root_cause" in verdicts:
        return ExitCode.ROOT_CAUSE
    if verdicts - {"healthy"}:
        return ExitCode.INCONCLUSIVE
    return ExitCode.HEALTHY


def to_json(app: str, runs: list[RemoteRun], doc: dict) -> dict:
    reports = {r.machine.id: r.report for r in runs if r.report is not None}
    return redact_obj({**doc, "app": app, "reports": reports})

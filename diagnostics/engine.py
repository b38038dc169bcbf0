"""The engine: walks the tree for a symptom and yields events.

Every view (the Textual wizard, plain line mode, JSON, the recorder) consumes
the same event stream. Replay swaps the live probe runner for recorded
outcomes, so a demo is the real walk with the network taken out.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable

from . import causes, tree
from .context import Context
from .model import (
    CRASHED,
    FAIL,
    HEALTHY,
    INCONCLUSIVE,
    PASS,
    ROOT_CAUSE,
    SKIPPED,
    WARN,
    Diagnosis,
    Outcome,
    Question,
    Step,
    StepFinished,
    StepProgress,
    StepStarted,
    VerdictReady,
)
from .probes.net import bounded
from .secret import redact, redact_obj

MARGIN = 0.5  # seconds a probe may overrun its budget before the engine cuts it off

Asker = Callable[[Question], Awaitable[str | None]]


class Runner:
    """Runs a node's probe. Live by default; replay and record wrap it."""

    async def run(self, node: tree.Node, ctx: Context) -> tuple[Outcome, int]:
        from . import probes

        fn = probes.load_all()[node.probe]
        limit = ctx.timeout * node.budget + MARGIN
        t0 = time.monotonic()
        try:
            # not wait_for: a cancelled psycopg query may take 5 s to give up
            outcome = await bounded(fn(ctx), limit)
        except asyncio.TimeoutError:
            outcome = Outcome("timeout", FAIL, f"no result within {limit:.1f} s", {"limit_s": round(limit, 1)})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a probe that raises is a result, not a crash of the tool
            outcome = Outcome(
                "crashed", CRASHED, f"the check crashed: {type(exc).__name__}", {"exception": type(exc).__name__, "message": redact(str(exc))[:500]}
            )
        return outcome, int((time.monotonic() - t0) * 1000)


@dataclass
class Report:
    symptom: str
    verdict: str
    root_cause: Diagnosis | None
    findings: list[Diagnosis]
    steps: list[Step]
    not_run: list[dict]
    inputs: dict
    elapsed_ms: int
    context: dict = field(default_factory=dict)  # where the walk ran, files found

    @property
    def exit_code(self) -> int:
        return {HEALTHY: 0, ROOT_CAUSE: 1}.get(self.verdict, 3)

    def to_json(self) -> dict:
        from . import __version__

        return redact_obj(
            {
                "schema": "fcp-doctor.diagnosis/1",
                "version": __version__,
                "symptom": self.symptom,
                "verdict": self.verdict,
                "root_cause": self.root_cause.to_json() if self.root_cause else None,
                "findings": [f.to_json(with_severity=True) for f in self.findings],
                "steps": [s.to_json() for s in self.steps],
                "not_run": self.not_run,
                "inputs": self.inputs,
                "context": self.context,
                "elapsed_ms": self.elapsed_ms,
            }
        )


class Engine:
    def __init__(
        self,
        ctx: Context,
        symptom: str = "everything",
        runner: Runner | None = None,
        asker: Asker | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        tree.load()
        if symptom not in tree.SYMPTOMS:
            raise ValueError(f"unknown symptom {symptom!r}")
        self.ctx = ctx
        self.symptom = tree.SYMPTOMS[symptom]
        self.tracks = [t for t in self.symptom.tracks if t in tree.TRACKS]
        self.runner = runner or Runner()
        self.asker = asker
        self.clock = clock
        self.steps: dict[str, list[Step]] = {t: [] for t in self.tracks}
        self.ends: dict[str, tuple[str, str]] = {}  # track -> (kind, cause id / reason)
        self.findings: list[tuple[str, dict, str]] = []  # (warning id, evidence, node)
        self._queue: asyncio.Queue = asyncio.Queue()
        self._ask_lock = asyncio.Lock()
        self.report: Report | None = None

    # ------------------------------------------------------------ the walk
    async def events(self) -> AsyncIterator[object]:
        """Run the walk, yielding StepStarted/StepProgress/StepFinished/Question
        events and finally VerdictReady."""
        t0 = self.clock()
        tasks = [asyncio.create_task(self._walk(tid), name=f"track:{tid}") for tid in self.tracks]
        done = asyncio.gather(*tasks)
        try:
            while True:
                getter = asyncio.ensure_future(self._queue.get())
                finished, _ = await asyncio.wait({getter, done}, return_when=asyncio.FIRST_COMPLETED)
                if getter in finished:
                    yield getter.result()
                    continue
                getter.cancel()
                while not self._queue.empty():
                    yield self._queue.get_nowait()
                done.result()
                break
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if done.done() and not done.cancelled():
                done.exception()  # retrieved, so quitting the wizard mid-walk logs no "exception never retrieved"
            await self._close_resources()
        self.report = self._build_report(int((self.clock() - t0) * 1000))
        yield VerdictReady(self.report)

    async def run(self) -> Report:
        async for _ in self.events():
            pass
        assert self.report is not None
        return self.report

    async def _walk(self, track_id: str) -> None:
        t = tree.TRACKS[track_id]
        nid = t.entry
        seen: set[str] = set()
        while True:
            if nid in seen:  # a loop in the tree is a bug; end the track undecided
                self.ends[track_id] = ("inconclusive", f"loop at {nid}")
                return
            seen.add(nid)
            n = tree.NODES[nid]
            await self._ask_missing(n)
            names = self.ctx.names()
            step = Step(node=n.id, title=n.title.format_map(names), probe=n.probe, track=track_id)
            self._queue.put_nowait(StepStarted(step))
            self.ctx.progress = lambda message, _n=n.id: self._queue.put_nowait(StepProgress(_n, redact(message)))
            outcome, elapsed = await self.runner.run(n, self.ctx)
            rule = n.reading(outcome.outcome, outcome.facts)
            if rule:  # the tree's declared reading of what the probe observed
                outcome.outcome, outcome.status = rule.becomes, rule.status
                outcome.evidence = {**outcome.evidence, "reading": rule.why}
            self.ctx.facts.update(outcome.facts)
            step.outcome, step.status, step.elapsed_ms = outcome.outcome, outcome.status, elapsed
            step.summary = redact(outcome.summary)
            step.evidence = redact_obj(outcome.evidence)
            for wid in outcome.findings:
                self.findings.append((wid, outcome.evidence, n.id))
            target = n.target(outcome.outcome)
            if target is None:
                if outcome.status != CRASHED:
                    step.status = CRASHED if outcome.status == PASS else outcome.status
                step.branch = "inconclusive"
                self._queue.put_nowait(StepFinished(step))
                self.steps[track_id].append(step)
                self.ends[track_id] = ("inconclusive", f"{n.id}: {outcome.outcome}")
                return
            step.branch = target
            self.steps[track_id].append(step)
            self._queue.put_nowait(StepFinished(step))
            kind, val = tree.target_kind(target)
            if kind == "done":
                self.ends[track_id] = ("done", "")
                return
            if kind == "cause":
                self.ends[track_id] = ("cause", val)
                return
            nid = val

    async def _ask_missing(self, n: tree.Node) -> None:
        if not self.asker or self.ctx.replay:  # a replayed outcome would ignore the answer
            return
        for key in n.asks:
            if self.ctx.inputs.get(key):
                continue
            async with self._ask_lock:
                if self.ctx.inputs.get(key):
                    continue
                q = question_for(key)
                self._queue.put_nowait(q)
                answer = await self.asker(q)
                if answer:
                    self.ctx.inputs.set(key, answer, "answered")
                    self.ctx.__dict__.pop("_pg", None)

    async def _close_resources(self) -> None:
        for key, res in list(self.ctx.resources.items()):
            close = getattr(res, "aclose", None) or getattr(res, "close", None)
            if close is None:
                continue
            try:
                r = close()
                if asyncio.iscoroutine(r):
                    await asyncio.wait_for(r, timeout=2)
            except Exception:
                pass
            self.ctx.resources.pop(key, None)

    # ------------------------------------------------------------ the verdict
    def _build_report(self, elapsed_ms: int) -> Report:
        cat = causes.load_all()
        names = self.ctx.names()
        steps = [s for tid in self.tracks for s in self.steps[tid]]
        step_by_node = {s.node: s for s in steps}
        diagnosed: list[Diagnosis] = []
        for tid in self.tracks:
            kind, val = self.ends.get(tid, ("inconclusive", "not finished"))
            if kind == "cause":
                last = self.steps[tid][-1]
                diagnosed.append(cat[val].diagnose(names, last.evidence, node=last.node))
        warnings: list[Diagnosis] = []
        seen_w: set[str] = set()
        for wid, evidence, nid in self.findings:
            if wid in seen_w:
                continue
            seen_w.add(wid)
            warnings.append(cat[wid].diagnose(names, redact_obj(evidence), node=nid, severity="warning"))
        root: Diagnosis | None = diagnosed[0] if diagnosed else None
        findings = diagnosed[1:] + warnings
        undecided = [tid for tid in self.tracks if self.ends.get(tid, ("inconclusive",))[0] == "inconclusive"]
        if root:
            verdict = ROOT_CAUSE
        elif undecided:
            verdict = INCONCLUSIVE
        elif self.symptom.warnings_are_causes and warnings:
            worst = max(warnings, key=lambda d: cat[d.id].rank)
            root = worst
            root.severity = "error"
            findings = [w for w in warnings if w is not worst]
            verdict = ROOT_CAUSE
        else:
            verdict = HEALTHY
        if verdict == HEALTHY and any(s.status in (FAIL, CRASHED) for s in steps):
            verdict = INCONCLUSIVE
        log_matches = self.ctx.facts.get("log_matches")
        if root and log_matches:  # the app's own logs, as evidence for (or against) the verdict
            from .logscan import for_verdict

            root.evidence = {**root.evidence, "logs": redact_obj(for_verdict(log_matches, root.id))}
        not_run = []
        for tid in self.tracks:
            t = tree.TRACKS[tid]
            end = self.ends.get(tid, ("inconclusive", ""))
            for nid in tree.reachable(t.entry):
                if nid in step_by_node:
                    continue
                n = tree.NODES[nid]
                if end[0] == "cause":
                    reason = f"not reached: this track ended at {end[1]}"
                elif end[0] == "inconclusive":
                    reason = "not reached: an undecided step ended this track"
                else:
                    reason = "not on the path taken"
                not_run.append({"node": nid, "title": n.title.format_map(names), "track": tid, "reason": reason})
        return Report(
            symptom=self.symptom.id,
            verdict=verdict,
            root_cause=root,
            findings=findings,
            steps=steps,
            not_run=not_run,
            inputs=self.ctx.inputs.to_json(),
            elapsed_ms=elapsed_ms,
            context={
                "where": self.ctx.facts.get("where", ""),
                "files_found": list(self.ctx.inputs.files_found),
                "cwd": str(self.ctx.inputs.cwd),
            },
        )


QUESTIONS = {
    "database_url": ("Paste the Postgres URL your app uses (postgres://USER:PASSWORD@HOST:5432/DB)", "No DATABASE_URL or POSTGRES_URL was found in flags, the environment, .env.local, .env or fly.toml.", True),
    "convex_url": ("Your Convex deployment URL (https://<name>.convex.cloud, or your self-hosted backend's URL)", "No CONVEX_URL was found; the Convex checks need it.", False),
    "app": ("The Fly app name of your application", "No --app, FLY_APP or fly.toml `app` was found.", False),
    "admin_key": ("A Convex admin or deploy key (optional; enables the admin checks)", "The admin checks read the deployment's own settings.", True),
}


def question_for(key: str) -> Question:
    prompt, why, secret = QUESTIONS.get(key, (f"Value for {key}", "", False))
    return Question(key=key, prompt=prompt, why=why, secret=secret)


# ---------------------------------------------------------------- replay and record


class ReplayRunner(Runner):
    """Feeds recorded outcomes back through the engine, paced by their recorded
    durations times `speed` (0 = as fast as possible)."""

    def __init__(self, outcomes: dict[str, tuple[Outcome, int]], speed: float = 0.0, sleep=asyncio.sleep):
        self.outcomes = outcomes
        self.speed = speed
        self.sleep = sleep

    async def run(self, node: tree.Node, ctx: Context) -> tuple[Outcome, int]:
        if node.id not in self.outcomes:
            return Outcome("not_recorded", SKIPPED, "this check is not in the recording"), 0
        outcome, elapsed = self.outcomes[node.id]
        if self.speed > 0:
            await self.sleep(elapsed / 1000.0 * self.speed)
        return Outcome.from_json(outcome.to_json()), elapsed


class RecordingRunner(Runner):
    def __init__(self, inner: Runner | None = None):
        self.inner = inner or Runner()
        self.recorded: list[dict] = []

    async def run(self, node: tree.Node, ctx: Context) -> tuple[Outcome, int]:
        outcome, elapsed = await self.inner.run(node, ctx)
        self.recorded.append({"node": node.id, "elapsed_ms": elapsed, **redact_obj(outcome.to_json())})
        return outcome, elapsed


__all__ = ["Engine", "Report", "Runner", "ReplayRunner", "RecordingRunner", "PASS", "WARN", "FAIL", "SKIPPED"]

"""The engine: walks the tree for a symptom and yields events.

Every view (the Textual wizard, plain line mode, JSON, the recorder) consumes
the same event stream. Replay swaps the live probe runner for recorded
outcomes, so a demo is the real walk with the network taken out.
"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Awaitable, Callable

from . import causes, tree
from .causes import Names
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
from .report import Report
from .secret import redact, redact_obj

MARGIN = 0.5  # seconds a probe may overrun its budget before the engine cuts it off

Asker = Callable[[Question], Awaitable[str | None]]


def crashed(exc: BaseException) -> Outcome:
    """A probe that raised: a result, not a crash of the tool."""
    return Outcome(
        "crashed", CRASHED, f"the check crashed: {type(exc).__name__}", {"exception": type(exc).__name__, "message": redact(str(exc))[:500]}
    )


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
        except Exception as exc:
            outcome = crashed(exc)
        return outcome, int((time.monotonic() - t0) * 1000)


class Engine:
    """Walks the tree for a symptom. Besides the walk (`events`, `run`) it
    offers what a view needs: `rerun` one node, `reset_input`, `check` a node
    outside the walk, `not_run` and `report_so_far`."""

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
        # node -> the warning rules that fired there, with the evidence they read
        self.findings: dict[str, list[tuple[tree.WarningRule, dict]]] = {}
        self.running: set[str] = set()  # nodes whose probe runs now
        self._queue: asyncio.Queue = asyncio.Queue()
        self._ask_lock = asyncio.Lock()
        self._t0: float | None = None
        self.report: Report | None = None

    # ------------------------------------------------------------ the walk
    async def events(self) -> AsyncIterator[object]:
        """Run the walk, yielding StepStarted/StepProgress/StepFinished/Question
        events and finally VerdictReady."""
        self._t0 = t0 = self.clock()
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
            step = self._new_step(n, track_id)
            self._queue.put_nowait(StepStarted(step))
            await self._run_step(n, step, self.runner, lambda message, _n=n.id: self._queue.put_nowait(StepProgress(_n, redact(message))))
            self.steps[track_id].append(step)
            self._queue.put_nowait(StepFinished(step))
            end = self._end_after(step)
            if end is not None:
                self.ends[track_id] = end
                return
            nid = step.branch

    def _new_step(self, n: tree.Node, track_id: str) -> Step:
        return Step(node=n.id, title=n.title.format_map(self.ctx.names()), probe=n.probe, track=track_id)

    async def _run_step(self, n: tree.Node, step: Step, runner: Runner, progress: Callable[[str], None]) -> Step:
        """Run the node's probe and let the tree decide: outcome, status, branch, warnings."""
        self.running.add(n.id)
        self.ctx.progress = progress
        try:
            outcome, elapsed = await runner.run(n, self.ctx)
        finally:
            self.running.discard(n.id)
        self.ctx.facts.update(outcome.facts)
        d = tree.decide(n, outcome, self.ctx.facts)
        step.outcome, step.status, step.elapsed_ms = d.outcome, d.status, elapsed
        step.summary = redact(d.summary)
        step.evidence = redact_obj({**outcome.evidence, "reading": d.reading} if d.reading else outcome.evidence)
        self.findings[n.id] = [(w, outcome.evidence) for w in d.warnings]
        if d.target is None:
            if step.status != CRASHED:
                step.status = CRASHED if step.status == PASS else step.status
            step.branch = "inconclusive"
        else:
            step.branch = d.target
        return step

    @staticmethod
    def _end_after(step: Step) -> tuple[str, str] | None:
        """How a track ends after this step, or None when it goes on to a node."""
        if step.branch == "inconclusive":
            return ("inconclusive", f"{step.node}: {step.outcome}")
        kind, val = tree.target_kind(step.branch)
        if kind == "done":
            return ("done", "")
        if kind == "cause":
            return ("cause", val)
        return None

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
                    self.reset_input(key, answer)

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

    # ------------------------------------------------------------ for the views
    def reset_input(self, key: str, value: str, source: str = "answered") -> None:
        """Give an input a new value; what was worked out from the old one is forgotten."""
        self.ctx.set_input(key, value, source)

    async def rerun(self, node_id: str, progress: Callable[[str], None] | None = None, runner: Runner | None = None) -> Step:
        """Run a finished node again: its step (and its warnings) are replaced,
        its track's end follows the new branch (a changed path ends it undecided,
        the rest of the walk is not run again), and a finished walk's report is rebuilt."""
        where = [(tid, i) for tid in self.tracks for i, s in enumerate(self.steps[tid]) if s.node == node_id]
        if not where or node_id in self.running:
            raise ValueError(f"{node_id} has no finished step to run again")
        tid, i = where[0]
        n = tree.NODES[node_id]
        step = self._new_step(n, tid)
        await self._run_step(n, step, runner or self.runner, progress or (lambda message: None))
        self.steps[tid][i] = step
        if tid in self.ends:
            self.ends[tid] = self._end_of(tid)
        if self.report is not None:
            await self._close_resources()
            self.report = self._build_report(self.report.elapsed_ms)
        return step

    def _end_of(self, track_id: str) -> tuple[str, str]:
        steps = self.steps[track_id]
        for a, b in zip(steps, steps[1:]):
            if a.branch != b.node:
                return ("inconclusive", f"a re-run of {a.node} changed the path: run the walk again")
        end = self._end_after(steps[-1])
        return end or ("inconclusive", f"a re-run of {steps[-1].node} leads on to {steps[-1].branch}: run the walk again")

    async def check(self, node_id: str) -> Step:
        """One node's probe and the tree's reading of it, outside the walk
        (the start screen's "where"): nothing is recorded in this walk."""
        n = tree.NODES[node_id]
        outcome, elapsed = await self.runner.run(n, self.ctx)
        d = tree.decide(n, outcome, {**self.ctx.facts, **outcome.facts})
        return Step(
            node=n.id,
            title=n.title.format_map(self.ctx.names()),
            probe=n.probe,
            track="",
            outcome=d.outcome,
            status=d.status,
            summary=redact(d.summary),
            elapsed_ms=elapsed,
            evidence=redact_obj(outcome.evidence),
            branch=d.target or "inconclusive",
        )

    def report_so_far(self) -> Report:
        """The report of what has run until now (the final one once the walk ended)."""
        if self.report is not None:
            return self.report
        t0 = self._t0 if self._t0 is not None else self.clock()
        return self._build_report(int((self.clock() - t0) * 1000))

    def not_run(self) -> list[dict]:
        """The nodes of this symptom's tracks that have not run (and do not run now), with why."""
        names = self.ctx.names()
        out = []
        for tid in self.tracks:
            done = {s.node for s in self.steps[tid]}
            end = self.ends.get(tid, ("running", "") if self.report is None else ("inconclusive", ""))
            for nid in tree.reachable(tree.TRACKS[tid].entry):
                if nid in done or nid in self.running:
                    continue
                if end[0] == "cause":
                    reason = f"not reached: this track ended at {end[1]}"
                elif end[0] == "inconclusive":
                    reason = "not reached: an undecided step ended this track"
                elif end[0] == "running":
                    reason = "not run yet"
                else:
                    reason = "not on the path taken"
                out.append({"node": nid, "title": tree.NODES[nid].title.format_map(names), "track": tid, "reason": reason})
        return out

    # ------------------------------------------------------------ the verdict
    def _build_report(self, elapsed_ms: int) -> Report:
        cat = causes.load_all()
        names = self.ctx.names()
        steps = [s for tid in self.tracks for s in self.steps[tid]]
        diagnosed: list[Diagnosis] = []
        for tid in self.tracks:
            kind, val = self.ends.get(tid, ("inconclusive", "not finished"))
            if kind == "cause":
                last = self.steps[tid][-1]
                diagnosed.append(cat[val].diagnose(names, last.evidence, node=last.node))
        warnings: list[Diagnosis] = []
        seen_w: set[str] = set()
        for nid, fired in self.findings.items():
            for rule, evidence in fired:
                if rule.id in seen_w:
                    continue
                seen_w.add(rule.id)
                with_threshold = Names({**names, "threshold": rule.threshold})
                warnings.append(cat[rule.id].diagnose(with_threshold, redact_obj(evidence), node=nid, severity="warning"))
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
        return Report(
            symptom=self.symptom.id,
            verdict=verdict,
            root_cause=root,
            findings=findings,
            steps=steps,
            not_run=self.not_run(),
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


MAX_REPLAY_PAUSE = 5.0  # seconds; a probe's own limit is --timeout, 5 s by default


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
        if self.speed > 0:  # each pause capped: a recorded `elapsed_ms: 1e9` must not hang the replay
            await self.sleep(min(elapsed / 1000.0 * self.speed, MAX_REPLAY_PAUSE))
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

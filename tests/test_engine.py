"""The engine's own rules: branching, crashes, time limits, not-run, replay."""

import asyncio
import time

import pytest

from diagnostics import probes, tree
from diagnostics.context import Context
from diagnostics.engine import Engine, ReplayRunner, Runner
from diagnostics.inputs import discover
from diagnostics.model import CRASHED, FAIL, PASS, Outcome, StepFinished, StepStarted, VerdictReady


def ctx_for(url: str | None = None, timeout: float = 1.0, tmp_path=None) -> Context:
    flags = {"database_url": url} if url else {}
    return Context(inputs=discover(flags, env={}, cwd=tmp_path), timeout=timeout)


def test_tree_references_resolve():
    tree.load()
    problems = [p for p in tree.validate() if "unknown track" not in p]
    assert problems == []


def test_every_symptom_has_a_title_and_tracks():
    for s in tree.SYMPTOMS.values():
        assert s.title and s.tracks
        assert s.tracks[0] == "context"


async def test_a_raising_probe_becomes_a_crashed_step(monkeypatch, tmp_path):
    probes.load_all()

    async def boom(ctx):
        raise RuntimeError("kaboom password=hunter2hunter2")

    monkeypatch.setitem(probes.PROBES, "pg.host", boom)
    report = await Engine(ctx_for("postgres://u:pw@db.example.com/app", tmp_path=tmp_path), "app-cant-reach-postgres").run()
    step = next(s for s in report.steps if s.node == "pg.host")
    assert step.status == CRASHED
    assert step.evidence["exception"] == "RuntimeError"
    assert "hunter2hunter2" not in str(report.to_json())
    assert report.verdict == "inconclusive" and report.exit_code == 3
    assert any(n["node"] == "pg.tcp" for n in report.not_run)


async def test_a_hanging_probe_is_cut_at_its_budget(monkeypatch, tmp_path):
    probes.load_all()

    async def hang(ctx):
        await asyncio.sleep(3600)

    monkeypatch.setitem(probes.PROBES, "pg.host", hang)
    t0 = time.monotonic()
    report = await Engine(ctx_for("postgres://u:pw@db.example.com/app", timeout=0.3, tmp_path=tmp_path), "app-cant-reach-postgres").run()
    assert time.monotonic() - t0 < 3
    step = next(s for s in report.steps if s.node == "pg.host")
    assert step.outcome == "timeout" and step.status == FAIL


async def test_events_come_in_order_and_end_with_the_verdict(tmp_path):
    engine = Engine(ctx_for(None, tmp_path=tmp_path), "app-cant-reach-postgres")
    events = [ev async for ev in engine.events()]
    assert isinstance(events[-1], VerdictReady)
    started = [e.step.node for e in events if isinstance(e, StepStarted)]
    finished = [e.step.node for e in events if isinstance(e, StepFinished)]
    assert sorted(started) == sorted(finished)
    report = events[-1].report
    assert report.root_cause.id == "config.database_url_missing"
    assert report.exit_code == 1


async def test_replay_recomputes_the_verdict_from_recorded_outcomes(tmp_path):
    outcomes = {
        "context.where": (Outcome("laptop", PASS), 1),
        "config.fly_toml": (Outcome("absent", "skipped"), 0),
        "pg.url": (Outcome("ok", PASS), 1),
        "pg.host": (Outcome("public", PASS), 1),
        "pg.dns": (Outcome("resolved", PASS), 3),
        "pg.tcp": (Outcome("ok", PASS), 4),
        "pg.ssl": (Outcome("no_tls_required", FAIL, evidence={"sslmode": "require"}), 5),
    }
    ctx = ctx_for("postgres://u:pw@db.example.com/app?sslmode=require", tmp_path=tmp_path)
    report = await Engine(ctx, "app-cant-reach-postgres", runner=ReplayRunner(outcomes)).run()
    assert report.root_cause.id == "pg.ssl_required_unsupported"
    assert [s.elapsed_ms for s in report.steps if s.node == "pg.ssl"] == [5]
    cmds = " ".join(s.command or "" for s in report.root_cause.fix.steps)
    assert "sslmode=disable" in cmds and "${PGPASSWORD}" in cmds and ":pw@" not in cmds


async def test_an_unmapped_outcome_ends_the_track_inconclusive(tmp_path):
    outcomes = {
        "context.where": (Outcome("laptop", PASS), 1),
        "config.fly_toml": (Outcome("absent", "skipped"), 0),
        "pg.url": (Outcome("something-new", PASS), 1),
    }
    report = await Engine(ctx_for("postgres://u@h/db", tmp_path=tmp_path), "app-cant-reach-postgres", runner=ReplayRunner(outcomes)).run()
    assert report.verdict == "inconclusive"


def test_unknown_symptom_is_refused(tmp_path):
    with pytest.raises(ValueError):
        Engine(ctx_for(None, tmp_path=tmp_path), "nope")


class CountingRunner(Runner):
    def __init__(self):
        self.running = 0
        self.peak = 0

    async def run(self, node, ctx):
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        return await super().run(node, ctx)


async def test_tracks_run_concurrently(tmp_path):
    runner = CountingRunner()
    await Engine(ctx_for(None, tmp_path=tmp_path), "everything", runner=runner).run()
    assert runner.peak >= 2


async def test_a_replay_never_asks_for_a_missing_input(tmp_path):
    asked = []

    async def asker(q):
        asked.append(q.key)
        return "postgres://u:pw@db.example.com/app"

    ctx = ctx_for(None, tmp_path=tmp_path)
    ctx.replay = True
    outcomes = {"context.where": (Outcome("laptop", PASS), 1), "config.fly_toml": (Outcome("absent", "skipped"), 0), "pg.url": (Outcome("missing", FAIL), 1)}
    report = await Engine(ctx, "app-cant-reach-postgres", runner=ReplayRunner(outcomes), asker=asker).run()
    assert asked == [] and report.root_cause.id == "config.database_url_missing"
    await Engine(ctx_for(None, tmp_path=tmp_path), "app-cant-reach-postgres", runner=ReplayRunner(outcomes), asker=asker).run()
    assert asked == ["database_url"]


# ---------------------------------------------------------------- what the views use


def healthy_walk(session_evidence: dict, pooler: str = "direct") -> dict:
    return {
        "context.where": (Outcome("laptop", PASS), 1),
        "config.fly_toml": (Outcome("absent", "skipped"), 0),
        "pg.url": (Outcome("ok", PASS), 1),
        "pg.host": (Outcome("public", PASS, facts={"host_kind": "public"}), 1),
        "pg.dns": (Outcome("resolved", PASS), 1),
        "pg.tcp": (Outcome("ok", PASS), 1),
        "pg.ssl": (Outcome("tls", PASS), 1),
        "pg.connect": (Outcome("ok", PASS), 1),
        "pg.session": (Outcome("ok", PASS, "primary", session_evidence), 2),
        "pg.pooler": (Outcome(pooler, FAIL if pooler == "prepared_broken" else PASS), 3),
    }


SESSION = {"latency_ms": 48.0, "in_use": 1, "usable": 18, "superuser": False}


async def test_rerun_replaces_the_step_its_warnings_and_the_report(tmp_path):
    outcomes = healthy_walk(SESSION)
    engine = Engine(ctx_for("postgres://u:pw@db.example.com/app", tmp_path=tmp_path), "laptop-cant-reach-postgres", runner=ReplayRunner(outcomes))
    report = await engine.run()
    assert report.verdict == "healthy" and [f.id for f in report.findings] == ["pg.high_latency"]
    assert "above 20 ms" in report.findings[0].explanation
    assert next(s for s in report.steps if s.node == "pg.session").status == "warn"

    outcomes["pg.session"] = (Outcome("ok", PASS, "primary, faster", {**SESSION, "latency_ms": 3.0}), 2)
    step = await engine.rerun("pg.session")
    assert (step.node, step.status, step.summary, step.branch) == ("pg.session", PASS, "primary, faster", "pg.pooler")
    assert engine.report is not report and engine.report.findings == []
    assert [s for s in engine.report.steps if s.node == "pg.session"] == [step]
    assert engine.report_so_far() is engine.report


async def test_rerun_that_ends_the_track_elsewhere_changes_the_verdict(tmp_path):
    outcomes = healthy_walk({**SESSION, "latency_ms": 1.0}, pooler="prepared_broken")
    engine = Engine(ctx_for("postgres://u:pw@db.example.com/app", tmp_path=tmp_path), "laptop-cant-reach-postgres", runner=ReplayRunner(outcomes))
    assert (await engine.run()).root_cause.id == "pg.pooler_prepared_statements"
    outcomes["pg.pooler"] = (Outcome("direct", PASS), 1)
    await engine.rerun("pg.pooler")
    assert engine.report.verdict == "healthy" and engine.report.exit_code == 0
    # a re-run that leads somewhere else does not walk on: the track is undecided
    outcomes["pg.tcp"] = (Outcome("timeout", FAIL), 1)
    step = await engine.rerun("pg.tcp")
    assert step.branch == "cause:net.connect_timeout"
    assert engine.report.verdict == "inconclusive"
    with pytest.raises(ValueError):
        await engine.rerun("fly.port_check")  # never ran


async def test_reset_input_forgets_what_was_worked_out_from_it(tmp_path):
    ctx = ctx_for("postgres://u:pw@db.example.com:99999/app", tmp_path=tmp_path)
    engine = Engine(ctx, "laptop-cant-reach-postgres")
    assert ctx.pg_url is None and ctx.pg_url_error is not None
    engine.reset_input("database_url", "postgres://u:pw@db2.example.com/app")
    assert ctx.pg_url.host == "db2.example.com" and ctx.pg_url_error is None
    assert ctx.inputs.get("database_url").source == "answered"
    assert ctx.names()["host"] == "db2.example.com"


class GateRunner(ReplayRunner):
    """Holds one node's probe until the test opens the gate."""

    def __init__(self, outcomes, hold: str):
        super().__init__(outcomes)
        self.hold, self.gate = hold, asyncio.Event()

    async def run(self, node, ctx):
        if node.id == self.hold:
            await self.gate.wait()
        return await super().run(node, ctx)


async def test_report_so_far_during_the_walk(tmp_path):
    runner = GateRunner(healthy_walk(SESSION), hold="pg.tcp")
    engine = Engine(ctx_for("postgres://u:pw@db.example.com/app", tmp_path=tmp_path), "laptop-cant-reach-postgres", runner=runner)
    before = engine.not_run()
    assert [n["node"] for n in before][:2] == ["context.where", "config.fly_toml"]
    assert {n["reason"] for n in before} == {"not run yet"}
    seen = None
    async for ev in engine.events():
        if isinstance(ev, StepStarted) and ev.step.node == "pg.tcp":
            await asyncio.sleep(0)
            seen = engine.report_so_far()
            runner.gate.set()
    assert seen is not None and seen.verdict == "inconclusive"
    assert "pg.dns" in [s.node for s in seen.steps] and "pg.tcp" not in [s.node for s in seen.steps]
    left = {n["node"]: n["reason"] for n in seen.not_run}
    assert "pg.dns" not in left and "pg.tcp" not in left  # done, and running now
    assert left["pg.pooler"] == "not run yet"
    assert engine.report.verdict == "healthy" and engine.report_so_far() is engine.report


async def test_check_runs_one_node_outside_the_walk(tmp_path):
    ctx = ctx_for(None, tmp_path=tmp_path)
    engine = Engine(ctx, runner=ReplayRunner({"context.where": (Outcome("laptop", PASS, "outside Fly", facts={"where": "laptop"}), 1)}))
    step = await engine.check("context.where")
    assert (step.outcome, step.summary, step.branch) == ("laptop", "outside Fly", "config.fly_toml")
    assert engine.steps["context"] == [] and "where" not in ctx.facts

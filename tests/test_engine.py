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

"""The views of one report (diagnostics/render.py): the verdict view, and the
plain lines and Markdown drawn from it, say the same thing. The reports are
real walks: the bundled demos replayed through the engine (no network)."""

import asyncio
import json

import pytest

from diagnostics import recording, render
from diagnostics.engine import Engine
from diagnostics.model import FAIL, PASS, Step
from diagnostics.report import ExitCode, Report


def walk(name: str) -> Report:
    rec = recording.load(recording.demo_scenarios()[name])
    return asyncio.run(Engine(rec.context(), rec.symptom, runner=rec.runner(speed=0)).run())


@pytest.fixture(scope="module")
def root_cause() -> Report:
    return walk("fly-ssl-require")


def test_the_verdict_view_is_the_report(root_cause):
    r = root_cause
    v = render.verdict_view(r)
    d = r.root_cause
    assert (v.verdict, v.word, v.headline) == ("root_cause", "ROOT CAUSE", "")
    c = v.cause
    assert (c.id, c.title, c.node, c.why, c.fix) == (d.id, d.title, d.node, d.explanation, d.fix.summary)
    assert [label for label, _ in c.evidence] == list(d.evidence)
    assert [(s.number, s.text, s.command or None) for s in c.steps] == [(i, s.text, s.command) for i, s in enumerate(d.fix.steps, 1)]
    assert c.commands == [(i, s.command) for i, s in enumerate(d.fix.steps, 1) if s.command] and c.commands
    assert c.docs == d.docs
    assert [f.id for f in v.findings] == [f.id for f in r.findings]
    assert v.not_run == r.not_run and len(v.steps) == len(r.steps) and v.undecided == []


def test_plain_and_markdown_show_every_part_of_the_view(root_cause):
    v = render.verdict_view(root_cause)
    c = v.cause
    plain = "\n".join(render.verdict_lines(root_cause))
    md = render.markdown(root_cause)
    assert "Verdict: ROOT CAUSE" in plain and f"{c.id}: {c.title}" in plain
    assert "## Root cause" in md and f"**{c.title}** (`{c.id}`)" in md
    for text in (plain, md):
        assert c.fix in text
        for label, value in c.evidence:
            assert f"{label}: " in text and render.short(value)[:40] in text
        for s in c.steps:
            assert f"{s.number}. {s.text}" in text
            for line in s.commands:
                assert line in text
        for url in c.docs:
            assert url in text
        for n in v.not_run:
            assert n["title"] in text and n["node"] in text
    for s in c.steps:
        for line in s.commands:
            assert f"       $ {line}" in plain.split("\n")
    assert plain.split("\n")[-1] == f"{len(v.steps)} checks in {v.elapsed}"


def test_the_inputs_view_of_the_walk_and_of_its_report_agree(root_cause):
    rec = recording.load(recording.demo_scenarios()["fly-ssl-require"])
    before = render.inputs_of(rec.context().inputs)
    after = render.inputs_of_report(root_cause)
    assert before.values == after.values and before.values
    assert before.files == after.files
    lines = render.inputs_lines(after)
    assert lines[0].split() == ["where", *after.where.split()] and after.where
    for name, value, source in after.values:
        assert f"  {name:<16} {value}   ({source})" in lines
    md = render.markdown(root_cause)
    for name, value, source in after.values:
        assert f"| {name} | `{value}` | {source} |" in md


def test_a_healthy_report():
    r = walk("healthy")
    v = render.verdict_view(r)
    assert (v.word, v.headline, v.cause) == ("HEALTHY", "every check on the walk passed", None)
    plain = render.verdict_lines(r)
    assert "Verdict: HEALTHY — every check on the walk passed" in plain
    assert "## Root cause" not in render.markdown(r)
    assert r.exit_code is ExitCode.HEALTHY


def test_an_undecided_report_names_the_steps_that_left_it_undecided():
    steps = [
        Step("pg.tcp", "Does anything accept TCP?", "pg.tcp", "pg", "open", PASS, "answered", 3, {}, "pg.session"),
        Step("pg.session", "Can we log in?", "pg.session", "pg", "crashed", "crashed", "the check crashed: OSError", 5, {"exception": "OSError"}, "inconclusive"),
        Step("convex.reach", "Is Convex there?", "convex.reach", "convex", "timeout", FAIL, "", 5000, {}, "convex.version"),
    ]
    r = Report("everything", "inconclusive", None, [], steps, [], {}, 5008)
    v = render.verdict_view(r)
    assert v.headline == "the walk could not decide"
    assert v.undecided == ["pg.session: crashed — the check crashed: OSError", "convex.reach: timeout"]
    plain = render.verdict_lines(r)
    assert "Verdict: INCONCLUSIVE — the walk could not decide" in plain
    assert "  pg.session: crashed — the check crashed: OSError" in plain and "  convex.reach: timeout" in plain
    assert r.exit_code is ExitCode.INCONCLUSIVE


def test_a_report_back_from_json_renders_the_same(root_cause):
    """What `ship` does with a machine's JSON report: the same lines as the walk itself."""
    back = Report.from_json(json.loads(json.dumps(root_cause.to_json())))
    assert back.to_json()["root_cause"] == root_cause.to_json()["root_cause"]
    assert render.verdict_lines(back) == render.verdict_lines(root_cause)
    assert render.markdown(back) == render.markdown(root_cause)


def test_step_lines_carry_the_word_without_colour():
    s = Step("pg.tcp", "Does anything accept TCP?", "pg.tcp", "pg", "open", PASS, "answered in 3 ms", 3, {}, "pg.session")
    assert render.step_line(s).startswith("PASS  Does anything accept TCP? — answered in 3 ms")
    assert render.step_line(s, color=True).startswith("\x1b[32mPASS ")
    assert render.fmt_ms(999) == "999 ms" and render.fmt_ms(12345) == "12.3 s"

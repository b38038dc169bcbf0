"""Pilot tests of every wizard flow, at 80x24."""

from __future__ import annotations

import json

import pytest
from textual.filter import Monochrome
from tui_helpers import CANARY, HangingRunner, canary_url, demo, live_context, wait_until

from tui.wizard import Downgrade16, HelpScreen, QuestionScreen, StartScreen, VerdictScreen, WalkScreen, WizardApp

pytestmark = pytest.mark.timeout(30)
SIZE = (80, 24)


def demo_app(name="fly-ssl-require", **kw) -> WizardApp:
    rec, ctx, runner = demo(name)
    return WizardApp(ctx, symptom=rec.symptom, runner=runner, title="demo", color_system="truecolor", **kw)


async def test_pick_a_symptom_and_walk_to_a_verdict(tmp_path):
    app = WizardApp(live_context(tmp_path, canary_url()), color_system="truecolor")
    async with app.run_test(size=SIZE) as pilot:
        assert isinstance(app.screen, StartScreen)
        await pilot.press("home", "down", "enter")  # "My Fly app can't reach Postgres"
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        assert app.symptom == "app-cant-reach-postgres"
        assert app.report.root_cause.id == "net.connection_refused"
        assert CANARY not in app.export_screenshot()
        await pilot.press("q")
    assert app.return_code == 1


async def test_demo_skips_the_start_screen_and_reaches_the_fix():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        assert app.report.root_cause.id == "pg.ssl_required_unsupported"
        assert not any(isinstance(s, StartScreen) for s in app.screen_stack)


async def test_back_a_step_and_rerun_a_node():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        await pilot.press("b")
        walk = app.screen
        assert isinstance(walk, WalkScreen)
        last = walk._selected()
        await pilot.press("b")  # back a step: the check before
        assert walk._selected() == walk.order[walk.order.index(last) - 1]
        node = walk._selected()
        await pilot.press("r")
        await wait_until(pilot, lambda: walk.views[node].status != "running")
        assert walk.views[node].reruns == 1
        assert walk.views[node].status == "pass"
        await pilot.press("v")
        assert isinstance(app.screen, VerdictScreen)


async def test_rerun_to_verify_walks_again():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        first = app.report
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen) and app.report is not first)
        assert app.report.root_cause.id == first.root_cause.id


async def test_cancel_a_hanging_probe_keeps_the_ui_answering():
    rec, ctx, replay = demo("fly-ssl-require")
    runner = HangingRunner(replay, "fly.dns")
    app = WizardApp(ctx, symptom=rec.symptom, runner=runner, color_system="truecolor")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runner.started.is_set())
        walk = app.screen
        assert walk.views["fly.dns"].status == "running"
        await pilot.press("question_mark")  # the UI answers keys while the probe hangs
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert app.screen is walk
        await pilot.press("escape")  # cancel the running check
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        assert app.report.verdict == "inconclusive"
        step = next(s for s in app.report.steps if s.node == "fly.dns")
        assert (step.outcome, step.status) == ("cancelled", "skipped")


async def test_a_crashing_probe_is_a_crashed_step():
    rec, ctx, replay = demo("fly-ssl-require")

    class Boom(HangingRunner):
        async def run(self, node, ctx):
            if node.id == "pg.tcp":
                raise RuntimeError("boom")
            return await self.inner.run(node, ctx)

    app = WizardApp(ctx, symptom=rec.symptom, runner=Boom(replay, ""), color_system="truecolor")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        step = next(s for s in app.report.steps if s.node == "pg.tcp")
        assert step.status == "crashed" and "RuntimeError" in step.summary


async def test_answer_a_question_masked(tmp_path):
    ctx = live_context(tmp_path)
    app = WizardApp(ctx, symptom="app-cant-reach-postgres", color_system="truecolor", export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        field = app.screen.query_one("#q-input")
        assert field.password  # the URL holds a password: typed masked
        field.value = canary_url()
        assert CANARY not in app.export_screenshot()
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        assert ctx.inputs.get("database_url").source == "answered"
        assert app.report.root_cause.id == "net.connection_refused"
        assert CANARY not in app.export_screenshot()
        await pilot.press("e")
        for f in ("fcp-doctor-report.md", "fcp-doctor-report.json"):
            assert CANARY not in (tmp_path / f).read_text()


async def test_skipping_the_question_reports_the_url_missing(tmp_path):
    app = WizardApp(live_context(tmp_path), symptom="app-cant-reach-postgres", color_system="truecolor")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, QuestionScreen))
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        assert app.report.root_cause.id == "config.database_url_missing"


async def test_copy_a_fix_command():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        cmds = dict(app.screen._commands())
        await pilot.press("2")
        assert app.clipboard == cmds[2]
        assert 'fly secrets set DATABASE_URL="postgres://acme_web:${PGPASSWORD}@acme-db.flycast:5432/acme_web?sslmode=disable" -a acme-web' == cmds[2]
        assert "Copied step 2" in str(app.screen.query_one("#status").render())
        await pilot.press("3")  # a step without a command copies nothing
        assert app.clipboard == cmds[2]
        await pilot.press("c")
        assert app.clipboard == "\n".join(c for _, c in sorted(cmds.items()))


async def test_export_the_report(tmp_path):
    app = demo_app(export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        await pilot.press("e")
        md = (tmp_path / "fcp-doctor-report.md").read_text()
        data = json.loads((tmp_path / "fcp-doctor-report.json").read_text())
        assert "pg.ssl_required_unsupported" in md and "## Root cause" in md
        assert data["schema"] == "fcp-doctor.diagnosis/1"
        assert data["root_cause"]["id"] == "pg.ssl_required_unsupported"


async def test_help_and_command_palette_cover_every_action():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Copy the fix commands", "Re-run to verify", "Export the report", "Back a step", "Help: keys", "Quit"} <= titles
        await pilot.press("b")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"Cancel the running check", "Re-run the selected check", "Show the verdict"} <= titles
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)


async def test_colour_modes(monkeypatch):
    assert not any(isinstance(f, Downgrade16) for f in demo_app()._filters)  # truecolor: untouched
    app16 = WizardApp(demo("healthy")[1], color_system="standard")
    assert app16.theme == "ansi-dark" and any(isinstance(f, Downgrade16) for f in app16._filters)
    monkeypatch.setenv("NO_COLOR", "1")
    assert any(isinstance(f, Monochrome) for f in demo_app()._filters)
    assert demo_app(low_bandwidth=True).animation_level == "none"


async def test_live_evidence_coalesces_while_a_check_runs():
    rec, ctx, replay = demo("fly-ssl-require")

    class Chatty(HangingRunner):
        async def run(self, node, ctx):
            if node.id == self.hang:
                for i in range(200):  # a flood of progress: the screen keeps the latest lines
                    ctx.progress(f"attempt {i} to postgres://acme_web:{CANARY}@acme-db.flycast:5432")
            return await super().run(node, ctx)

    runner = Chatty(replay, "pg.tcp")
    app = WizardApp(ctx, symptom=rec.symptom, runner=runner, color_system="truecolor")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: runner.started.is_set())
        walk = app.screen
        await pilot.press("up", "down")  # select the running check
        await wait_until(pilot, lambda: walk._selected() == "pg.tcp")
        v = walk.views["pg.tcp"]
        await wait_until(pilot, lambda: v.progress[-1:] and v.progress[-1].startswith("attempt 199"))  # the flood drained
        assert len(v.progress) == 8 and v.progress[-1].startswith("attempt 199")
        shown = str(walk.query_one("#detail").render())
        assert "attempt 199" in shown and "checking" in shown
        assert CANARY not in app.export_screenshot()


async def test_command_palette_runs_an_action(tmp_path):
    app = demo_app(export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        await pilot.press("ctrl+p")
        await pilot.press(*"Export the report")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: (tmp_path / "fcp-doctor-report.json").exists())


async def test_export_to_a_read_only_folder_says_so(tmp_path):
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    app = demo_app(export_dir=blocked)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        await pilot.press("e")
        assert "Could not export" in str(app.screen.query_one("#status").render())
        await pilot.press("ctrl+q")
    assert app.return_code == 1


async def test_verify_after_the_fix_reads_the_inputs_again(tmp_path, pg):
    """The real flow: the first walk finds nothing listening on the URL's port;
    the user fixes the URL (here: the port) and "re-run to verify" walks the
    corrected inputs to a working Postgres session."""
    fixed = {"done": False}

    def rediscover():
        return live_context(tmp_path, pg.url(sslmode="disable") if fixed["done"] else canary_url())

    app = WizardApp(rediscover(), symptom="laptop-cant-reach-postgres", color_system="truecolor", rediscover=rediscover)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        assert app.report.root_cause.id == "net.connection_refused"
        fixed["done"] = True
        first = app.report
        await pilot.press("v")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen) and app.report is not first, timeout=20)
        assert app.report.verdict == "healthy", [(s.node, s.outcome) for s in app.report.steps]
        assert app.report.exit_code == 0


@pytest.mark.parametrize("where", ["walk", "verdict"])
async def test_ctrl_c_quits_with_130(where):
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        if where == "verdict":
            await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        await pilot.press("ctrl+c")
        await pilot.pause()
    assert app.return_code == 130


async def test_palette_has_one_keys_entry_and_quit_keeps_the_verdict_status():
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Keys" not in titles and titles.count("Help: keys") == 1 and titles.count("Quit") == 1
        quit_cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Quit")
        quit_cmd.callback()
        await pilot.pause()
    assert app.return_code == 1  # the verdict's status (a root cause), not Textual's 0

"""The bundled demo recordings replay through the real engine to their verdicts."""

import asyncio
import json
import re

import pytest

from diagnostics import recording
from diagnostics.engine import Engine

# scripts/record-demos (`make demos`) records these against real environments
EXPECTED = {
    "healthy": ("healthy", None, 0),
    "fly-ssl-require": ("root_cause", "pg.ssl_required_unsupported", 1),
    "db-machine-stopped": ("root_cause", "fly.machines_stopped", 1),
    "convex-cloud-flycast": ("root_cause", "convex.cloud_private_database_host", 1),
    "self-hosted-db-in-url": ("root_cause", "convex_self.postgres_url_has_database", 1),
}
APPS = {"acme-web", "acme-convex"}


def recorder():
    """scripts/record-demos as a module (its canary secrets)."""
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader

    from conftest import ROOT

    loader = SourceFileLoader("record_demos", str(ROOT / "scripts" / "record-demos"))
    mod = module_from_spec(spec_from_loader("record_demos", loader))
    loader.exec_module(mod)
    return mod


def test_every_scenario_has_an_expected_verdict():
    assert set(recording.demo_scenarios()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_replays_to_its_verdict(name):
    rec = recording.load(recording.demo_scenarios()[name])
    report = asyncio.run(Engine(rec.context(), rec.symptom, runner=rec.runner(speed=0)).run())
    verdict, cause, code = EXPECTED[name]
    assert report.verdict == verdict
    assert (report.root_cause.id if report.root_cause else None) == cause
    assert report.exit_code == code
    assert rec.title and rec.description
    # every recorded step is on the walk taken (no stale outcomes in the file)
    assert sorted(s["node"] for s in rec.steps) == sorted(s.node for s in report.steps)
    assert all(s.outcome != "not_recorded" for s in report.steps)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_recorded_step_is_still_in_the_tree(name):
    """A tree change that renames a node or an outcome orphans a demo: it must fail here,
    not replay to "inconclusive: not_recorded" (re-record with `make demos`)."""
    from diagnostics import tree

    tree.load()
    rec = recording.load(recording.demo_scenarios()[name])
    for s in rec.steps:
        assert s["node"] in tree.NODES, f"{s['node']} is no longer a node"
        assert s["outcome"] in tree.NODES[s["node"]].branches, f"{s['node']}: outcome {s['outcome']} is no longer a branch"
    report = asyncio.run(Engine(rec.context(), rec.symptom, runner=rec.runner(speed=0)).run())
    assert [s.node for s in report.steps if s.outcome == "not_recorded"] == []
    assert report.verdict != "inconclusive"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_uses_documentation_names_only(name):
    text = recording.demo_scenarios()[name].read_text()
    data = json.loads(text)
    if "app" in data["inputs"]:
        assert data["inputs"]["app"]["value"] in APPS
    if "database_url" in data["inputs"]:
        assert "@acme-db." in data["inputs"]["database_url"]["value"]
        assert ":****@" in data["inputs"]["database_url"]["value"]
    # no machine-specific path, no loopback port of a stand-in, no temporary directory
    assert data["cwd"] == "." and "/tmp/" not in text and "fcp-" not in text.replace("fcp-doctor", "")
    hosts = set(re.findall(r"[a-z0-9_.-]+\.(?:internal|flycast|convex\.cloud|convex\.site|fly\.dev)\b", text))
    assert hosts, name
    assert all("acme-" in h or "happy-cat-123." in h or h == "_apps.internal" for h in hosts), hosts


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_secret_in_any_recording(name):
    """The recordings were made with canary secrets (scripts/record-demos); none is in a file,
    and no password, key or secret shows unmasked."""
    text = recording.demo_scenarios()[name].read_text()
    for canary in recorder().secrets():
        assert canary not in text
    assert not re.search(r"://[^:/@\s]+:(?!\*\*\*\*@)[^@\s/]+@", text), "a URL with a password in clear"


def test_demo_list_names_every_scenario(cli):
    r = cli("demo", "--list")
    assert r.returncode == 0
    for name in EXPECTED:
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith(name + " "))
        assert recording.load(recording.demo_scenarios()[name]).title in line


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_demo_plain_replays_each_scenario(cli, name):
    verdict, cause, code = EXPECTED[name]
    r = cli("demo", name, "--plain", "--speed", "0")
    assert r.returncode == code, r.stderr
    assert ("Verdict: HEALTHY" in r.stdout) if cause is None else (f"{cause}:" in r.stdout)
    assert "not in the recording" not in r.stdout


def test_demo_plain_mode_under_dumb_terminal(cli):
    r = cli("demo", "--speed", "0", env={"TERM": "dumb"})
    assert r.returncode == 1, r.stderr
    assert "pg.ssl_required_unsupported" in r.stdout
    assert "\x1b[" not in r.stdout + r.stderr  # no full-screen escape stream


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_wizard_replays_each_scenario(name):
    """The full-screen wizard (headless, 80x24) reaches each scenario's verdict and shows it."""
    from textual.widgets import Static
    from tui_helpers import demo, wait_until

    from tui.wizard import VerdictScreen, WizardApp

    rec, ctx, runner = demo(name)
    app = WizardApp(ctx, symptom=rec.symptom, runner=runner, title=f"demo: {rec.title}", low_bandwidth=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, VerdictScreen))
        report = pilot.app.screen.report
        verdict, cause, code = EXPECTED[name]
        assert (report.verdict, report.root_cause.id if report.root_cause else None, report.exit_code) == (verdict, cause, code)
        shown = str(pilot.app.screen.query_one("#verdict", Static).render())
        assert (cause or "HEALTHY") in shown

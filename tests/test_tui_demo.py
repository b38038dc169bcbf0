"""The bundled demo recordings replay through the real engine to their verdicts."""

import asyncio
import json

import pytest

from diagnostics import recording
from diagnostics.engine import Engine

EXPECTED = {
    "healthy": ("healthy", None, 0),
    "fly-ssl-require": ("root_cause", "pg.ssl_required_unsupported", 1),
}


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
    # every recorded step is on the walk taken (no stale outcomes in the file)
    assert sorted(s["node"] for s in rec.steps) == sorted(s.node for s in report.steps)
    assert all(s.status != "skipped" for s in report.steps)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_uses_documentation_names_only(name):
    text = recording.demo_scenarios()[name].read_text()
    data = json.loads(text)
    assert data["inputs"]["app"]["value"] == "acme-web"
    assert "acme-db" in data["inputs"]["database_url"]["value"]
    assert ":****@" in data["inputs"]["database_url"]["value"]


def test_demo_plain_mode_under_dumb_terminal(cli):
    r = cli("demo", "--speed", "0", env={"TERM": "dumb"})
    assert r.returncode == 1, r.stderr
    assert "pg.ssl_required_unsupported" in r.stdout
    assert "\x1b[" not in r.stdout + r.stderr  # no full-screen escape stream

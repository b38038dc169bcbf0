"""`fcp-doctor demo SCENARIO --cast FILE`: an asciinema v2 screencast of the
wizard at 80x24, the same bytes on every run, readable by asciinema itself."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

from diagnostics import recording

ASCIINEMA = Path(sys.executable).with_name("asciinema")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
pytestmark = pytest.mark.timeout(180)


def events(path: Path) -> tuple[dict, list]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(x) for x in lines[1:]]


@pytest.fixture(scope="module")
def casts(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("casts")
    out = {}
    for name, scenario in (("a", "fly-ssl-require"), ("b", "fly-ssl-require"), ("healthy", "healthy")):
        out[name] = tmp / f"{name}.cast"
        r = run_cli("demo", scenario, "--cast", str(out[name]), cwd=tmp, timeout=150)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr and str(out[name]) in r.stderr
    return out


def test_cast_is_the_same_bytes_every_run(casts):
    assert casts["a"].read_bytes() == casts["b"].read_bytes()


@pytest.mark.parametrize("name, scenario, last_words", [("a", "fly-ssl-require", "ROOT CAUSE"), ("healthy", "healthy", "HEALTHY")])
def test_cast_walks_every_check_to_the_verdict(casts, name, scenario, last_words):
    rec = recording.load(recording.demo_scenarios()[scenario])
    header, evs = events(casts[name])
    assert header["version"] == 2 and (header["width"], header["height"]) == (80, 24)
    assert rec.title in header["title"]
    times = [e[0] for e in evs]
    assert times == sorted(times) and times[-1] > times[0] and all(e[1] == "o" for e in evs)
    assert len(evs) >= 4
    screens = [ANSI.sub("", e[2]) for e in evs]
    assert "RUN" in "".join(screens[:-2])  # checks seen while they run
    assert last_words in screens[-2] and last_words not in screens[0]


@pytest.mark.skipif(not ASCIINEMA.exists() and not shutil.which("asciinema"), reason="asciinema (a test extra) is not installed")
def test_asciinema_reads_the_cast(casts):
    exe = str(ASCIINEMA) if ASCIINEMA.exists() else shutil.which("asciinema")
    r = subprocess.run([exe, "cat", str(casts["a"])], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert b"sslmode=require" in r.stdout and b"ROOT CAUSE" in r.stdout


def test_cast_to_an_unwritable_place_is_one_line(tmp_path):
    r = run_cli("demo", "--cast", str(tmp_path / "no" / "such" / "dir" / "x.cast"), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "cannot write" in r.stderr, r.stderr

"""The demo in a real terminal: tmux at 80x24, TERM=xterm (as over `fly ssh
console`), read back with capture-pane; and TERM=dumb falls back to plain lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(60), pytest.mark.skipif(not shutil.which("tmux"), reason="needs tmux")]


@pytest.fixture
def tmux():
    sock = f"fcp-{uuid.uuid4().hex[:8]}"

    def run(*args, check=True):
        return subprocess.run(["tmux", "-L", sock, *args], capture_output=True, text=True, check=check, timeout=10)

    yield run
    run("kill-server", check=False)


def start(tmux, term: str, *argv: str) -> None:
    env = {"TERM": term, "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}
    cmd = " ".join(["env", "-u", "NO_COLOR", "-u", "COLORTERM"] + [f"{k}={v}" for k, v in env.items()] + [sys.executable, "-m", "tui", *argv])
    tmux("-f", "/dev/null", "new-session", "-d", "-x", "80", "-y", "24", "-s", "t", f"{cmd}; echo EXIT=$?; sleep 30")


def screen(tmux) -> str:
    return tmux("capture-pane", "-p", "-t", "t").stdout


def wait_for(tmux, text: str, timeout: float = 30) -> str:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = screen(tmux)
        if text in out:
            return out
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen:\n{screen(tmux)}")


def test_demo_reaches_the_verdict_in_a_16_colour_terminal(tmux):
    start(tmux, "xterm", "demo", "--speed", "0.5")
    out = wait_for(tmux, "ROOT CAUSE")
    assert "sslmode=require but the server offers no TLS" in out
    assert "$ read -rs PGPASSWORD" in out
    coloured = tmux("capture-pane", "-p", "-e", "-t", "t").stdout
    assert "\x1b[" in coloured and "38;2;" not in coloured and "48;2;" not in coloured  # 16 colours, no truecolor
    tmux("send-keys", "-t", "t", "q")
    assert "EXIT=1" in wait_for(tmux, "EXIT=")


def test_dumb_terminal_gets_plain_lines(tmux):
    start(tmux, "dumb", "demo", "healthy", "--speed", "0")
    out = wait_for(tmux, "EXIT=")
    assert "Verdict: HEALTHY" in out and "EXIT=0" in out
    assert "PASS  Does acme-db.flycast resolve?" in out


def test_replay_of_a_recorded_walk(tmux, tmp_path, cli):
    """`--record FILE` of a real walk, played back by the wizard: same verdict, no secret in the file."""
    from tui_helpers import CANARY, canary_url

    rec = tmp_path / "walk.json"
    r = cli("diagnose", "--database-url", canary_url(), "--symptom", "laptop-cant-reach-postgres", "--record", str(rec))
    assert r.returncode == 1, r.stderr
    assert CANARY not in rec.read_text()
    start(tmux, "xterm", "replay", str(rec), "--speed", "0")
    out = wait_for(tmux, "ROOT CAUSE")
    assert "net.connection_refused" in out

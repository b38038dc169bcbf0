"""The demo in a real terminal: tmux at 80x24, TERM=xterm (as over `fly ssh
console`), read back with capture-pane; and TERM=dumb falls back to plain lines."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import termios
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
    assert "EXIT=0" in out
    history = tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "t").stdout  # with what scrolled away
    assert "Verdict: HEALTHY" in history
    assert "PASS  What does the 6PN DNS say about acme-db.flycast?" in history


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


def test_pty_clicks_without_motion_and_the_verdict_stays_after_quitting(tmp_path):
    """Clicks and the wheel are reported; motion is not (`?1003h` would make the
    terminal report, and the wizard repaint, every mouse move). Quitting leaves
    the verdict and its fix commands on the normal screen."""

    master, slave = pty.openpty()
    os.set_blocking(master, False)
    env = {"TERM": "xterm", "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8", "HOME": str(tmp_path), "PATH": os.environ["PATH"]}
    proc = subprocess.Popen([sys.executable, "-m", "tui", "demo", "--speed", "0"], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path, start_new_session=True)
    os.close(slave)

    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    out = b""
    try:
        end = time.monotonic() + 30
        while b"ROOT CAUSE" not in out and time.monotonic() < end:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    out += os.read(master, 65536)
                except OSError:
                    break
        assert b"ROOT CAUSE" in out, out[-2000:]
        os.write(master, b"q")
        proc.wait(timeout=15)
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"\x1b[?1000h" in out and b"\x1b[?1006h" in out
    assert b"\x1b[?1003h" not in out and b"\x1b[?1002h" not in out
    assert proc.returncode == 1
    # after the alternate screen is left, the verdict and its fix stay in the terminal
    after = out.rsplit(b"\x1b[?1049l", 1)[-1].decode(errors="replace")
    assert "Verdict: ROOT CAUSE" in after and "pg.ssl_required_unsupported" in after, after[-1500:]
    assert "$ read -rs PGPASSWORD" in after and "$ fly secrets set DATABASE_URL=" in after
    assert "Not run" not in after

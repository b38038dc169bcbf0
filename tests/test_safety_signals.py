"""SIGTERM, SIGHUP and a second Ctrl-C during cleanup: every child is reaped (flyctl
and `fly proxy` run in sessions of their own, and may ignore SIGTERM) and the exit
status is the contract's: 130 for an interrupt, 128 + the signal for TERM and HUP."""

from __future__ import annotations

import time
from pathlib import Path

import pytest


# Stands in for flyctl (any subcommand; `fly proxy` runs in a session of its own, and a
# proxy stuck in its tunnel may ignore SIGTERM): it and a child of its own ignore TERM, HUP
# and INT, and write their pids.
STUCK_FLYCTL = """#!/bin/sh
echo $$ >> "$FCP_TEST_PIDS"
trap '' TERM HUP INT
sh -c 'trap "" TERM HUP INT; echo $$ >> "$FCP_TEST_PIDS"; exec sleep 300' &
wait
wait
"""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie has ended
    except FileNotFoundError:
        return True


@pytest.mark.parametrize("signals,code", [
    (["SIGTERM"], 143),
    (["SIGHUP"], 129),
    (["SIGINT", "SIGINT"], 130),  # the second Ctrl-C lands during the first one's cleanup
])
def test_signals_reap_every_child(tmp_path, signals, code):
    import os
    import signal
    import subprocess
    import sys

    fly = tmp_path / "fly"
    fly.write_text(STUCK_FLYCTL)
    fly.chmod(0o755)
    pids = tmp_path / "pids"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PG", "FLY"))}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parent.parent), FCP_TEST_PIDS=str(pids), NO_COLOR="1")
    p = subprocess.Popen(
        [sys.executable, "-m", "tui", "diagnose", "--plain", "--timeout", "60", "--flyctl", str(fly), "--app", "acme-web",
         "--symptom", "everything", "--database-url", "postgres://app@127.0.0.1:1/app"],  # the logs check calls flyctl
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and (not pids.exists() or len(pids.read_text().split()) < 2):
            time.sleep(0.05)
        children = [int(x) for x in pids.read_text().split()]
        assert len(children) >= 2
        for i, name in enumerate(signals):
            if i:
                time.sleep(0.3)  # inside the bounded wait between SIGTERM and SIGKILL
            p.send_signal(getattr(signal, name))
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == code, (p.returncode, err)
    assert "Traceback" not in err and err.count("\n") <= 1, err
    end = time.monotonic() + 5
    while time.monotonic() < end and not all(_gone(c) for c in children):
        time.sleep(0.05)
    assert all(_gone(c) for c in children), [c for c in children if not _gone(c)]

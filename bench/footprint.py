"""Footprint: peak RSS, and the bytes a walk writes to an 80x24 terminal (what
crosses an SSH link), measured in a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time

from . import measure
from .alternatives import ROOT

# Sent one at a time, each when the screen has been still for idle_s: Enter (a
# start screen), v (the verdict), then q, ctrl+q, ctrl+c to leave. A plain-mode
# walk exits on its own before any is needed.
KEYS = [b"\r", b"v", b"q", b"\x11", b"\x03"]


def pty_run(
    cmd: list[str], env: dict, cwd: str, cols: int = 80, rows: int = 24, idle_s: float = 2.0, still_bps: int = 4096, bound: float = 60.0
) -> dict:
    """Run `cmd` on a pty of cols x rows; count every byte it writes. When the
    screen is still (under still_bps bytes a second over idle_s: a finished
    screen, perhaps with a small animation), send the next key."""
    cmd, rss_file = measure.with_rss(cmd)
    pid, fd = pty.fork()  # the child leads its own session: pid is its process group
    if pid == 0:  # child
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.chdir(cwd)
            os.execvpe(cmd[0], cmd, env)
        finally:
            os._exit(127)
    t0 = time.monotonic()
    total = 0
    recent: list[tuple[float, int]] = []  # (time, bytes) within the last idle_s
    since_key = t0
    keys = list(KEYS)
    sent: list[str] = []
    still_rates: list[float] = []  # bytes/s while the screen counted as still, before each key
    while True:
        now = time.monotonic()
        if now - t0 > bound:
            os.killpg(pid, signal.SIGKILL)
            break
        r, _, _ = select.select([fd], [], [], 0.1)
        now = time.monotonic()
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            total += len(chunk)
            recent.append((now, len(chunk)))
        recent = [(t, n) for t, n in recent if now - t <= idle_s]
        window = sum(n for _, n in recent)
        if total and now - since_key > idle_s and window < still_bps * idle_s:
            still_rates.append(window / idle_s)
            since_key = now
            if keys:
                k = keys.pop(0)
                os.write(fd, k)
                sent.append(repr(k))
            else:
                os.killpg(pid, signal.SIGTERM)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return {
        "bytes": total,
        "seconds": round(time.monotonic() - t0, 3),
        "maxrss_kb": measure.read_rss(rss_file),
        "exit": os.waitstatus_to_exitcode(status),
        "keys_sent": sent,
        "still_screen_bytes_per_s": round(min(still_rates), 1) if still_rates else None,
    }


def terminal_walk(lab, env_for, replay_args: list[str], label: str) -> dict:
    env = env_for(lab)
    env["TERM"] = "xterm-256color"
    env.pop("NO_COLOR", None)  # what a person's terminal gets
    out = {"walk": {"what": label, **pty_run([sys.executable, "-m", "tui", *replay_args], env, lab.home)}}
    if (ROOT / "tui" / "app.py").exists():
        out["walk --low-bandwidth"] = {"what": label + " with --low-bandwidth", **pty_run([sys.executable, "-m", "tui", *replay_args, "--low-bandwidth"], env, lab.home)}
    out["minimal Textual app (first screen, then quit)"] = pty_run([sys.executable, str(ROOT / "bench" / "minimal_app.py")], env, lab.home)
    return out

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
# 100 mouse moves over the verdict, one every 10 ms (a hand moving a mouse), as
# SGR motion reports with no button held (`CSI < 35 ; x ; y M`, xterm ctlseqs,
# "SGR (1006)" and "Any-event tracking"). The wizard asks for clicks only, so a
# real terminal sends none of these: this is what they would cost if it did.
MOVES = "moves"
MOVE_REPORTS = [f"\x1b[<35;{10 + (i * 7) % 60};{4 + (i * 3) % 16}M".encode() for i in range(100)]
MOVE_EVERY_S = 0.01
KEYS_WITH_MOVES = [b"\r", b"v", MOVES, b"q", b"\x11", b"\x03"]


def pty_run(
    cmd: list[str],
    env: dict,
    cwd: str,
    cols: int = 80,
    rows: int = 24,
    idle_s: float = 2.0,
    still_bps: int = 4096,
    bound: float = 60.0,
    keys: list = KEYS,
) -> dict:
    """Run `cmd` on a pty of cols x rows; count every byte it writes. When the
    screen is still (under still_bps bytes a second over idle_s: a finished
    screen, perhaps with a small animation), send the next key; MOVES sends the
    mouse moves, and the bytes from the first move to the next still screen are
    counted apart."""
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
    keys = list(keys)
    moves: list[bytes] = []
    moves_from = moves_bytes = None
    last_move = 0.0
    sent: list[str] = []
    still_rates: list[float] = []  # bytes/s while the screen counted as still, before each key
    while True:
        now = time.monotonic()
        if now - t0 > bound:
            os.killpg(pid, signal.SIGKILL)
            break
        r, _, _ = select.select([fd], [], [], 0.005 if moves else 0.1)
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
        if moves and now - last_move >= MOVE_EVERY_S:
            os.write(fd, moves.pop(0))
            last_move = since_key = now
        recent = [(t, n) for t, n in recent if now - t <= idle_s]
        window = sum(n for _, n in recent)
        if total and not moves and now - since_key > idle_s and window < still_bps * idle_s:
            still_rates.append(window / idle_s)
            since_key = now
            if moves_from is not None and moves_bytes is None:
                moves_bytes = total - moves_from
            if keys and keys[0] == MOVES:
                keys.pop(0)
                moves = list(MOVE_REPORTS)
                moves_from = total
                sent.append(f"{len(moves)} mouse moves")
            elif keys:
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
        "moves_bytes": moves_bytes,
        "still_screen_bytes_per_s": round(min(still_rates), 1) if still_rates else None,
    }


def terminal_walk(lab, env_for, replay_args: list[str], label: str) -> dict:
    env = env_for(lab)
    env["TERM"] = "xterm-256color"
    env.pop("NO_COLOR", None)  # what a person's terminal gets
    walk = [sys.executable, "-m", "tui", *replay_args]
    out = {"walk": {"what": label, **pty_run(walk, env, lab.home, keys=KEYS_WITH_MOVES)}}
    if (ROOT / "tui" / "app.py").exists():
        out["walk --low-bandwidth"] = {"what": label + " with --low-bandwidth", **pty_run([*walk, "--low-bandwidth"], env, lab.home, keys=KEYS_WITH_MOVES)}
    out["minimal Textual app (first screen, then quit)"] = pty_run([sys.executable, str(ROOT / "bench" / "minimal_app.py")], env, lab.home)
    return out

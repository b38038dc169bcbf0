"""Every child process fcp-doctor starts, so that every exit path reaps them.

flyctl and `fly proxy` run in sessions of their own (a Ctrl-C typed at the
terminal does not reach them, and their own children share their group), so
nothing ends them but us: `reap_all()` sends each group SIGTERM, waits a
bounded time, then SIGKILL. It runs on every way out of the command line:
normal end, an error, Ctrl-C (twice), SIGTERM, SIGHUP.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

TERM_GRACE = 1.0  # seconds between SIGTERM and SIGKILL
_groups: set[int] = set()


async def spawn(*args: str, **kw) -> asyncio.subprocess.Process:
    """asyncio.create_subprocess_exec in a new session, remembered until reaped."""
    proc = await asyncio.create_subprocess_exec(*args, start_new_session=True, **kw)
    _groups.add(proc.pid)
    return proc


def forget(pid: int) -> None:
    _groups.discard(pid)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _alive(pid: int) -> bool:
    # (asyncio's child watcher reaps the leader; waiting here would make it log "unknown pid")
    try:
        os.killpg(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def reap_all(grace: float = TERM_GRACE) -> None:
    """SIGTERM every group still alive, SIGKILL what is left after `grace`. Never raises,
    and a Ctrl-C while it waits does not cut it short."""
    pids = [p for p in list(_groups) if _alive(p)]
    if not pids:
        _groups.clear()
        return
    old = _ignore_interrupts()
    try:
        for p in pids:
            kill_group(p, signal.SIGTERM)
        end = time.monotonic() + grace
        while pids and time.monotonic() < end:
            time.sleep(0.02)
            pids = [p for p in pids if _alive(p)]
        for p in pids:
            kill_group(p, signal.SIGKILL)
        end = time.monotonic() + 2.0
        while pids and time.monotonic() < end:
            time.sleep(0.02)
            pids = [p for p in pids if _alive(p)]
        _groups.clear()
    finally:
        _restore(old)


def _ignore_interrupts() -> dict:
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            old[sig] = signal.signal(sig, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass
    return old


def _restore(old: dict) -> None:
    for sig, handler in old.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError, TypeError):
            pass

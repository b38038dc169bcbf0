"""Timing one child process: wall time to exit and to its first stdout byte,
its output, and its peak RSS, with a hard bound on the wait.

Peak RSS comes from GNU time (`/usr/bin/time -f %M`), not from our own wait4:
Linux keeps the pre-exec high-water mark of a forked child, so wait4 from this
(large) process would report our own size for any small child."""

from __future__ import annotations

import os
import selectors
import tempfile
import signal
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass


@dataclass
class Run:
    wall_s: float  # to exit, or to the bound when it timed out
    first_byte_s: float | None  # first byte on stdout
    rc: int | None  # None: still running at the bound (killed)
    stdout: str
    stderr: str
    maxrss_kb: int | None  # None: GNU time missing, or the run was cut at the bound
    timed_out: bool

    def brief(self) -> dict:
        d = asdict(self)
        d["stdout"] = self.stdout[-2000:]
        d["stderr"] = self.stderr[-2000:]
        return d


GNU_TIME = "/usr/bin/time"


def with_rss(cmd: list[str]) -> tuple[list[str], str | None]:
    """`cmd` under GNU time writing the peak RSS (KiB) to a file; (cmd, None) without it."""
    if not os.path.exists(GNU_TIME):
        return cmd, None
    fd, path = tempfile.mkstemp(prefix="fcpbench-rss-")
    os.close(fd)
    return [GNU_TIME, "-f", "%M", "-o", path, *cmd], path


def read_rss(path: str | None) -> int | None:
    if path is None:
        return None
    try:
        lines = open(path).read().split()
        os.unlink(path)
        return int(lines[-1]) if lines and lines[-1].isdigit() else None
    except OSError:
        return None


def run(cmd: list[str], *, env: dict, cwd: str, bound: float, stdin: bytes | None = None) -> Run:
    """Run `cmd` in its own session (no controlling terminal, so nothing can
    prompt), kill its process group at `bound` seconds."""
    cmd, rss_file = with_rss(cmd)
    t0 = time.monotonic()
    p = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    if stdin is not None:
        p.stdin.write(stdin)
        p.stdin.close()
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ, "out")
    sel.register(p.stderr, selectors.EVENT_READ, "err")
    out, err = bytearray(), bytearray()
    first = None
    timed_out = False
    deadline = t0 + bound
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, _ in sel.select(min(left, 0.5)):
            chunk = os.read(key.fileobj.fileno(), 65536)
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            if key.data == "out":
                if first is None:
                    first = time.monotonic() - t0
                out += chunk
            else:
                err += chunk
    if timed_out:
        wall = bound
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(p.pid, 0)
    if not timed_out:
        wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    for f in (p.stdout, p.stderr):
        f.close()
    return Run(
        wall_s=round(wall, 4),
        first_byte_s=round(first, 4) if first is not None else None,
        rc=None if timed_out else p.returncode,
        stdout=out.decode(errors="replace"),
        stderr=err.decode(errors="replace"),
        maxrss_kb=read_rss(rss_file),
        timed_out=timed_out,
    )


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "median_s": None, "max_s": None}
    return {"n": len(values), "median_s": round(statistics.median(values), 3), "max_s": round(max(values), 3)}

"""Running fcp-doctor where the problem is: on an app's machines, through flyctl.

`run_flyctl` is the one way this package runs flyctl: bounded by a timeout,
killed (with its children) when the time is up, output decoded and returned.
"""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass

from .. import children


@dataclass
class FlyctlResult:
    returncode: int  # -1: timed out, -2: could not start
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def error_line(self) -> str:
        """flyctl's own one-line error (`Error: ...`), else the last stderr line."""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        for ln in lines:
            if ln.startswith("Error:"):
                return ln
        return lines[-1] if lines else f"exit status {self.returncode}"


async def run_flyctl(flyctl: str, args: list[str], timeout: float, stdin: bytes | None = None, env: dict | None = None) -> FlyctlResult:
    try:
        proc = await children.spawn(
            flyctl,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except OSError as exc:
        return FlyctlResult(-2, "", f"cannot run {flyctl}: {exc.strerror or exc}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return FlyctlResult(-1, "", f"flyctl {' '.join(args[:2])} gave no answer within {timeout:.0f} s")
    return FlyctlResult(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))

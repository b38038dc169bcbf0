"""The one way fcp-doctor runs flyctl (the probes, the logs scan, ship and
fleet): bounded by a time limit, killed with its children when the time is up
or the walk is cancelled, its output decoded and kept whole.

flyctl's one-line error is its `Error: ...` line on stderr (facts/fly.md §2.3).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass

CANNOT_START = -2  # rc of a flyctl that could not be started (not executable, a bad interpreter line)


def error_line(text: str, keep_prefix: bool = False) -> str:
    """The message of flyctl's `Error: ...` line (the whole line with
    `keep_prefix`), else the last non-empty line, else ''."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if ln.startswith("Error:"):
            return ln if keep_prefix else ln[len("Error:") :].strip()
    return lines[-1] if lines else ""


@dataclass
class FlyctlResult:
    rc: int | None  # None: killed at the time limit; CANNOT_START: never ran
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0

    @property
    def answered(self) -> bool:
        """flyctl ran to its own end (whatever its exit status)."""
        return self.rc is not None and self.rc != CANNOT_START

    @property
    def error(self) -> str:
        """flyctl's error message, without its `Error:` prefix (for a verdict's words)."""
        return error_line(self.stderr) or error_line(self.stdout)

    def error_line(self) -> str:
        """flyctl's error line as it printed it (`Error: ...`), else the last
        stderr line, else the exit status (for a one-line report of a failed call)."""
        return error_line(self.stderr, keep_prefix=True) or f"exit status {self.rc}"

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def parsed(self, kind: type):
        """The JSON of a successful run when it is a `kind` (list or dict), else None."""
        if self.rc != 0:
            return None
        if kind is list and self.stdout.strip() == "null":  # Go prints an empty (nil) list so
            return []
        data = self.json()
        return data if isinstance(data, kind) else None

    def garbled(self, what: str) -> str:
        """Why a successful run gave no usable JSON (an update banner, a cut-off write)."""
        first = error_line(self.stdout)[:120] or "nothing"
        return f"fly {what} exited 0 but printed no usable JSON ({first!r})"


def kill_group(proc, sig: int = signal.SIGKILL) -> None:
    """Signal flyctl and every process it started (its own session)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def _command(args: list[str]) -> str:
    """`fly machines list` of `machines list -a APP --json`: the words before the first flag."""
    words = []
    for a in args:
        if a.startswith("-"):
            break
        words.append(a)
    return " ".join(["fly", *words[:3]])


async def run_flyctl(flyctl: str, args: list[str], timeout: float, stdin: bytes | None = None, env: dict | None = None) -> FlyctlResult:
    try:
        proc = await asyncio.create_subprocess_exec(
            flyctl,
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return FlyctlResult(CANNOT_START, "", f"cannot run {flyctl}: {exc.strerror or exc}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        kill_group(proc)
        await proc.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        return FlyctlResult(None, "", f"{_command(args)}: no answer within {timeout:g} s")
    return FlyctlResult(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))

"""`fcp-doctor ship`: put the single-file executable on a running machine of an
app through flyctl, run the walk there, bring the JSON back, clean up.

Transfer: `fly ssh sftp put` (refuses to overwrite, default mode 0644, so we
ask for 0755), or, where sftp is unavailable, a `fly ssh console -C` stream
into `cat` (needs /bin/sh in the image). `-C` is not run through a shell and
gets no PTY unless `--pty` (facts/fly.md §5.2), so the command is plain argv.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..flyctl import FlyctlResult, run_flyctl
from ..secret import redact

REMOTE_DIR = "/tmp"


class ShipError(Exception):
    """A one-line reason the walk could not run on the machine."""


@dataclass
class Machine:
    id: str
    region: str
    state: str
    name: str = ""
    private_ip: str = ""

    @classmethod
    def from_json(cls, d: dict) -> "Machine":
        return cls(str(d.get("id", "")), str(d.get("region", "")), str(d.get("state", "")), str(d.get("name", "")), str(d.get("private_ip", "")))


@dataclass
class RemoteRun:
    machine: Machine
    report: dict | None = None
    error: str = ""
    transfer: str = ""
    elapsed_ms: int = 0
    notes: list[str] = field(default_factory=list)
    recording: dict | None = None  # the machine's --record file: replayed in the local wizard


def find_executable(explicit: str | None = None) -> Path:
    """The single-file executable to ship: --exe, $FCP_DOCTOR_EXE, this process
    when it is the frozen executable, else dist/fcp-doctor of this checkout."""
    for cand in (explicit, os.environ.get("FCP_DOCTOR_EXE")):
        if cand:
            p = Path(cand)
            if not p.is_file():
                raise ShipError(f"no executable at {cand}")
            return p
    if getattr(sys, "frozen", False):
        return Path(sys.executable)
    checkout = Path(__file__).resolve().parents[2]
    p = checkout / "dist" / "fcp-doctor"
    if p.is_file():
        return p
    build = checkout / "packaging" / "build.py"
    if build.is_file():  # a source checkout: build it once, as `make dist` does
        print("fcp-doctor: no dist/fcp-doctor yet: building it (make dist) …", file=sys.stderr)
        import subprocess

        r = subprocess.run([sys.executable, str(build)], stdout=subprocess.PIPE, text=True)
        if r.returncode == 0 and p.is_file():
            return p
    raise ShipError("no single-file executable to ship: run `make dist` first (or pass --exe PATH)")


async def list_machines(flyctl: str, app: str, timeout: float) -> list[Machine]:
    r = await run_flyctl(flyctl, ["machines", "list", "-a", app, "--json"], timeout)
    if not r.ok:
        raise ShipError(f"fly machines list -a {app}: {redact(r.error_line())}")
    try:
        rows = json.loads(r.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise ShipError(f"fly machines list -a {app} --json: not JSON ({exc.msg})")
    return [Machine.from_json(d) for d in rows if isinstance(d, dict)]


def pick_machine(machines: list[Machine], app: str, machine_id: str | None) -> Machine:
    started = [m for m in machines if m.state == "started"]
    if machine_id:
        for m in machines:
            if m.id == machine_id:
                if m.state != "started":
                    raise ShipError(f"machine {m.id} of {app} is {m.state}, not started: `fly machine start {m.id} -a {app}`")
                return m
        raise ShipError(f"no machine {machine_id} in {app} (machines: {', '.join(m.id for m in machines) or 'none'})")
    if not started:
        raise ShipError(f"app {app} has no started machine (see `fly machines list -a {app}`)")
    return started[0]


def _ssh_args(app: str, m: Machine) -> list[str]:
    return ["-a", app, "--machine", m.id, "-q"]


async def upload(flyctl: str, app: str, m: Machine, exe: Path, remote: str, timeout: float, how: str = "auto") -> str:
    """Put `exe` at `remote` on the machine, executable. Returns the way used."""
    errors = []
    if how in ("auto", "sftp"):
        r = await run_flyctl(flyctl, ["ssh", "sftp", "put", *_ssh_args(app, m), "--mode", "0755", str(exe), remote], timeout)
        if r.ok:
            return "sftp"
        if "unknown flag: --mode" in r.stderr:  # an older flyctl: put with its default 0644, then chmod there
            r = await run_flyctl(flyctl, ["ssh", "sftp", "put", *_ssh_args(app, m), str(exe), remote], timeout)
            if r.ok:
                c = await run_flyctl(flyctl, ["ssh", "console", *_ssh_args(app, m), "-C", f"chmod 0755 {remote}"], timeout)
                if c.ok:
                    return "sftp"
                await remove(flyctl, app, m, remote, timeout)
                r = c
        errors.append(f"sftp: {redact(r.error_line())}")
        if how == "sftp" or "already exists" in r.stderr:
            raise ShipError(errors[-1])
    script = f"cat > {shlex.quote(remote)} && chmod 0755 {shlex.quote(remote)}"
    r = await run_flyctl(flyctl, ["ssh", "console", *_ssh_args(app, m), "-C", f"sh -c {shlex.quote(script)}"], timeout, stdin=exe.read_bytes())
    if r.ok:
        return "stream"
    errors.append(f"ssh console stream: {redact(r.error_line())}")
    raise ShipError("; ".join(errors))


async def remove(flyctl: str, app: str, m: Machine, remote: str, timeout: float) -> FlyctlResult:
    return await run_flyctl(flyctl, ["ssh", "console", *_ssh_args(app, m), "-C", f"rm -f {remote} {remote}.rec.json"], timeout)


async def fetch_recording(flyctl: str, app: str, m: Machine, path: str, timeout: float, notes: list[str]) -> dict | None:
    """The machine's recording, or None (with a note): the report is still shown."""
    r = await run_flyctl(flyctl, ["ssh", "console", *_ssh_args(app, m), "-C", f"cat {path}"], timeout)
    text = r.stdout[r.stdout.find("{") :] if "{" in r.stdout else ""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if not r.ok or not isinstance(data, dict):
        notes.append(f"the machine's recording could not be read back: {redact(r.error_line()) or 'not JSON'}")
        return None
    return data


def walk_argv(remote: str, args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in [remote, *args])


def parse_report(stdout: str) -> dict:
    """The JSON report from the remote stdout (flyctl may print around it)."""
    text = stdout.strip()
    start = text.find("{")
    if start < 0:
        raise ShipError("the machine printed no JSON report" + (f": {redact(text.splitlines()[-1])}" if text else ""))
    try:
        report = json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise ShipError(f"the machine's report is not valid JSON ({exc.msg})")
    if not isinstance(report, dict) or not str(report.get("schema", "")).startswith("fcp-doctor.diagnosis/"):
        raise ShipError("the machine's output is not an fcp-doctor report")
    return report


def remote_path() -> str:
    return f"{REMOTE_DIR}/fcp-doctor-{secrets.token_hex(4)}"


async def run_on_machine(
    flyctl: str,
    app: str,
    m: Machine,
    exe: Path,
    walk_args: list[str],
    timeout: float,
    keep: bool = False,
    transfer: str = "auto",
    want_recording: bool = False,
) -> RemoteRun:
    """Upload, run `diagnose --json` there, bring the report back, clean up.
    With `want_recording` the walk is also recorded there (redacted, as every
    recording) and brought back, so the local wizard can replay what the
    machine saw. Every flyctl call is bounded; the whole run by `timeout` per call."""
    import time

    t0 = time.monotonic()
    run = RemoteRun(m)
    remote = remote_path()
    uploaded = False
    try:
        run.transfer = await upload(flyctl, app, m, exe, remote, timeout, transfer)
        uploaded = True
        record = ["--record", f"{remote}.rec.json"] if want_recording else []
        r = await run_flyctl(flyctl, ["ssh", "console", *_ssh_args(app, m), "-C", walk_argv(remote, ["diagnose", "--json", *record, *walk_args])], timeout)
        if not r.answered:
            raise ShipError(r.error_line())
        try:
            run.report = parse_report(r.stdout)
        except ShipError as exc:
            raise ShipError(f"{exc}; flyctl said: {redact(r.error_line())}" if r.stderr.strip() else str(exc))
        if want_recording:
            run.recording = await fetch_recording(flyctl, app, m, f"{remote}.rec.json", timeout, run.notes)
    except ShipError as exc:
        run.error = str(exc)
    finally:
        if uploaded and not keep:
            rr = await remove(flyctl, app, m, remote, min(timeout, 30))
            if not rr.ok:
                run.notes.append(f"could not remove {remote}: {redact(rr.error_line())}")
        elif uploaded:
            run.notes.append(f"kept at {remote} on machine {m.id}")
    run.elapsed_ms = int((time.monotonic() - t0) * 1000)
    return run

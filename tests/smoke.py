"""The smoke list: the commands a new user runs first, checked against an
installed program (the wheel in a fresh virtualenv, the single executable).

Each check runs the program from an empty temporary folder with a clean
environment, so nothing of the checkout can stand in for what was installed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(home: Path) -> dict:
    keep = {k: os.environ[k] for k in ("LANG", "LC_ALL", "SSL_CERT_FILE") if k in os.environ}
    return {**keep, "PATH": "/usr/bin:/bin", "HOME": str(home), "TERM": "dumb", "NO_COLOR": "1"}


def run(cmd: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=clean_env(cwd), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def check_all(program: list[str], work: Path, version: str, cause_ids: set[str]) -> None:
    """Runs every smoke command with `program` (argv prefix); asserts each result."""

    def go(*args: str, cwd: Path = work, timeout: float = 60) -> subprocess.CompletedProcess:
        r = run([*program, *args], cwd, timeout)
        assert "Traceback" not in r.stderr, f"{args}: {r.stderr[-2000:]}"
        return r

    r = go("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"fcp-doctor {version}", (r.stdout, r.stderr)

    r = go("--help")
    assert r.returncode == 0, r.stderr
    for sub in ("diagnose", "demo", "replay", "causes", "tree", "convex-probe", "ship", "fleet"):
        assert sub in r.stdout, sub

    r = go("causes", "--json")
    assert r.returncode == 0, r.stderr
    assert {c["id"] for c in json.loads(r.stdout)["causes"]} == cause_ids

    r = go("tree")
    assert r.returncode == 0, r.stderr
    assert "symptom everything" in r.stdout and "track postgres" in r.stdout

    r = go("demo", "--speed", "0", "--plain")
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert "Verdict: ROOT CAUSE" in r.stdout and "pg.ssl_required_unsupported" in r.stdout

    port = closed_port()
    r = go("diagnose", "--json", "--database-url", f"postgres://u:p@127.0.0.1:{port}/db")
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    doc = json.loads(r.stdout)
    assert doc["root_cause"]["id"] == "net.connection_refused"
    assert doc["version"] == version

    project = work / "convex-project"
    (project / "convex").mkdir(parents=True)
    (project / "package.json").write_text('{"name": "p", "dependencies": {"convex": "^1.0.0"}}\n')
    r = go("convex-probe", "init", cwd=project)
    assert r.returncode == 0, (r.stdout, r.stderr)
    written = sorted(p.name for p in (project / "convex").glob("*.ts"))
    assert {"fcpDoctorHttp.ts", "fcpDoctorNode.ts", "http.ts"} <= set(written), written
    assert all((project / "convex" / n).stat().st_size > 100 for n in written)

    r = go("replay", str(work / "no-such-walk.json"))
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr

"""What a 256 MB Fly machine leaves fcp-doctor: run as `nobody` inside a memory
cgroup limited to 256 MB (cgroup v2 `memory.max`, else v1 `memory.limit_in_bytes`,
nested under this process's own group), it survives every hostile peer of the suite
with a JSON report, and a 2 GB gzip bomb keeps the run's peak memory charge (the
group's own `memory.peak` / `memory.max_usage_in_bytes`) under 80 MB."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import hostile

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 256 << 20
BOMB_BUDGET = 80 << 20


def _memory_cgroup() -> tuple[Path, str] | None:
    """(our own memory cgroup directory, "v2" | "v1"), if we may make a child group in it."""
    if os.geteuid() != 0:
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
            base = Path("/sys/fs/cgroup") / path.lstrip("/")
            if "memory" in (base / "cgroup.controllers").read_text().split():
                return base, "v2"
        if "memory" in controllers.split(","):
            base = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            if base.is_dir():
                return base, "v1"
    return None


@pytest.fixture(scope="module")
def cgroup():
    found = _memory_cgroup()
    if not found or not shutil.which("setpriv"):
        pytest.skip("needs root, setpriv and a memory cgroup this process may nest into")
    base, version = found
    group = base / f"fcp-doctor-test-{os.getpid()}"
    try:
        group.mkdir()
        (group / ("memory.max" if version == "v2" else "memory.limit_in_bytes")).write_text(str(LIMIT))
        if version == "v2" and (group / "memory.swap.max").exists():
            (group / "memory.swap.max").write_text("0")
        if version == "v1" and (group / "memory.memsw.limit_in_bytes").exists():
            (group / "memory.memsw.limit_in_bytes").write_text(str(LIMIT))
    except OSError as exc:
        pytest.skip(f"cannot make a memory cgroup: {exc}")
    yield group
    rmdir_when_empty(group)


def rmdir_when_empty(group: Path) -> None:
    """A cgroup can be removed once its last process is gone: retry for up to 5 s."""
    for _ in range(50):
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.1)


def run_confined(group: Path, *args: str) -> tuple[int, str, str, int]:
    """fcp-doctor as nobody in a fresh group under `group` (its limit applies):
    (exit status, stdout, stderr, the run's peak memory charge in bytes)."""
    run = group / f"run-{next(_runs)}"
    run.mkdir()
    work = Path(tempfile.mkdtemp(prefix="fcp-nobody-"))
    os.chmod(work, 0o777)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    cmd = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", sys.executable, "-m", "tui", *args]
    # the child joins the group before it becomes python (and nobody)
    shell = f'echo $$ > {run}/cgroup.procs && exec "$@"'
    try:
        p = subprocess.run(["sh", "-c", shell, "sh", *cmd], env=env, cwd=work, capture_output=True, timeout=120)
        peak_file = run / ("memory.peak" if (run / "memory.peak").exists() else "memory.max_usage_in_bytes")
        peak = int(peak_file.read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
        rmdir_when_empty(run)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace"), peak


_runs = itertools.count()


HTTP_PEERS = {
    "gzip_bomb": hostile.HttpGzipBomb,
    "huge_body": hostile.HttpHugeBody,
    "drip": hostile.HttpDrip,
    "redirect_loop": hostile.HttpRedirectLoop,
    "blackhole": hostile.Blackhole,
    "echo": lambda: hostile.HttpEcho(b"\x1b]52;c;ZXZpbA==\x07 Authorization: Bearer CANARY-abc-123456"),
}
PG_PEERS = {
    "closes_during_startup": hostile.PgClosesDuringStartup,
    "garbage_ssl": hostile.PgGarbageSSL,
    "hangs_after_login": hostile.PgHangsAfterLogin,
    "blackhole": hostile.Blackhole,
}


def _check(code: int, out: str, err: str) -> dict:
    assert code in (0, 1, 3), (code, err[-2000:])  # -9 would be the OOM killer
    assert "Traceback" not in err and "MemoryError" not in err, err[-2000:]
    return json.loads(out)


@pytest.mark.parametrize("name", list(HTTP_PEERS))
def test_http_peers_in_256_mb_as_nobody(cgroup, name):
    with HTTP_PEERS[name]() as s:
        code, out, err, peak = run_confined(
            cgroup, "diagnose", "--json", "--timeout", "2", "--symptom", "self-hosted-backend-down",
            "--convex-url", f"http://{s.host}:{s.port}", "--database-url", "postgres://a@127.0.0.1:1/d",
        )
    doc = _check(code, out, err)
    assert "CANARY-abc-123456" not in out + err
    assert any(st["node"].startswith("convex") for st in doc["steps"])
    assert peak < LIMIT
    if name == "gzip_bomb":
        assert peak < BOMB_BUDGET, f"peak {peak >> 20} MB over the 2 GB gzip bomb"


@pytest.mark.parametrize("name", list(PG_PEERS))
def test_postgres_peers_in_256_mb_as_nobody(cgroup, name):
    with PG_PEERS[name]() as s:
        code, out, err, peak = run_confined(
            cgroup, "diagnose", "--json", "--timeout", "2", "--symptom", "laptop-cant-reach-postgres",
            "--database-url", f"postgres://app:Nobody-Pw-81@{s.host}:{s.port}/app",
        )
    _check(code, out, err)
    assert "Nobody-Pw-81" not in out + err and peak < LIMIT


def test_hanging_flyctl_in_256_mb_as_nobody(cgroup):
    d = Path(tempfile.mkdtemp(prefix="fcp-fly-"))
    os.chmod(d, 0o755)
    fly = hostile.fake_flyctl(d, "hang")
    try:
        code, out, err, peak = run_confined(
            cgroup, "diagnose", "--json", "--timeout", "1", "--flyctl", str(fly), "--app", "acme-web",
            "--symptom", "everything", "--database-url", "postgres://app@127.0.0.1:1/app",
        )
    finally:
        shutil.rmtree(d, ignore_errors=True)
    _check(code, out, err)
    assert peak < LIMIT

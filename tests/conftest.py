import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))

from pgcluster import PgCluster  # noqa: E402

# Every password the suite uses is long and distinctive, so "it never appears" is a real check.
APP_PASSWORD = "app-Pw-7Kq2#zz"


MAIN_HBA = [
    "local all all trust",
    "local replication all trust",
    # an explicit refusal for one role, ahead of the general rules
    "host all hba_reject 0.0.0.0/0 reject",
    "host all hba_reject ::/0 reject",
    "host all all 0.0.0.0/0 scram-sha-256",
    "host all all ::/0 scram-sha-256",
    "host replication all 127.0.0.1/32 trust",
    "host replication all ::1/128 trust",
]


@pytest.fixture(scope="session")
def pg():
    """A healthy PostgreSQL 15 on a free loopback port, for the whole session,
    with the roles and databases the fault tests need:
    `app` (a normal role), `limited` (CONNECTION LIMIT 1), `hba_reject` (refused
    by pg_hba.conf), `nopw` (no password set), database `appdb` owned by app and
    database `rodb` with default_transaction_read_only = on."""
    c = PgCluster(name="main", hba=MAIN_HBA).init().start()
    try:
        c.add_role("app", APP_PASSWORD)
        c.add_role("limited", APP_PASSWORD, "CONNECTION LIMIT 1")
        c.add_role("hba_reject", APP_PASSWORD)
        c.add_role("nologin_role", APP_PASSWORD)
        c.psql("ALTER ROLE nologin_role NOLOGIN")
        c.psql('CREATE DATABASE appdb OWNER app')
        c.psql('CREATE DATABASE closeddb OWNER app')
        c.psql('REVOKE CONNECT ON DATABASE closeddb FROM PUBLIC')
        c.psql('CREATE DATABASE rodb OWNER app')
        c.psql('ALTER DATABASE rodb SET default_transaction_read_only = on')
        yield c
    finally:
        c.destroy()


_DROP_PREFIXES = ("DATABASE_URL", "POSTGRES_URL", "CONVEX", "FLY_", "PG")


def run_cli(*args, env=None, cwd=None, timeout=60, input=None, prefix=()):
    """Run `python -m tui ...` in a clean environment: no DATABASE_URL, no libpq
    PG* variables and no ~/.pgpass leaking in. `prefix` runs it under another
    command (`ip netns exec NAME`)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_DROP_PREFIXES)}
    base["PYTHONPATH"] = str(ROOT)
    base["PGPASSFILE"] = "/nonexistent/pgpass"
    base.setdefault("NO_COLOR", "1")
    if env:
        base.update(env)
    own_cwd = cwd is None
    cwd = cwd or tempfile.mkdtemp(prefix="fcp-cwd-")
    try:
        r = subprocess.run(
            [*prefix, sys.executable, "-m", "tui", *args],
            capture_output=True,
            text=True,
            env=base,
            cwd=cwd,
            timeout=timeout,
            input=input,
        )
    finally:
        if own_cwd:
            shutil.rmtree(cwd, ignore_errors=True)
    leaked = [x for x in _given_secrets(args, env) if x in r.stdout or x in r.stderr]
    assert not leaked, f"a secret given to the CLI shows in its output: {leaked}"
    return r


def _given_secrets(args, env) -> set[str]:
    """Every run is also a canary check: the passwords and keys it was given."""
    import re
    from urllib.parse import unquote

    from pgcluster import SUPERPASS

    found = {SUPERPASS}
    args = [str(a) for a in args]
    for flag, value in zip(args, args[1:]):
        if flag == "--admin-key":
            found |= {value, value.rsplit("|", 1)[-1]}
    for text in args + list((env or {}).values()):
        m = re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:([^@/\s]+)@", str(text))
        if m:
            found |= {m.group(1), unquote(m.group(1))}
    return {x for x in found if len(x) >= 6}


@pytest.fixture
def cli():
    return run_cli


@dataclass
class Diagnosed:
    rc: int
    stdout: str
    stderr: str
    report: dict
    recording: str
    seconds: float

    @property
    def cause(self):
        rc = self.report.get("root_cause")
        return rc["id"] if rc else None

    def step(self, node: str) -> dict:
        for s in self.report["steps"]:
            if s["node"] == node:
                return s
        raise AssertionError(f"no step {node}: {[s['node'] for s in self.report['steps']]}")


def diagnose(url=None, *args, secrets=(), env=None, cwd=None, prefix=(), record=True, timeout=60) -> Diagnosed:
    """`diagnose --json` with the URL in DATABASE_URL (or as given in `args`),
    recorded; asserts no secret is in stdout, stderr or the recording."""
    import time

    tmp = Path(tempfile.mkdtemp(prefix="fcp-rec-"))
    rec = tmp / "walk.json"
    full_env = dict(env or {})
    if url is not None:
        full_env["DATABASE_URL"] = url
    extra = ["--record", str(rec)] if record else []
    t0 = time.monotonic()
    r = run_cli("diagnose", "--json", *extra, *args, env=full_env, cwd=cwd, prefix=prefix, timeout=timeout)
    seconds = time.monotonic() - t0
    recording = rec.read_text() if rec.exists() else ""
    shutil.rmtree(tmp, ignore_errors=True)
    for s in [x for sec in secrets for x in (sec, quote(sec, safe=""))]:
        assert s not in r.stdout, f"secret in stdout: {r.stdout}"
        assert s not in r.stderr, f"secret in stderr: {r.stderr}"
        assert s not in recording, "secret in the recording"
    assert "Traceback" not in r.stderr, r.stderr
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (rc {r.returncode}): {r.stdout[:500]} {r.stderr[:2000]}")
    if record:
        assert recording, f"no recording written: {r.stderr}"
    return Diagnosed(r.returncode, r.stdout, r.stderr, report, recording, seconds)


def assert_cause(d: Diagnosed, cause_id: str) -> None:
    assert d.cause == cause_id, (
        f"expected {cause_id}, got {d.cause} (verdict {d.report['verdict']}):\n"
        + "\n".join(f"  {s['node']}: {s['status']} {s['outcome']} — {s['summary']}" for s in d.report["steps"])
    )
    assert d.rc == 1, d.rc
    assert d.report["verdict"] == "root_cause"

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))

from pgcluster import PgCluster  # noqa: E402


@pytest.fixture(scope="session")
def pg():
    """A healthy PostgreSQL 15 on a free loopback port, for the whole session."""
    c = PgCluster(name="main").init().start()
    try:
        yield c
    finally:
        c.destroy()


def run_cli(*args, env=None, cwd=None, timeout=60, input=None):
    """Run `python -m tui ...` in a clean environment (no DATABASE_URL leaking in).
    Every run is also a canary check: no password or key it was given shows in its output."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "POSTGRES_URL", "CONVEX", "FLY_"))}
    base["PYTHONPATH"] = str(ROOT)
    base.setdefault("NO_COLOR", "1")
    if env:
        base.update(env)
    r = subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        env=base,
        cwd=cwd or _empty_dir(),
        timeout=timeout,
        input=input,
    )
    leaked = [s for s in _given_secrets(args, env) if s in r.stdout or s in r.stderr]
    assert not leaked, f"a secret given to the CLI shows in its output: {leaked}"
    return r


def _given_secrets(args, env) -> set[str]:
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
    return {s for s in found if len(s) >= 6}


def _empty_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="fcp-cwd-")


@pytest.fixture
def cli():
    return run_cli

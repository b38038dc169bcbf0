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
    """Run `python -m tui ...` in a clean environment (no DATABASE_URL leaking in)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "POSTGRES_URL", "CONVEX", "FLY_"))}
    base["PYTHONPATH"] = str(ROOT)
    base.setdefault("NO_COLOR", "1")
    if env:
        base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        env=base,
        cwd=cwd or _empty_dir(),
        timeout=timeout,
        input=input,
    )


def _empty_dir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="fcp-cwd-")


@pytest.fixture
def cli():
    return run_cli

"""Build the single-file executable (`make dist`), reusing a cached build.

The build is keyed by a hash of everything that goes into it (the sources,
the spec, pyproject.toml, the Python and PyInstaller versions), cached under
build/dist-cache/<hash>/ and copied to dist/fcp-doctor. Prints the path.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "dist-cache"
OUT = ROOT / "dist" / "fcp-doctor"
PYINSTALLER = "pyinstaller>=6.10"


def _inputs() -> list[Path]:
    files = [ROOT / "pyproject.toml", ROOT / "packaging" / "fcp-doctor.spec", ROOT / "packaging" / "entry.py"]
    for pkg in ("diagnostics", "tui"):
        files += [p for p in (ROOT / pkg).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    return sorted(files)


def source_hash() -> str:
    h = hashlib.sha256()
    try:
        import PyInstaller

        h.update(PyInstaller.__version__.encode())
    except ImportError:
        pass
    h.update(f"{sys.version}|{platform.machine()}".encode())
    for p in _inputs():
        h.update(str(p.relative_to(ROOT)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def ensure_pyinstaller() -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        print(f"dist: installing {PYINSTALLER}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", PYINSTALLER], check=True)


def build(quiet: bool = True) -> Path:
    import fcntl

    ensure_pyinstaller()
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:  # one build at a time (make dist while the tests build)
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(quiet)


def _build(quiet: bool) -> Path:
    key = source_hash()
    cached = CACHE / key / "fcp-doctor"
    if not cached.exists():
        work = CACHE / key / "work"
        cmd = [
            sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean",
            "--distpath", str(CACHE / key), "--workpath", str(work),
            "--log-level", "WARN" if quiet else "INFO",
            str(ROOT / "packaging" / "fcp-doctor.spec"),
        ]
        print(f"dist: building {cached.relative_to(ROOT)} with PyInstaller", file=sys.stderr)
        subprocess.run(cmd, check=True, cwd=ROOT)
        shutil.rmtree(work, ignore_errors=True)
        # keep only this build: older keys are stale sources
        for old in CACHE.iterdir():
            if old.is_dir() and old.name != key:
                shutil.rmtree(old, ignore_errors=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if not OUT.exists() or OUT.stat().st_mtime < cached.stat().st_mtime or OUT.stat().st_size != cached.stat().st_size:
        tmp = OUT.with_suffix(".tmp")
        shutil.copy2(cached, tmp)
        os.replace(tmp, OUT)
    return OUT


if __name__ == "__main__":
    path = build(quiet="-v" not in sys.argv)
    size = path.stat().st_size
    print(f"dist: {path.relative_to(ROOT)} ({size / 1e6:.1f} MB)", file=sys.stderr)
    print(path)

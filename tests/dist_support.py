"""The single-file executable and a Python-less Debian root for the tests.

Both are cached under gitignored directories: the executable by a hash of its
sources (packaging/build.py, shared with `make dist`), the Debian root
(debootstrap --variant=minbase bookworm, from this machine's configured Debian
mirror) under tests/.cache/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "tests" / ".cache"
DEBIAN_ROOT = CACHE / "debian-bookworm-minbase"
SUITE = "bookworm"


def dist_executable() -> Path:
    """Build (or reuse) the executable; returns its path."""
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import build as dist_build
    finally:
        sys.path.pop(0)
    return dist_build.build()


def debian_mirror() -> str | None:
    """The Debian mirror this machine's apt uses for `bookworm` (one-line or deb822 sources)."""
    files = [Path("/etc/apt/sources.list")] + sorted(Path("/etc/apt/sources.list.d").glob("*"))
    for f in files:
        if not f.is_file() or not (f.name.endswith(".list") or f.name.endswith(".sources")):
            continue
        text = f.read_text(errors="replace")
        if f.name.endswith(".sources"):
            for block in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", block, re.M))
                if SUITE in fields.get("Suites", "").split() and "deb" in fields.get("Types", "").split():
                    return fields.get("URIs", "").split()[0]
        else:
            for line in text.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[0] == "deb":
                    uri_i = next(i for i, p in enumerate(parts[1:], 1) if not p.startswith("["))
                    if len(parts) > uri_i + 1 and parts[uri_i + 1] == SUITE:
                        return parts[uri_i]
    return None


def python_in(root: Path) -> list[str]:
    found = []
    for d in ("usr/bin", "usr/local/bin", "bin", "usr/lib", "usr/local/lib"):
        p = root / d
        if p.is_dir():
            found += [f"/{d}/{n}" for n in os.listdir(p) if n.startswith("python") or n.startswith("libpython")]
    return found


def debian_root() -> tuple[Path | None, str]:
    """(path, "") or (None, why it cannot be made here)."""
    if (DEBIAN_ROOT / "etc" / "debian_version").exists():
        return DEBIAN_ROOT, ""
    if os.geteuid() != 0:
        return None, "debootstrap and chroot need root"
    debootstrap = shutil.which("debootstrap") or ("/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None)
    if not debootstrap:
        return None, "debootstrap is not installed (scripts/setup-test-env installs it)"
    mirror = debian_mirror()
    if not mirror:
        return None, f"no Debian mirror for {SUITE} in /etc/apt/sources.list*"
    tmp = CACHE / "debian-root.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([debootstrap, "--variant=minbase", SUITE, str(tmp), mirror], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        return None, f"debootstrap from {mirror} failed: {' | '.join(tail)}"
    os.replace(tmp, DEBIAN_ROOT)
    return DEBIAN_ROOT, ""


def chroot_run(root: Path, argv: list[str], env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run argv inside root with a clean environment (the host network namespace is shared)."""
    base = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": "/root", "TMPDIR": "/tmp", "NO_COLOR": "1"}
    base.update(env or {})
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    return subprocess.run(["env", "-i", *[f"{k}={v}" for k, v in base.items()], chroot, str(root), *argv], capture_output=True, text=True, timeout=timeout)

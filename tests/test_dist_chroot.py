"""The single-file executable runs the walk where there is no Python at all:
a minimal Debian bookworm root (debootstrap --variant=minbase) entered with
chroot, sharing the host network namespace, against the test PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil

import pytest

import smoke
from diagnostics import __version__
from diagnostics.causes import load_all
from dist_support import chroot_run, debian_root, dist_executable, python_in

pytestmark = [pytest.mark.timeout(900), pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")]

EXE_IN_ROOT = "/opt/fcp-doctor/fcp-doctor"


@pytest.fixture(scope="module")
def exe():
    return dist_executable()


@pytest.fixture(scope="module")
def droot(exe):
    root, why = debian_root()
    if root is None:
        pytest.skip(f"no Debian root for the chroot test: {why}")
    dest = root / EXE_IN_ROOT.lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(exe, dest)
    return root


def test_executable_is_one_lean_elf_file(exe):
    head = exe.read_bytes()[:20]
    assert head[:4] == b"\x7fELF" and head[4] == 2  # 64-bit ELF
    assert int.from_bytes(head[18:20], "little") == 0x3E  # x86_64
    assert os.access(exe, os.X_OK)
    assert exe.stat().st_size < 40_000_000, f"{exe.stat().st_size} bytes: something heavy crept in"


def test_executable_holds_what_is_loaded_by_name(exe):
    """Modules imported with importlib (probes, tree, causes), the wizard's
    Textual, psycopg's C wrapper with its own libpq; and not the heavy extras."""
    from pathlib import Path

    from PyInstaller.archive.readers import CArchiveReader

    arc = CArchiveReader(str(exe))
    mods = set(arc.open_embedded_archive("PYZ.pyz").toc)
    root = Path(__file__).resolve().parent.parent
    ours = {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__") for pkg in ("diagnostics", "tui") for p in (root / pkg).rglob("*.py")}
    assert ours - mods == set()
    assert {"textual.app", "textual.drivers.linux_driver", "textual.widgets._button", "httpx", "dns.asyncresolver", "tomlkit"} <= mods
    files = list(arc.toc)
    for needle in ("psycopg_binary/pq.", "psycopg_binary/_psycopg.", "psycopg_binary.libs/libpq-"):
        assert any(n.startswith(needle) for n in files), needle
    assert not {"pygments.lexers.python", "tkinter", "pytest", "setuptools"} & mods


def test_smoke_list_from_the_executable(exe, tmp_path):
    """The same first commands as the wheel's test (tests/smoke.py)."""
    smoke.check_all([str(exe)], tmp_path, __version__, set(load_all()))


def test_root_has_no_python(droot):
    assert (droot / "etc" / "debian_version").read_text().startswith("12")
    assert python_in(droot) == []
    r = chroot_run(droot, ["sh", "-c", "command -v python3 python || echo none"])
    assert r.stdout.strip() == "none"


def test_healthy_walk_inside_root(droot, pg):
    r = chroot_run(droot, [EXE_IN_ROOT, "diagnose", "--json", "--database-url", pg.url(), "--timeout", "3"])
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["verdict"] == "healthy"
    steps = {s["node"]: s["status"] for s in report["steps"]}
    assert steps["pg.connect"] == "pass"
    assert report["context"]["cwd"] == "/"  # it really ran inside the root


def test_wrong_password_inside_root(droot, pg):
    url = pg.url(password="not-the-Password-77")
    r = chroot_run(droot, [EXE_IN_ROOT, "diagnose", "--json", "--database-url", url, "--timeout", "3"])
    assert r.returncode == 1, r.stderr
    report = json.loads(r.stdout)
    assert report["verdict"] == "root_cause"
    assert report["root_cause"]["id"] == "pg.auth_failed"
    assert "not-the-Password-77" not in r.stdout + r.stderr


def test_line_mode_wizard_inside_root(droot, pg):
    """No terminal: the wizard falls back to the line mode, from the same executable."""
    r = chroot_run(droot, [EXE_IN_ROOT, "--database-url", pg.url(password="bad-pw-3"), "--timeout", "3", "--symptom", "app-cant-reach-postgres"])
    assert r.returncode == 1, r.stderr
    assert "FAIL" in r.stdout and "password" in r.stdout.lower()
    assert "Traceback" not in r.stderr

"""Installed the way users install it: a wheel built from the checkout,
installed (not editable) into a fresh virtualenv, run from an empty folder."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import smoke
from diagnostics import __version__
from diagnostics.causes import load_all

ROOT = Path(__file__).resolve().parent.parent
DATA_SUFFIXES = (".py", ".json", ".ts", ".tcss")

pytestmark = pytest.mark.timeout(900)


def program_files() -> list[str]:
    """Every module and data file the program has in the checkout."""
    out = []
    for pkg in ("diagnostics", "tui"):
        for p in (ROOT / pkg).rglob("*"):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix in DATA_SUFFIXES:
                out.append(p.relative_to(ROOT).as_posix())
    return sorted(out)


def missing_from(names: set[str]) -> list[str]:
    return [f for f in program_files() if f not in names]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # the venv's own setuptools (a test extra): no download of a build environment
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = out.glob("fcp_doctor-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    r = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return venv


def test_wheel_holds_every_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert missing_from(names) == []
    assert wheel.name.startswith(f"fcp_doctor-{__version__}-")


def test_a_file_left_out_is_noticed():
    files = set(program_files())
    assert "diagnostics/remote/cli.py" in files or "tui/remote.py" in files
    for left_out in ("diagnostics/demo/healthy.json", "tui/wizard.tcss", "diagnostics/convex_probe/templates/http.ts"):
        assert missing_from(files - {left_out}) == [left_out]


def test_installed_package_is_the_wheel_and_imports_whole(installed, tmp_path):
    code = (
        "import importlib, importlib.metadata, pkgutil, sys, diagnostics, tui\n"
        "print(diagnostics.__file__)\n"
        "print(importlib.metadata.version('fcp-doctor'))\n"
        "for pkg in (diagnostics, tui):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if not m.name.endswith('__main__'):\n"
        "            importlib.import_module(m.name)\n"
        "print('imported')\n"
    )
    r = smoke.run([str(installed / "bin" / "python"), "-c", code], tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    where, version, done = r.stdout.split()
    assert where.startswith(str(installed)) and str(ROOT) not in where
    assert version == __version__ and done == "imported"


def test_smoke_list_from_the_wheel(installed, tmp_path):
    smoke.check_all([str(installed / "bin" / "fcp-doctor")], tmp_path, __version__, set(load_all()))

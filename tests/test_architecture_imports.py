"""What each folder may import (ARCHITECTURE.md): the core never imports the
face, and the leaves of the core (catalog, probes, report model) import none of
the parts that use them."""

import ast
import subprocess
import sys

import pytest
from conftest import ROOT

CORE = ROOT / "diagnostics"


def test_importing_every_module_of_the_core_loads_no_face():
    """Every module under diagnostics/ imported, in a fresh interpreter: not one
    module of tui/ or textual comes with it."""
    code = (
        "import importlib, pkgutil, sys\n"
        "import diagnostics\n"
        "names = []\n"
        "for m in pkgutil.walk_packages(diagnostics.__path__, 'diagnostics.', onerror=lambda name: sys.exit('cannot import ' + name)):\n"
        "    importlib.import_module(m.name)\n"
        "    names.append(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tui', 'textual'))\n"
        "print(len(names), bad)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert r.returncode == 0, r.stderr
    count, bad = r.stdout.strip().split(" ", 1)
    assert int(count) >= 40, r.stdout  # the walk really went through the subpackages
    assert bad == "[]", r.stdout


def imports_of(path):
    """The diagnostics modules one file imports, as dotted names (relative imports resolved)."""
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    package = parts if parts[-1] == "__init__" else parts[:-1]
    if package[-1:] == ["__init__"]:
        package = package[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)  # `from . import causes`
    return out


# folder -> the parts of the core it must not import (ARCHITECTURE.md, "What each folder may import")
FORBIDDEN = {
    "diagnostics": {"tui", "textual"},
    "diagnostics/causes": {"diagnostics.probes", "diagnostics.tree", "diagnostics.engine", "diagnostics.context", "diagnostics.render", "diagnostics.report", "diagnostics.recording", "diagnostics.remote"},
    "diagnostics/probes": {"diagnostics.tree", "diagnostics.causes", "diagnostics.engine", "diagnostics.render", "diagnostics.report", "diagnostics.recording", "diagnostics.remote"},
    "diagnostics/tree": {"diagnostics.engine", "diagnostics.render", "diagnostics.recording", "diagnostics.remote"},
    "diagnostics/engine.py": {"diagnostics.render", "diagnostics.recording", "diagnostics.remote"},
    "diagnostics/context.py": {"diagnostics.engine", "diagnostics.render", "diagnostics.recording", "diagnostics.remote"},
    "diagnostics/remote": {"diagnostics.engine", "diagnostics.probes", "diagnostics.render", "diagnostics.recording"},
    "diagnostics/report.py": {"diagnostics.engine", "diagnostics.probes", "diagnostics.tree", "diagnostics.render"},
    "diagnostics/render.py": {"diagnostics.engine", "diagnostics.probes", "diagnostics.tree", "diagnostics.recording"},
    "diagnostics/model.py": {"diagnostics."},
    "diagnostics/secret.py": {"diagnostics."},
    "diagnostics/flyctl.py": {"diagnostics."},
}  # fmt: skip


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_each_folder_imports_only_what_it_may(where):
    target = ROOT / where
    files = [target] if target.suffix == ".py" else sorted(target.rglob("*.py"))
    assert files, where
    bad = []
    for f in files:
        for mod in imports_of(f):
            if any(mod == x or mod.startswith(x if x.endswith(".") else x + ".") for x in FORBIDDEN[where]):
                bad.append(f"{f.relative_to(ROOT)} imports {mod}")
    assert bad == []

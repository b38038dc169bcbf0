"""The catalog of root causes (diagnostics/causes/): every entry's words format
with no names and with all of them, the layers, the listing's order, and the
README's table made from it."""

import re
import subprocess
import sys

import pytest
from conftest import ROOT

from diagnostics import causes
from diagnostics.causes import LAYERS, Names

CATALOG = causes.load_all()
PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)>")
FIELD_LEFT = re.compile(r"\{[a-z_][a-z0-9_]*\}")  # a format field that was not filled ("${VAR}" in a shell command is not one)


def words(d) -> str:
    return "\n".join([d.title, d.explanation, d.fix.summary] + [s.text + "\n" + (s.command or "") for s in d.fix.steps])


# placeholders the catalog writes out itself, for the reader to fill in (`fly volumes extend <VOLUME_ID>`)
LITERAL = {k for f in (ROOT / "diagnostics" / "causes").glob("*.py") for k in PLACEHOLDER.findall(f.read_text())}


def placeholders_of_every_entry() -> set[str]:
    """Every name the catalog asks for: what shows as <NAME> when no name is known."""
    return {k for c in CATALOG.values() for k in PLACEHOLDER.findall(words(c.diagnose(Names(), {})))} - LITERAL


def full_names() -> Names:
    """A value for every name the catalog asks for, numbers where a number is meant."""
    n = Names({k.lower(): f"v-{k.lower()}" for k in placeholders_of_every_entry()})
    n.update(port=5432, url_port=5432, open_port=5433, latency_ms=48.5, in_use=95, usable=97, max_connections=100, reserved=3, timeout_s=5)
    n.update(host="acme-db.internal", pg_host="acme-db.flycast", app="acme-web", pg_app="acme-db", url="postgres://app:********@acme-db.flycast:5432/acme")
    return n


@pytest.mark.parametrize("cause_id", sorted(CATALOG))
def test_every_entry_formats_with_no_names(cause_id):
    d = CATALOG[cause_id].diagnose(Names(), {})
    text = words(d)
    assert d.title and d.explanation and d.fix.summary and d.fix.steps
    assert not FIELD_LEFT.search(text), FIELD_LEFT.findall(text)


@pytest.mark.parametrize("cause_id", sorted(CATALOG))
def test_every_entry_formats_with_every_name(cause_id):
    names = full_names()
    d = CATALOG[cause_id].diagnose(names, {})
    text = words(d)
    assert not FIELD_LEFT.search(text), FIELD_LEFT.findall(text)
    left = [k for k in PLACEHOLDER.findall(text) if k not in LITERAL]
    assert left == [], f"names given but still shown as placeholders: {left}"
    bare = words(CATALOG[cause_id].diagnose(Names(), {}))
    assert text != bare or not PLACEHOLDER.findall(bare), "the names never reach the words"


def test_every_entry_is_in_a_known_layer_and_every_layer_has_entries():
    for c in CATALOG.values():
        assert c.layer == c.id.split(".", 1)[0] and c.layer in LAYERS, c.id
        assert c.severity in ("error", "warning"), c.id
    assert {c.layer for c in CATALOG.values()} == set(LAYERS)


def test_a_cause_cannot_be_defined_twice_or_in_an_unknown_layer():
    some = next(iter(CATALOG.values()))
    with pytest.raises(ValueError, match="twice"):
        causes.cause(some.id, "t", "e", lambda n, e: causes.steps("s", "x"))
    with pytest.raises(ValueError, match="unknown layer"):
        causes.cause("nosuchlayer.x", "t", "e", lambda n, e: causes.steps("s", "x"))
    assert "nosuchlayer.x" not in CATALOG


def test_listing_order_layers_then_errors_before_warnings_then_id():
    rows = causes.listing()
    assert [r["id"] for r in rows] and sorted(r["id"] for r in rows) == sorted(CATALOG)
    order = [(LAYERS.index(r["layer"]), r["severity"] == "warning", r["id"]) for r in rows]
    assert order == sorted(order)
    assert all("{" not in r["title"] for r in rows)


def test_the_readme_table_is_the_catalog():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "cause-table"), "--check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_readme_check_names_a_missing_row(tmp_path):
    """The check itself: a README without one row fails, naming it."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("cause_table", str(ROOT / "scripts" / "cause-table"))
    spec = importlib.util.spec_from_loader("cause_table", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    readme = tmp_path / "README.md"
    rows = mod.rows()
    readme.write_text("\n".join(["# x", "", *mod.HEAD, *rows[1:], "", "after"]))
    mod.README = readme
    assert mod.main(["--check"]) == 1
    mod.main([])
    assert readme.read_text().split("\n")[2:] == [*mod.HEAD, *rows, "", "after"]
    assert mod.main(["--check"]) == 0

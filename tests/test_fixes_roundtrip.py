"""fly.toml patches over a corpus of real-world-shaped files: the change is
made, and every byte outside it is identical."""

from __future__ import annotations

import copy
import difflib
import tomllib
from pathlib import Path

import pytest

from diagnostics import fixes

CORPUS = sorted((Path(__file__).parent / "data" / "fly_toml").glob("*.toml"))
SERVICE_LINES = {"", "[[services]]", 'protocol = "tcp"', "internal_port = 5432", "[[services.ports]]", "port = 5432", 'handlers = ["pg_tls"]'}

EDITS = {
    "set_env_new": fixes.set_env("CONVEX_CLOUD_ORIGIN", "https://acme-convex.fly.dev"),
    "set_env_site": fixes.set_env("CONVEX_SITE_ORIGIN", "https://acme-convex.fly.dev/http"),
    "set_env_existing": fixes.set_env("PORT", "9090"),
    "metrics": fixes.set_env("DISABLE_METRICS_ENDPOINT", "true"),
    "remove_scale_to_zero": fixes.remove_env("FLY_SCALE_TO_ZERO"),
    "pg_tls": fixes.ensure_service(),
    "internal_port": fixes.internal_port(3210),
}


def read(path: Path) -> str:
    return path.read_bytes().decode()


def line_changes(old: str, new: str) -> tuple[list[str], list[str]]:
    a, b = old.splitlines(keepends=True), new.splitlines(keepends=True)
    deleted, inserted = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag != "equal":
            deleted += a[i1:i2]
            inserted += b[j1:j2]
    # a last line that only gained its missing newline is not a change
    if old and not old.endswith("\n") and deleted and deleted[-1] == a[-1]:
        fixed = a[-1] + ("\r\n" if "\r\n" in old else "\n")
        if fixed in inserted:
            deleted.remove(a[-1])
            inserted.remove(fixed)
    return [d.rstrip("\r\n") for d in deleted], [i.rstrip("\r\n") for i in inserted]


def expected_doc(doc: dict, name: str) -> dict:
    d = copy.deepcopy(doc)
    e = EDITS[name].a
    if name.startswith("set_env") or name == "metrics":
        d.setdefault("env", {})[e["key"]] = e["value"]
    elif name == "remove_scale_to_zero":
        d.get("env", {}).pop("FLY_SCALE_TO_ZERO", None)
    elif name == "internal_port":
        if "http_service" in d:
            d["http_service"]["internal_port"] = 3210
        elif len(d.get("services", [])) == 1:
            d["services"][0]["internal_port"] = 3210
    elif name == "pg_tls":
        for s in d.get("services", []):
            if s.get("internal_port") == 5432:
                for p in s.get("ports", []):
                    if p.get("port") == 5432:
                        p["handlers"] = list(p.get("handlers", [])) + ["pg_tls"]
                        break
                else:
                    s.setdefault("ports", []).append({"port": 5432, "handlers": ["pg_tls"]})
                break
        else:
            d.setdefault("services", []).append({"protocol": "tcp", "internal_port": 5432, "ports": [{"port": 5432, "handlers": ["pg_tls"]}]})
    return d


def test_corpus_is_there():
    assert len(CORPUS) >= 8


@pytest.mark.parametrize("name", sorted(EDITS))
@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_change_made_and_nothing_else(path: Path, name: str):
    old = read(path)
    new, changes = fixes.edit_text(old, [EDITS[name]])
    # the meaning: exactly the intended change
    assert tomllib.loads(new) == expected_doc(tomllib.loads(old), name)
    if new == old:
        assert changes == []
        return
    assert changes
    deleted, inserted = line_changes(old, new)
    key = EDITS[name].a.get("key", "")
    if name == "pg_tls":
        # [[services]] blocks, a handlers line, or (inline files) one inline entry line
        assert all(d.strip().startswith("handlers") or "{" in d for d in deleted), deleted
        assert all(i.strip() in SERVICE_LINES or i.strip().startswith("handlers") or ("{" in i and "pg_tls" in i) for i in inserted), inserted
    elif name == "internal_port":
        assert deleted and all("internal_port" in line for line in deleted + inserted)
        assert len(deleted) == len(inserted)
    elif name == "remove_scale_to_zero":
        assert all(key in d for d in deleted)
        assert all(i.startswith("env = {") for i in inserted)  # only an inline table's own line is rewritten
    else:
        for line in deleted:
            assert key in line or line.startswith("env = {"), line
        for line in inserted:
            assert key in line or line.strip() in ("", "[env]"), line
    # line endings: a CRLF file stays CRLF
    if "\r\n" in old:
        assert "\n" not in new.replace("\r\n", "")
    # idempotent: applying again changes nothing
    again, more = fixes.edit_text(new, [EDITS[name]])
    assert again == new and more == []


def test_existing_value_keeps_comment_indent_and_quote_style(tmp_path):
    src = "app = 'a'\n[env]\n  PORT = '8080'   # the port\n  # trailing note\n"
    new, _ = fixes.edit_text(src, [fixes.set_env("PORT", "9090")])
    assert new == "app = 'a'\n[env]\n  PORT = '9090'   # the port\n  # trailing note\n"
    new, _ = fixes.edit_text(src, [fixes.set_env("CONVEX_SITE_ORIGIN", "https://x.fly.dev/http")])
    assert new == "app = 'a'\n[env]\n  PORT = '8080'   # the port\n  CONVEX_SITE_ORIGIN = 'https://x.fly.dev/http'\n  # trailing note\n"


def test_pg_tls_added_to_existing_service_without_ports():
    src = 'app = "db"\n\n[[services]]\n  internal_port = 5432\n  protocol = "tcp"\n'
    new, changes = fixes.edit_text(src, [fixes.ensure_service()])
    assert new.startswith(src)
    assert tomllib.loads(new)["services"] == [{"internal_port": 5432, "protocol": "tcp", "ports": [{"port": 5432, "handlers": ["pg_tls"]}]}]


def test_inline_services_get_inline_entries():
    src = 'app="a"\nservices = [{ internal_port = 5432, protocol = "tcp" }]\n'
    new, _ = fixes.edit_text(src, [fixes.ensure_service()])
    assert new.count("\n") == 2 and "[[" not in new
    assert tomllib.loads(new)["services"][0]["ports"] == [{"port": 5432, "handlers": ["pg_tls"]}]


def test_internal_port_with_old_touches_only_that_service():
    path = next(p for p in CORPUS if p.stem == "services_tables")
    new, _ = fixes.edit_text(read(path), [fixes.internal_port(9000, old=8080)])
    ports = [s["internal_port"] for s in tomllib.loads(new)["services"]]
    assert ports == [9000, 5432]


def test_secret_values_never_go_to_fly_toml():
    for name in ("DATABASE_URL_PASSWORD", "CONVEX_SELF_HOSTED_ADMIN_KEY", "INSTANCE_SECRET", "API_TOKEN"):
        with pytest.raises(fixes.FixError, match="fly secrets set"):
            fixes.set_env(name, "x")


@pytest.mark.parametrize(
    "text",
    [
        "app = [",  # not TOML
        'app = "a"\nenv = "not a table"\n',
        'app = "a"\nservices = "x"\n',
        'app = "a"\n[[services]]\ninternal_port = 5432\nports = "x"\n',
    ],
)
def test_broken_files_give_a_fix_error(text):
    for e in EDITS.values():
        try:
            new, _ = fixes.edit_text(text, [e])
        except fixes.FixError as exc:
            assert "\n" not in str(exc) and str(exc)
        else:
            tomllib.loads(new)  # whatever was changed is still TOML


def test_ready_made_patches():
    web = read(next(p for p in CORPUS if p.stem == "convex_backend"))
    new, changes = fixes.edit_text(web, fixes.convex_origins("https://acme-convex.fly.dev/") + fixes.disable_metrics())
    env = tomllib.loads(new)["env"]
    assert env["CONVEX_CLOUD_ORIGIN"] == "https://acme-convex.fly.dev"
    assert env["CONVEX_SITE_ORIGIN"] == "https://acme-convex.fly.dev/http"
    assert env["DISABLE_METRICS_ENDPOINT"] == "true" and len(changes) == 3
    pg = read(next(p for p in CORPUS if p.stem == "postgres_flex"))
    new, _ = fixes.edit_text(pg, fixes.no_scale_to_zero() + fixes.external_pg_tls())
    doc = tomllib.loads(new)
    assert "FLY_SCALE_TO_ZERO" not in doc["env"]
    assert doc["services"] == [{"protocol": "tcp", "internal_port": 5432, "ports": [{"port": 5432, "handlers": ["pg_tls"]}]}]
    new, _ = fixes.edit_text(web, fixes.match_internal_port(8080, 3210))
    assert tomllib.loads(new)["http_service"]["internal_port"] == 8080

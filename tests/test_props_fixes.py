"""Property: any set of edits on any corpus file, with any value, gives a file
that reads back with exactly the intended meaning, or a one-line FixError."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnostics import fixes

CORPUS = {p.stem: p.read_bytes().decode() for p in sorted((Path(__file__).parent / "data" / "fly_toml").glob("*.toml"))}

env_key = st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True).filter(lambda k: not fixes.looks_secret(k))
edit = st.one_of(
    st.builds(fixes.set_env, env_key, st.text(max_size=30)),
    st.builds(fixes.remove_env, st.one_of(env_key, st.just("FLY_SCALE_TO_ZERO"))),
    st.builds(fixes.ensure_service, st.integers(1, 65535), st.integers(1, 65535)),
    st.builds(fixes.internal_port, st.integers(1, 65535)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CORPUS)), st.lists(edit, max_size=4))
def test_edits_read_back_as_intended(name, edits):
    old = CORPUS[name]
    try:
        new, changes = fixes.edit_text(old, edits)
    except fixes.FixError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    before, after = tomllib.loads(old), tomllib.loads(new)
    # the last edit of each env key decides it
    env_expect = dict(before.get("env", {}))
    for e in edits:
        if e.op == "set_env":
            env_expect[e.a["key"]] = e.a["value"]
        elif e.op == "remove_env":
            env_expect.pop(e.a["key"], None)
    assert after.get("env", {}) == env_expect
    untouched = {k for k in before if k not in ("env", "services", "http_service")}
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
    for e in edits:
        if e.op == "ensure_service":
            a = e.a
            assert any(
                s.get("internal_port") == a["internal_port"] and any(p.get("port") == a["port"] and "pg_tls" in p.get("handlers", []) for p in s.get("ports", []))
                for s in after.get("services", [])
            ) or any(x.op == "internal_port" for x in edits)  # a later internal_port edit may move it
    if not edits:
        assert new == old and changes == []
    assert (new != old) == bool(changes)

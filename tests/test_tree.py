"""The tree as data: validate() finds what is wrong with it, the decisions it
declares (branches on facts, precedence, warning rules, the ship/fleet
comparison) are the ones the walk takes, and `fcp-doctor tree` prints them all."""

import dataclasses
import re
from pathlib import Path

import pytest

from conftest import run_cli
from diagnostics import causes, tree
from diagnostics.model import FAIL, PASS, WARN, Outcome
from diagnostics.tree import compare as cmp_rules

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def broken(monkeypatch):
    """A scratch copy of the tree's registries, so a test can break them."""
    tree.load()
    monkeypatch.setattr(tree, "NODES", dict(tree.NODES))
    monkeypatch.setattr(tree, "WARNINGS", list(tree.WARNINGS))
    monkeypatch.setattr(cmp_rules, "RULES", tuple(cmp_rules.RULES))
    return tree


def test_the_tree_as_shipped_is_valid():
    assert tree.validate() == []


def test_validate_finds_dangling_targets_and_unknown_causes(broken):
    n = broken.NODES["pg.dns"]
    broken.NODES["pg.dns"] = dataclasses.replace(n, branches={**n.branches, "resolved": "pg.nowhere", "not_found": "cause:net.no_such_cause"})
    problems = broken.validate()
    assert "node pg.dns: unknown node pg.nowhere" in problems
    assert "node pg.dns: unknown cause net.no_such_cause" in problems


def test_validate_finds_bad_conditions_and_precedence(broken):
    n = broken.NODES["pg.tcp"]
    broken.NODES["pg.tcp"] = dataclasses.replace(
        n, when=n.when + (tree.When("refused_twice", "host_kind", ("fly_private",), "cause:net.nope"),), precedence=("ok", "not_an_outcome")
    )
    problems = broken.validate()
    assert "node pg.tcp: condition on refused_twice, which has no plain branch" in problems
    assert "node pg.tcp: unknown cause net.nope" in problems
    assert "node pg.tcp: precedence names not_an_outcome, which has no branch" in problems


def test_validate_finds_bad_warning_rules(broken):
    broken.warning("pg.no_such_warning", ("pg.session",), ("ok",))
    broken.warning("pg.high_latency", ("pg.session",), ("ok",), reads="latency_ms", above=50.0, unit="ms")  # a second threshold
    broken.warning("pg.superuser_app_role", ("pg.nowhere",), ("ok",))
    broken.warning("convex.metrics_public", ("convex.metrics",), ("never_returned",))
    broken.warning("pg.connections_near_limit", ("pg.session",), ("ok",), reads="in_use", above=0.8, unit="%")
    problems = broken.validate()
    for expected in (
        "warning pg.no_such_warning: unknown cause",
        "warning pg.high_latency: more than one rule (one rule, one threshold)",
        "warning pg.superuser_app_role: unknown node pg.nowhere",
        "warning convex.metrics_public: convex.metrics has no outcome never_returned",
        "warning pg.connections_near_limit: a percentage of something that is not a ratio",
    ):
        assert expected in problems, problems


def test_validate_finds_bad_comparison_rules(broken):
    cmp_rules.RULES = (
        cmp_rules.CompareRule("odd", ("no_such_condition",), "net.nope", "elsewhere", ""),
    )
    problems = broken.validate()
    assert "compare rule odd: unknown condition no_such_condition" in problems
    assert "compare rule odd: unknown cause net.nope" in problems
    assert "compare rule odd: unknown side elsewhere" in problems
    assert "compare rules: the last rule must hold always" in problems


def test_tree_prints_every_warning_rule_with_its_threshold():
    r = run_cli("tree")
    assert r.returncode == 0, r.stderr
    tree.load()
    assert tree.WARNINGS
    for w in tree.WARNINGS:
        assert str(w) in r.stdout
        if w.threshold:
            assert f"{w}  [threshold {w.threshold}]" in r.stdout
    assert "pg.high_latency: after ok of pg.session, convex.pg_from_convex, when latency_ms > 20 ms  [threshold 20 ms]" in r.stdout
    assert "pg.connections_near_limit: after ok of pg.session, when in_use/usable > 80%  [threshold 80%]" in r.stdout
    assert "refused                -> fly.port_check when host_kind is fly_private or fly_public" in r.stdout
    assert "flycast_no_ip > machines_stopped > secret_not_deployed" in r.stdout
    for rule in cmp_rules.RULES:
        assert str(rule) in r.stdout


def test_a_threshold_is_written_once():
    """One rule per warning id; the cause text takes the threshold from the rule;
    no probe names a warning or its threshold."""
    tree.load()
    cat = causes.load_all()
    ids = [w.id for w in tree.WARNINGS]
    assert len(ids) == len(set(ids))
    probe_src = "\n".join(p.read_text() for p in (ROOT / "diagnostics" / "probes").glob("*.py"))
    for w in tree.WARNINGS:
        assert f'"{w.id}"' not in probe_src, f"a probe names the warning {w.id}"
        if w.above is None:
            continue
        text = cat[w.id].explanation
        assert "{threshold}" in text, w.id
        number = f"{w.above * 100:g}" if w.unit == "%" else f"{w.above:g}"
        assert not re.search(rf"\b{re.escape(number)}\s*(%|{w.unit})", text), f"{w.id}: the cause text writes the threshold again"
    assert "HIGH_LATENCY" not in probe_src and "NEAR_LIMIT" not in probe_src


def test_the_cause_text_shows_the_rules_threshold():
    tree.load()
    rule = next(w for w in tree.WARNINGS if w.id == "pg.high_latency")
    d = causes.get("pg.high_latency").diagnose(causes.Names(host="db", threshold=rule.threshold), {"latency_ms": 31.5})
    assert "above 20 ms" in d.explanation and "31.5 ms" in d.explanation


def test_a_warning_rule_reads_evidence_after_its_outcomes():
    tree.load()
    session = tree.NODES["pg.session"]
    ev = {"latency_ms": 25.0, "in_use": 9, "usable": 10, "superuser": False}
    d = tree.decide(session, Outcome("ok", PASS, "", ev), {})
    assert {w.id for w in d.warnings} == {"pg.high_latency", "pg.connections_near_limit"} and d.status == WARN
    d = tree.decide(session, Outcome("ok", PASS, "", {"latency_ms": 20.0, "in_use": 8, "usable": 10, "superuser": True}), {})
    assert [w.id for w in d.warnings] == ["pg.superuser_app_role"]  # at the threshold is not above it
    d = tree.decide(session, Outcome("replica", FAIL, "", ev), {})
    assert d.warnings == () and d.target == "cause:pg.read_only_replica"


def test_a_branch_on_a_fact():
    """pg.tcp observes `refused`; the host kind decides where the walk goes."""
    tree.load()
    tcp = tree.NODES["pg.tcp"]
    assert tcp.target("refused", {"host_kind": "fly_private"}) == "fly.port_check"
    assert tcp.target("refused", {"host_kind": "fly_public"}) == "fly.port_check"
    assert tcp.target("refused", {"host_kind": "public"}) == "cause:net.connection_refused"
    assert tcp.target("refused") == "cause:net.connection_refused"


def test_the_first_problem_in_the_declared_precedence_wins():
    tree.load()
    platform = tree.NODES["flyctl.platform"]
    seen = Outcome("ok", PASS, "2/2 machines started", {}, {}, {"secret_not_deployed": "staged", "machines_stopped": "none started"})
    d = tree.decide(platform, seen, {})
    assert (d.outcome, d.status, d.summary, d.target) == ("machines_stopped", FAIL, "none started", "cause:fly.machines_stopped")
    d = tree.decide(platform, Outcome("ok", PASS, "fine"), {})
    assert (d.outcome, d.status, d.target) == ("ok", PASS, "flyctl.proxy")


def _report(cause, verdict, steps, url):
    return {"verdict": verdict, "root_cause": {"id": cause} if cause else None, "steps": steps, "inputs": {"database_url": {"value": url}}}


def test_the_comparison_takes_the_first_rule_that_holds():
    from diagnostics.remote.compare import compare

    url = "postgres://app:x@shop-pg.internal:5432/app"
    here = _report(None, "healthy", [{"node": "pg.connect", "status": "pass"}], url)
    machine = _report("net.connection_refused", "root_cause", [{"node": "pg.dns", "status": "pass"}, {"node": "pg.tcp", "status": "fail", "outcome": "refused"}], url)
    c = compare(here, machine, "shop", "m1", "iad")
    assert (c["rule"], c["cause"], c["where"], c["agree"]) == ("machine_refused", "net.connection_refused", "machine", False)
    assert "is refused (refused)" in c["explanation"]
    c = compare(machine, machine, "shop", "m1", "iad")
    assert (c["rule"], c["cause"], c["where"], c["agree"]) == ("same", "net.connection_refused", "both", True)
    nowhere = _report(None, "inconclusive", [], url)
    c = compare(nowhere, nowhere | {"verdict": "root_cause", "root_cause": {"id": "pg.auth_failed"}}, "shop", "m1", "iad")
    assert (c["rule"], c["cause"], c["where"]) == ("machine_view", "pg.auth_failed", "machine")

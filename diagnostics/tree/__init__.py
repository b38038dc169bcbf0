"""The decision tree, as data.

A node asks one question by running one probe, and maps each named outcome to
the next node, to a root cause (`cause:<id>`) or to `done` (this track of the
walk is healthy). A symptom is an ordered list of tracks; tracks are
independent and run concurrently, and the first track (in symptom order) that
ends at a cause names the verdict. Per-layer node lists live beside this file;
`fcp-doctor tree` prints the whole logic in one place.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Mapping

DONE = "done"
_MODULES = ("context", "pg", "fly", "convex", "convex_self", "logs")


def _version(text) -> tuple[int, ...]:
    """'1.21.0', '1.18.0/bouncer', 'PgBouncer 1.22.1' -> (1, 21, 0); () when there is none."""
    import re

    m = re.search(r"\d+(?:\.\d+)*", str(text or ""))
    return tuple(int(x) for x in m.group(0).split(".")) if m else ()


_TESTS = {
    ">": lambda v, ref: isinstance(v, (int, float)) and not isinstance(v, bool) and v > ref,
    ">=": lambda v, ref: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= ref,
    "version>=": lambda v, ref: bool(_version(v)) and _version(v) >= _version(ref),
}


@dataclass(frozen=True)
class Rule:
    """A declared reading of what a probe observed: after `outcome`, when every
    test (fact, op, value) holds on the facts that probe reported, the outcome
    becomes `becomes` (with `status`), and the node's branch for it applies.
    A fact the probe could not observe fails its test."""

    outcome: str
    when: tuple[tuple[str, str, object], ...]
    becomes: str
    why: str
    status: str = "pass"

    def holds(self, facts: Mapping) -> bool:
        return all(op in _TESTS and _TESTS[op](facts.get(fact), ref) for fact, op, ref in self.when)

    def __str__(self) -> str:
        tests = " and ".join(f"{f} {op.replace('version', '')} {ref}" for f, op, ref in self.when)
        return f"{self.outcome} becomes {self.becomes} when {tests} ({self.why})"


@dataclass(frozen=True)
class Node:
    id: str
    title: str  # may use {names}: "Can {host}:{port} be reached over TCP?"
    why: str  # one sentence: why this is asked
    probe: str  # a key of diagnostics.probes.PROBES
    branches: Mapping[str, str]  # outcome -> node id | "cause:<id>" | "done"
    default: str | None = None  # target for an outcome not listed; None: inconclusive
    asks: tuple[str, ...] = ()  # inputs the wizard may ask for when missing
    budget: float = 1.0  # probe time limit, in units of --timeout (plus a small margin)
    rules: tuple[Rule, ...] = ()  # declared readings of the probe's facts, checked before `branches`

    def reading(self, outcome: str, facts: Mapping | None = None) -> Rule | None:
        """The rule that re-reads this outcome, given the facts its probe reported."""
        return next((r for r in self.rules if r.outcome == outcome and r.holds(facts or {})), None)

    def target(self, outcome: str, facts: Mapping | None = None) -> str | None:
        r = self.reading(outcome, facts)
        return self.branches.get(r.becomes if r else outcome, self.default)


@dataclass(frozen=True)
class Track:
    id: str
    title: str
    entry: str


@dataclass(frozen=True)
class Symptom:
    id: str
    title: str  # as the user would say it
    tracks: tuple[str, ...]
    warnings_are_causes: bool = False


NODES: dict[str, Node] = {}
TRACKS: dict[str, Track] = {}


def node(id: str, title: str, why: str, probe: str, branches: Mapping[str, str], **kw) -> Node:
    if id in NODES:
        raise ValueError(f"node {id} defined twice")
    n = Node(id, title, why, probe, dict(branches), **kw)
    NODES[id] = n
    return n


def track(id: str, title: str, entry: str) -> Track:
    t = Track(id, title, entry)
    TRACKS[id] = t
    return t


SYMPTOMS: dict[str, Symptom] = {
    s.id: s
    for s in (
        Symptom(
            "convex-cant-reach-postgres",
            "My Convex functions can't reach Postgres",
            ("context", "convex", "convex_self", "postgres", "logs"),
        ),
        Symptom("app-cant-reach-postgres", "My Fly app can't reach Postgres", ("context", "postgres", "logs")),
        Symptom("laptop-cant-reach-postgres", "I can't reach Postgres from my laptop", ("context", "postgres")),
        Symptom("slow-queries", "Queries are slow", ("context", "postgres"), warnings_are_causes=True),
        Symptom(
            "self-hosted-backend-down",
            "My self-hosted Convex backend is down",
            ("context", "convex_self", "convex", "postgres", "logs"),
        ),
        Symptom("everything", "Check everything", ("context", "postgres", "convex", "convex_self", "logs")),
    )
}

_loaded = False


def load() -> dict[str, Node]:
    global _loaded
    if not _loaded:
        for mod in _MODULES:
            importlib.import_module(f"{__name__}.{mod}")
        _loaded = True
    return NODES


def target_kind(target: str) -> tuple[str, str]:
    """('cause', id) | ('done', '') | ('node', id)."""
    if target == DONE:
        return "done", ""
    if target.startswith("cause:"):
        return "cause", target[6:]
    return "node", target


def reachable(entry: str) -> list[str]:
    """Every node reachable from `entry`, in breadth-first order."""
    load()
    seen: list[str] = []
    queue = [entry]
    while queue:
        nid = queue.pop(0)
        if nid in seen or nid not in NODES:
            continue
        seen.append(nid)
        n = NODES[nid]
        for t in list(n.branches.values()) + ([n.default] if n.default else []):
            kind, val = target_kind(t)
            if kind == "node":
                queue.append(val)
    return seen


def validate() -> list[str]:
    """Problems in the tree: dangling targets, unknown causes or probes, unknown track entries."""
    from .. import causes, probes

    load()
    cat = causes.load_all()
    known_probes = probes.load_all()
    problems = []
    for t in TRACKS.values():
        if t.entry not in NODES:
            problems.append(f"track {t.id}: entry {t.entry} is not a node")
    for s in SYMPTOMS.values():
        for tid in s.tracks:
            if tid not in TRACKS:
                problems.append(f"symptom {s.id}: unknown track {tid}")
    for n in NODES.values():
        if n.probe not in known_probes:
            problems.append(f"node {n.id}: unknown probe {n.probe}")
        for t in list(n.branches.values()) + ([n.default] if n.default else []):
            kind, val = target_kind(t)
            if kind == "cause" and val not in cat:
                problems.append(f"node {n.id}: unknown cause {val}")
            if kind == "node" and val not in NODES:
                problems.append(f"node {n.id}: unknown node {val}")
        for r in n.rules:
            if r.outcome not in n.branches or r.becomes not in n.branches:
                problems.append(f"node {n.id}: rule {r.outcome} -> {r.becomes} on an outcome with no branch")
            for _, op, _ in r.when:
                if op not in _TESTS:
                    problems.append(f"node {n.id}: rule {r.outcome}: unknown test {op}")
    return problems


def describe() -> str:
    """The whole tree as text, for `fcp-doctor tree`."""
    load()
    lines = []
    for s in SYMPTOMS.values():
        lines.append(f"symptom {s.id}: \"{s.title}\" -> tracks {', '.join(s.tracks)}")
    lines.append("")
    for t in TRACKS.values():
        lines.append(f"track {t.id} ({t.title})")
        for nid in reachable(t.entry):
            n = NODES[nid]
            lines.append(f"  {n.id} [{n.probe}] {n.title}")
            for r in n.rules:
                lines.append(f"      {'rule':<22} :: {r}")
            for outcome, target in n.branches.items():
                lines.append(f"      {outcome:<22} -> {target}")
            if n.default:
                lines.append(f"      {'(anything else)':<22} -> {n.default}")
        lines.append("")
    return "\n".join(lines)

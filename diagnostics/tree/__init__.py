"""The decision tree, as data.

A node asks one question by running one probe, and maps each named outcome to
the next node, to a root cause (`cause:<id>`) or to `done` (this track of the
walk is healthy). A symptom is an ordered list of tracks; tracks are
independent and run concurrently, and the first track (in symptom order) that
ends at a cause names the verdict. Per-layer node lists live beside this file;
`fcp-doctor tree` prints the whole logic in one place.

Probes only observe. Everything that decides is declared here: a branch may
depend on a fact (`When`), a node may rank the problems its probe saw
(`precedence`), and warning rules (`warning(...)`) turn evidence into findings,
with their thresholds written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from ..registry import lazy_loader

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
class When:
    """A branch that depends on a fact: after `outcome`, go to `target` when the
    fact `fact` (as probes reported it so far) is one of `values`; otherwise the
    node's plain branch for that outcome applies."""

    outcome: str
    fact: str
    values: tuple
    target: str

    def holds(self, facts: Mapping) -> bool:
        return facts.get(self.fact) in self.values

    def __str__(self) -> str:
        return f"{self.target} when {self.fact} is {' or '.join(map(str, self.values))}"


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
    when: tuple[When, ...] = ()  # branches that depend on a fact, checked before `branches`
    # problems a probe may report together (Outcome.problems): the first listed here is the outcome
    precedence: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()  # declared readings of the probe's facts, applied before branching

    def reading(self, outcome: str, facts: Mapping | None = None) -> Rule | None:
        """The rule that re-reads this outcome, given the facts its probe reported."""
        return next((r for r in self.rules if r.outcome == outcome and r.holds(facts or {})), None)

    def branch(self, outcome: str, facts: Mapping | None = None) -> str | None:
        """Where an outcome (already read) leads: a fact condition, else the plain branch."""
        for w in self.when:
            if w.outcome == outcome and w.holds(facts or {}):
                return w.target
        return self.branches.get(outcome, self.default)

    def target(self, outcome: str, facts: Mapping | None = None) -> str | None:
        r = self.reading(outcome, facts)
        return self.branch(r.becomes if r else outcome, facts)

    def targets(self) -> list[str]:
        """Every target this node may lead to."""
        return list(self.branches.values()) + [w.target for w in self.when] + ([self.default] if self.default else [])


@dataclass(frozen=True)
class WarningRule:
    """A warning rule: after `outcomes` of one of `nodes`, the evidence value
    `reads` (a key, or "a/b" for the ratio of two) above `above` (or, without a
    threshold, true; without `reads`, the outcome alone) adds the finding `id`.
    The cause text shows the threshold as {threshold}."""

    id: str  # a catalog id
    nodes: tuple[str, ...]
    outcomes: tuple[str, ...]
    reads: str = ""
    above: float | None = None
    unit: str = ""  # "ms", or "%" for a ratio

    def value(self, evidence: Mapping):
        if "/" in self.reads:
            num, den = (evidence.get(k) for k in self.reads.split("/", 1))
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (num, den)) or not den:
                return None
            return num / den
        return evidence.get(self.reads)

    def fires(self, outcome: str, evidence: Mapping) -> bool:
        if outcome not in self.outcomes:
            return False
        if not self.reads:
            return True
        v = self.value(evidence)
        if self.above is None:
            return v is True
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v > self.above

    @property
    def threshold(self) -> str:
        if self.above is None:
            return ""
        if self.unit == "%":
            return f"{self.above * 100:g}%"
        return f"{self.above:g} {self.unit}".strip()

    def __str__(self) -> str:
        where = f"{self.id}: after {', '.join(self.outcomes)} of {', '.join(self.nodes)}"
        if not self.reads:
            return where
        if self.above is None:
            return f"{where}, when {self.reads} is true"
        return f"{where}, when {self.reads} > {self.threshold}"


@dataclass(frozen=True)
class Decision:
    """What the tree makes of a probe's outcome at a node."""

    outcome: str
    status: str
    summary: str
    target: str | None  # None: no branch for this outcome (the track ends undecided)
    warnings: tuple[WarningRule, ...]
    reading: str = ""  # why a declared rule re-read the probe's outcome


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
WARNINGS: list[WarningRule] = []


def node(id: str, title: str, why: str, probe: str, branches: Mapping[str, str], **kw) -> Node:
    if id in NODES:
        raise ValueError(f"node {id} defined twice")
    n = Node(id, title, why, probe, dict(branches), **kw)
    NODES[id] = n
    return n


def warning(id: str, nodes: tuple[str, ...], outcomes: tuple[str, ...], reads: str = "", above: float | None = None, unit: str = "") -> WarningRule:
    w = WarningRule(id, tuple(nodes), tuple(outcomes), reads, above, unit)
    WARNINGS.append(w)
    return w


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

_load_modules = lazy_loader(__name__, _MODULES)


def load() -> dict[str, Node]:
    _load_modules()
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
        for t in n.targets():
            kind, val = target_kind(t)
            if kind == "node":
                queue.append(val)
    return seen


def warnings_for(node_id: str) -> list[WarningRule]:
    load()
    return [w for w in WARNINGS if node_id in w.nodes]


def decide(n: Node, outcome, facts: Mapping) -> Decision:
    """The node's reading of a probe's outcome (a model.Outcome): which of the
    problems seen counts (precedence), where the walk goes, which warnings fire."""
    from ..model import FAIL, PASS, WARN

    name, status, summary = outcome.outcome, outcome.status, outcome.summary
    for p in n.precedence:
        if p in outcome.problems:
            name, status, summary = p, FAIL, outcome.problems[p]
            break
    rule = n.reading(name, {**facts, **outcome.facts})
    if rule:  # the tree's declared reading of what the probe observed
        name, status = rule.becomes, rule.status
    fired = tuple(w for w in warnings_for(n.id) if w.fires(name, outcome.evidence))
    if fired and status == PASS:
        status = WARN
    return Decision(name, status, summary, n.branch(name, facts), fired, rule.why if rule else "")


def validate() -> list[str]:
    """Problems in the tree: dangling targets, unknown causes or probes, unknown
    track entries, conditions and precedence on outcomes the node does not
    branch on, warning rules on unknown nodes, outcomes or causes."""
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
        for t in n.targets():
            kind, val = target_kind(t)
            if kind == "cause" and val not in cat:
                problems.append(f"node {n.id}: unknown cause {val}")
            if kind == "node" and val not in NODES:
                problems.append(f"node {n.id}: unknown node {val}")
        for w in n.when:
            if w.outcome not in n.branches:
                problems.append(f"node {n.id}: condition on {w.outcome}, which has no plain branch")
            if not w.values:
                problems.append(f"node {n.id}: condition on {w.outcome} names no value of {w.fact}")
        for p in n.precedence:
            if p not in n.branches:
                problems.append(f"node {n.id}: precedence names {p}, which has no branch")
        if len(set(n.precedence)) != len(n.precedence):
            problems.append(f"node {n.id}: precedence names an outcome twice")
        for r in n.rules:
            if r.outcome not in n.branches or r.becomes not in n.branches:
                problems.append(f"node {n.id}: rule {r.outcome} -> {r.becomes} on an outcome with no branch")
            for _, op, _ in r.when:
                if op not in _TESTS:
                    problems.append(f"node {n.id}: rule {r.outcome}: unknown test {op}")
    from .compare import validate as validate_compare

    problems += validate_compare(cat)
    seen: set[str] = set()
    for w in WARNINGS:
        if w.id in seen:
            problems.append(f"warning {w.id}: more than one rule (one rule, one threshold)")
        seen.add(w.id)
        if w.id not in cat:
            problems.append(f"warning {w.id}: unknown cause")
        if not w.nodes or not w.outcomes:
            problems.append(f"warning {w.id}: no node or no outcome to attach to")
        if w.above is not None and not w.reads:
            problems.append(f"warning {w.id}: a threshold with nothing to read")
        if w.unit == "%" and "/" not in w.reads:
            problems.append(f"warning {w.id}: a percentage of something that is not a ratio")
        for nid in w.nodes:
            if nid not in NODES:
                problems.append(f"warning {w.id}: unknown node {nid}")
                continue
            n = NODES[nid]
            for o in w.outcomes:
                if o not in n.branches and o not in n.precedence:
                    problems.append(f"warning {w.id}: {nid} has no outcome {o}")
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
            if n.precedence:
                lines.append(f"      {'(problems, first wins)':<22}    {' > '.join(n.precedence)}")
            for r in n.rules:
                lines.append(f"      {'rule':<22} :: {r}")
            for outcome, target in n.branches.items():
                for w in n.when:
                    if w.outcome == outcome:
                        lines.append(f"      {outcome:<22} -> {w}")
                lines.append(f"      {outcome:<22} -> {target}")
            if n.default:
                lines.append(f"      {'(anything else)':<22} -> {n.default}")
            for w in warnings_for(n.id):
                lines.append(f"      {'warning':<22} => {w}")
        lines.append("")
    lines.append("warnings (each a finding; the verdict only for slow-queries)")
    for w in WARNINGS:
        lines.append(f"  {w}" + (f"  [threshold {w.threshold}]" if w.threshold else ""))
    lines.append("")
    from .compare import RULES

    lines.append("ship/fleet: the walk here and on a machine compared (the first rule that holds)")
    for r in RULES:
        lines.append(f"  {r}")
    lines.append("")
    return "\n".join(lines)

"""Plain data shared by the engine, the probes and every view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PASS, WARN, FAIL, SKIPPED, CRASHED = "pass", "warn", "fail", "skipped", "crashed"
HEALTHY, ROOT_CAUSE, INCONCLUSIVE = "healthy", "root_cause", "inconclusive"


@dataclass
class Outcome:
    """What a probe returns: a named outcome the tree branches on, a status,
    evidence a human can read, facts later nodes may use, and the problems it
    saw besides (outcome name -> summary; the node's precedence picks one).
    Whether anything deserves a warning is the tree's call, not the probe's."""

    outcome: str
    status: str = PASS
    summary: str = ""  # one line for the timeline: "answered N (no TLS)"
    evidence: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "outcome": self.outcome,
            "status": self.status,
            "summary": self.summary,
            "evidence": self.evidence,
            "facts": self.facts,
            "problems": dict(self.problems),
        }

    @classmethod
    def from_json(cls, d: dict) -> "Outcome":
        return cls(
            outcome=d["outcome"],
            status=d.get("status", PASS),
            summary=d.get("summary", ""),
            evidence=dict(d.get("evidence") or {}),
            facts=dict(d.get("facts") or {}),
            problems={str(k): str(v) for k, v in (d.get("problems") or {}).items()},
        )


def passed(outcome: str = "ok", summary: str = "", **evidence) -> Outcome:
    return Outcome(outcome, PASS, summary, evidence)


def failed(outcome: str, summary: str = "", **evidence) -> Outcome:
    return Outcome(outcome, FAIL, summary, evidence)


def warned(outcome: str, summary: str = "", **evidence) -> Outcome:
    return Outcome(outcome, WARN, summary, evidence)


def skipped(outcome: str, summary: str = "", **evidence) -> Outcome:
    return Outcome(outcome, SKIPPED, summary, evidence)


@dataclass
class Step:
    node: str
    title: str
    probe: str
    track: str
    outcome: str = ""
    status: str = ""
    summary: str = ""
    elapsed_ms: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)
    branch: str = ""  # where the walk went: a node id, "cause:<id>" or "done"

    def to_json(self) -> dict:
        return {
            "node": self.node,
            "title": self.title,
            "probe": self.probe,
            "track": self.track,
            "outcome": self.outcome,
            "status": self.status,
            "summary": self.summary,
            "elapsed_ms": self.elapsed_ms,
            "evidence": self.evidence,
            "branch": self.branch,
        }


@dataclass
class FixStep:
    text: str
    command: str | None = None

    def to_json(self) -> dict:
        d = {"text": self.text}
        if self.command:
            d["command"] = self.command
        return d


@dataclass
class Fix:
    summary: str
    steps: list[FixStep] = field(default_factory=list)
    patch: list = field(default_factory=list)  # diagnostics.fixes.Edit: config-file changes `--apply` can make

    def to_json(self) -> dict:
        d = {"summary": self.summary, "steps": [s.to_json() for s in self.steps]}
        if self.patch:
            d["patch"] = [e.to_json() for e in self.patch]
        return d


@dataclass
class Diagnosis:
    """A cause with its evidence and fix, as the contract's `root_cause` object."""

    id: str
    layer: str
    title: str
    explanation: str
    evidence: dict[str, Any]
    fix: Fix
    docs: list[str]
    severity: str = "error"
    node: str = ""

    def to_json(self, with_severity: bool = False) -> dict:
        d = {
            "id": self.id,
            "layer": self.layer,
            "title": self.title,
            "explanation": self.explanation,
            "evidence": self.evidence,
            "fix": self.fix.to_json(),
            "docs": list(self.docs),
        }
        if with_severity:
            d["severity"] = self.severity
        return d


# ---------------------------------------------------------------- events


@dataclass
class StepStarted:
    step: Step


@dataclass
class StepProgress:
    node: str
    message: str


@dataclass
class StepFinished:
    step: Step


@dataclass
class Question:
    key: str  # the input's name, e.g. "database_url"
    prompt: str
    why: str
    secret: bool = False


@dataclass
class VerdictReady:
    report: Any  # diagnostics.report.Report

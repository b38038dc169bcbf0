"""The report of a walk, the one model every view renders (plain lines,
Markdown, JSON, the wizard), and the exit status it maps to."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from .model import HEALTHY, ROOT_CAUSE, Diagnosis, Fix, FixStep, Step
from .secret import redact_obj


class ExitCode(IntEnum):
    """The exit statuses of the command line (cli-contract.md)."""

    HEALTHY = 0
    ROOT_CAUSE = 1
    USAGE = 2
    INCONCLUSIVE = 3
    INTERRUPTED = 130

    @classmethod
    def of(cls, verdict: str | None) -> "ExitCode":
        """The status of a verdict: healthy 0, root cause 1, anything else 3."""
        return {HEALTHY: cls.HEALTHY, ROOT_CAUSE: cls.ROOT_CAUSE}.get(verdict or "", cls.INCONCLUSIVE)


@dataclass
class Report:
    symptom: str
    verdict: str
    root_cause: Diagnosis | None
    findings: list[Diagnosis]
    steps: list[Step]
    not_run: list[dict]
    inputs: dict
    elapsed_ms: int
    context: dict = field(default_factory=dict)  # where the walk ran, files found

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.of(self.verdict)

    def to_json(self) -> dict:
        from . import __version__

        return redact_obj(
            {
                "schema": "fcp-doctor.diagnosis/1",
                "version": __version__,
                "symptom": self.symptom,
                "verdict": self.verdict,
                "root_cause": self.root_cause.to_json() if self.root_cause else None,
                "findings": [f.to_json(with_severity=True) for f in self.findings],
                "steps": [s.to_json() for s in self.steps],
                "not_run": self.not_run,
                "inputs": self.inputs,
                "context": self.context,
                "elapsed_ms": self.elapsed_ms,
            }
        )

    @classmethod
    def from_json(cls, d: dict) -> "Report":
        """A report back from its JSON (a walk run elsewhere), for the local views."""
        steps = [
            Step(
                node=s.get("node", ""), title=s.get("title", ""), probe=s.get("probe", ""), track=s.get("track", ""), outcome=s.get("outcome", ""),
                status=s.get("status", ""), summary=s.get("summary", ""), elapsed_ms=int(s.get("elapsed_ms") or 0), evidence=s.get("evidence") or {},
                branch=s.get("branch", ""),
            )
            for s in d.get("steps") or []
        ]  # fmt: skip
        return cls(
            symptom=d.get("symptom", ""), verdict=d.get("verdict", "inconclusive"), root_cause=_diagnosis(d.get("root_cause")),
            findings=[f for f in (_diagnosis(x) for x in d.get("findings") or []) if f], steps=steps, not_run=list(d.get("not_run") or []),
            inputs=d.get("inputs") or {}, elapsed_ms=int(d.get("elapsed_ms") or 0), context=d.get("context") or {},
        )  # fmt: skip


def _diagnosis(x: dict | None) -> Diagnosis | None:
    if not x:
        return None
    fix = x.get("fix") or {}
    return Diagnosis(
        id=x.get("id", ""),
        layer=x.get("layer", ""),
        title=x.get("title", ""),
        explanation=x.get("explanation", ""),
        evidence=x.get("evidence") or {},
        fix=Fix(fix.get("summary", ""), [FixStep(s.get("text", ""), s.get("command")) for s in fix.get("steps") or []]),
        docs=list(x.get("docs") or []),
        severity=x.get("severity", "error"),
    )

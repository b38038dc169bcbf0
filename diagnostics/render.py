"""The views of a walk: what the inputs listing and the verdict show, laid out
once (InputsView, VerdictView), and their text forms, plain line mode and the
Markdown export. The wizard draws the same views with its own styles.

Titles, explanations and fixes come from the catalog; this module only lays
them out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TextIO

from .report import Report
from .model import CRASHED, FAIL, PASS, SKIPPED, WARN, Diagnosis, Step
from .secret import redact

WORDS = {PASS: "PASS", WARN: "WARN", FAIL: "FAIL", SKIPPED: "SKIP", CRASHED: "CRASH"}
ANSI = {PASS: "32", WARN: "33", FAIL: "31", SKIPPED: "2", CRASHED: "35"}
VERDICT_WORDS = {"healthy": "HEALTHY", "root_cause": "ROOT CAUSE", "inconclusive": "INCONCLUSIVE"}
WHERE_WORDS = {
    "fly_machine": "inside a Fly machine",
    "laptop_flyctl": "outside Fly, flyctl available",
    "laptop": "outside Fly, no flyctl",
}


def use_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM", "") in ("", "dumb", "unknown"):
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def _c(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def fmt_ms(ms: int) -> str:
    return f"{ms} ms" if ms < 10000 else f"{ms / 1000:.1f} s"


def step_line(step: Step, color: bool = False, width: int = 100) -> str:
    word = WORDS.get(step.status, step.status.upper())
    head = f"{_c(f'{word:<5}', ANSI.get(step.status, '0'), color)} {step.title}"
    tail = f"{fmt_ms(step.elapsed_ms):>8}"
    summary = f" — {step.summary}" if step.summary else ""
    text = redact(f"{head}{summary}")
    return f"{text}  {tail}"


# ---------------------------------------------------------------- views
# What a view shows, laid out once; plain lines, Markdown and the wizard each
# style it their own way (JSON is Report.to_json()).

NO_FILES = "no fly.toml, .env.local or .env here"


@dataclass
class InputsView:
    """What was found before the walk: the files, each input with where it came from, problems in the files."""

    files: list[str]
    values: list[tuple[str, str, str]]  # (name, shown value: masked, source)
    problems: list[str]  # "FILE:LINE: message"
    where: str = ""  # in words: "inside a Fly machine", ...

    @property
    def files_text(self) -> str:
        return ", ".join(self.files) if self.files else NO_FILES


def inputs_view(values: dict, files_found=(), problems=(), where: str = "") -> InputsView:
    """From the inputs as JSON ({name: {"value", "source"}}, Inputs.to_json() or Report.inputs)."""
    return InputsView(
        files=list(files_found),
        values=[(name, str(v.get("value", "")), str(v.get("source", ""))) for name, v in sorted(values.items())],
        problems=[f"{p['file']}:{p['line']}: {p['message']}" for p in problems],
        where=WHERE_WORDS.get(where, where),
    )


def inputs_of(inputs) -> InputsView:
    """The view of a walk's diagnostics.inputs.Inputs, before the walk."""
    return inputs_view(inputs.to_json(), inputs.files_found, inputs.problems)


def inputs_of_report(report: Report) -> InputsView:
    return inputs_view(report.inputs, report.context.get("files_found") or [], where=report.context.get("where") or "")


def inputs_lines(view: InputsView) -> list[str]:
    lines = [f"  {'where':<16} {view.where}"] if view.where else []
    lines.append(f"  {'files':<16} {view.files_text}")
    lines += [f"  {name:<16} {value}   ({source})" for name, value, source in view.values]
    lines += [f"  WARN {p}" for p in view.problems]
    return lines


@dataclass
class FixStepView:
    number: int
    text: str
    commands: list[str]  # the command's lines; empty: a step to do by hand

    @property
    def command(self) -> str:
        return "\n".join(self.commands)


@dataclass
class CauseView:
    """One diagnosis: title, cause id, why, the evidence as labelled facts, the fix steps with commands, docs."""

    id: str
    title: str
    node: str
    severity: str
    why: str
    evidence: list[tuple[str, object]]  # (label, value); `short()` it to the view's width
    fix: str
    steps: list[FixStepView]
    docs: list[str]

    @property
    def commands(self) -> list[tuple[int, str]]:
        return [(s.number, s.command) for s in self.steps if s.commands]


@dataclass
class VerdictView:
    verdict: str  # healthy | root_cause | inconclusive
    word: str  # HEALTHY | ROOT CAUSE | INCONCLUSIVE
    headline: str  # what the verdict says without a cause ("" with one)
    cause: CauseView | None
    undecided: list[str]  # "node: outcome — summary" of the steps that left the walk undecided
    findings: list[CauseView]
    not_run: list[dict]  # {"node", "title", "track", "reason"}
    steps: list[Step]
    elapsed: str


def cause_view(d: Diagnosis) -> CauseView:
    return CauseView(
        id=d.id,
        title=d.title,
        node=d.node,
        severity=d.severity,
        why=d.explanation,
        evidence=list(d.evidence.items()),
        fix=d.fix.summary,
        steps=[FixStepView(i, s.text, s.command.split("\n") if s.command else []) for i, s in enumerate(d.fix.steps, 1)],
        docs=list(d.docs),
    )


def verdict_view(report: Report) -> VerdictView:
    headline = ""
    if report.root_cause is None:
        headline = "every check on the walk passed" if report.verdict == "healthy" else "the walk could not decide"
    undecided = []
    if report.root_cause is None and report.verdict != "healthy":
        for s in report.steps:
            if s.status in (CRASHED, FAIL) or s.branch == "inconclusive":
                undecided.append(f"{s.node}: {s.outcome}" + (f" — {s.summary}" if s.summary else ""))
    return VerdictView(
        verdict=report.verdict,
        word=VERDICT_WORDS.get(report.verdict, report.verdict.upper()),
        headline=headline,
        cause=cause_view(report.root_cause) if report.root_cause else None,
        undecided=undecided,
        findings=[cause_view(f) for f in report.findings],
        not_run=list(report.not_run),
        steps=list(report.steps),
        elapsed=fmt_ms(report.elapsed_ms),
    )


def short(v, limit: int = 300) -> str:
    """A value of the evidence on one line, cut at `limit` characters."""
    text = v if isinstance(v, str) else repr(v) if not isinstance(v, (list, dict)) else _json(v)
    text = text.replace("\n", " | ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(v) -> str:
    import json

    return json.dumps(v, ensure_ascii=False, default=str)


# ---------------------------------------------------------------- plain lines


def cause_lines(c: CauseView, color: bool = False) -> list[str]:
    lines = [_c(f"{c.id}: {c.title}", "1;31" if c.severity == "error" else "1;33", color)]
    for para in c.why.split("\n"):
        lines.append(f"  {para}" if para else "")
    if c.evidence:
        lines.append("  Evidence:")
        lines += [f"    {k}: {short(v)}" for k, v in c.evidence]
    lines.append(f"  Fix: {c.fix}")
    for s in c.steps:
        lines.append(f"    {s.number}. {s.text}")
        lines += [f"       $ {cl}" for cl in s.commands]
    lines += [f"  Docs: {url}" for url in c.docs]
    return [redact(line) for line in lines]


def verdict_lines(report: Report, color: bool = False, with_not_run: bool = True) -> list[str]:
    v = verdict_view(report)
    code = {"healthy": "1;32", "root_cause": "1;31"}.get(v.verdict, "1;33")
    lines = ["", _c(f"Verdict: {v.word}" + (f" — {v.headline}" if v.headline else ""), code, color)]
    if v.cause:
        lines += cause_lines(v.cause, color)
    lines += [f"  {u}" for u in v.undecided]
    if v.findings:
        lines += ["", "Also seen:"]
        for f in v.findings:
            lines += ["  " + line for line in cause_lines(f, color)]
    if v.not_run and with_not_run:
        lines += ["", f"Not run ({len(v.not_run)}):"]
        lines += [f"  - {n['title']} [{n['node']}]: {n['reason']}" for n in v.not_run]
    lines += ["", f"{len(v.steps)} checks in {v.elapsed}"]
    return [redact(line) for line in lines]


# ---------------------------------------------------------------- Markdown


def markdown(report: Report) -> str:
    v = verdict_view(report)
    inputs = inputs_of_report(report)
    out = [f"# fcp-doctor report", "", f"Symptom: `{report.symptom}` · verdict: **{report.verdict}** · {v.elapsed}", ""]
    out += ["## Inputs", "", "| input | value | source |", "| --- | --- | --- |"]
    out += [f"| {name} | `{value}` | {source} |" for name, value, source in inputs.values]
    out += ["", "## Checks", "", "| status | check | result | time |", "| --- | --- | --- | --- |"]
    for s in v.steps:
        out.append(f"| {WORDS.get(s.status, s.status)} | {s.title} | {s.summary} | {fmt_ms(s.elapsed_ms)} |")
    if v.cause:
        out += ["", "## Root cause", ""] + _md_cause(v.cause)
    for f in v.findings:
        out += ["", f"## Also seen ({f.severity})", ""] + _md_cause(f)
    if v.not_run:
        out += ["", "## Not run", ""] + [f"- {n['title']} (`{n['node']}`): {n['reason']}" for n in v.not_run]
    return redact("\n".join(out) + "\n")


def _md_cause(c: CauseView) -> list[str]:
    out = [f"**{c.title}** (`{c.id}`)", "", c.why, "", "Evidence:", ""]
    out += [f"- {k}: `{short(v)}`" for k, v in c.evidence]
    out += ["", f"Fix: {c.fix}", ""]
    for s in c.steps:
        out.append(f"{s.number}. {s.text}")
        if s.commands:
            out += ["", "   ```sh"] + [f"   {line}" for line in s.commands] + ["   ```"]
    out += [f"- Docs: {u}" for u in c.docs]
    return out

"""Text forms of a walk: plain line mode and the Markdown export.

The same words as the wizard: titles, explanations and fixes come from the
catalog; this module only lays them out.
"""

from __future__ import annotations

import os
from typing import TextIO

from .engine import Report
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


def inputs_lines(report: Report) -> list[str]:
    lines = []
    where = report.context.get("where")
    if where:
        lines.append(f"  {'where':<16} {WHERE_WORDS.get(where, where)}")
    files = report.context.get("files_found") or []
    lines.append(f"  {'files':<16} {', '.join(files) if files else 'no fly.toml, .env.local or .env here'}")
    for name, v in report.inputs.items():
        lines.append(f"  {name:<16} {v['value']}   ({v['source']})")
    return lines


def diagnosis_lines(d: Diagnosis, color: bool = False, heading: str = "") -> list[str]:
    lines = []
    title = f"{d.id}: {d.title}"
    lines.append(_c(heading + title, "1;31" if d.severity == "error" else "1;33", color))
    for para in d.explanation.split("\n"):
        lines.append(f"  {para}" if para else "")
    if d.evidence:
        lines.append("  Evidence:")
        for k, v in d.evidence.items():
            lines.append(f"    {k}: {_short(v)}")
    lines.append(f"  Fix: {d.fix.summary}")
    for i, s in enumerate(d.fix.steps, 1):
        lines.append(f"    {i}. {s.text}")
        if s.command:
            for cl in s.command.split("\n"):
                lines.append(f"       $ {cl}")
    for url in d.docs:
        lines.append(f"  Docs: {url}")
    return [redact(line) for line in lines]


def _short(v, limit: int = 300) -> str:
    text = v if isinstance(v, str) else repr(v) if not isinstance(v, (list, dict)) else _json(v)
    text = text.replace("\n", " | ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(v) -> str:
    import json

    return json.dumps(v, ensure_ascii=False, default=str)


def verdict_lines(report: Report, color: bool = False, with_not_run: bool = True) -> list[str]:
    lines = [""]
    word = VERDICT_WORDS.get(report.verdict, report.verdict.upper())
    code = {"healthy": "1;32", "root_cause": "1;31"}.get(report.verdict, "1;33")
    if report.root_cause:
        lines.append(_c(f"Verdict: {word}", code, color))
        lines.extend(diagnosis_lines(report.root_cause, color))
    elif report.verdict == "healthy":
        lines.append(_c(f"Verdict: {word} — every check on the walk passed", code, color))
    else:
        lines.append(_c(f"Verdict: {word} — the walk could not decide", code, color))
        for s in report.steps:
            if s.status in (CRASHED, FAIL) or s.branch == "inconclusive":
                lines.append(f"  {s.node}: {s.outcome} {('— ' + s.summary) if s.summary else ''}")
    if report.findings:
        lines.append("")
        lines.append("Also seen:")
        for f in report.findings:
            lines.extend("  " + line for line in diagnosis_lines(f, color))
    if report.not_run and with_not_run:
        lines.append("")
        lines.append(f"Not run ({len(report.not_run)}):")
        for n in report.not_run:
            lines.append(f"  - {n['title']} [{n['node']}]: {n['reason']}")
    lines.append("")
    lines.append(f"{len(report.steps)} checks in {fmt_ms(report.elapsed_ms)}")
    return [redact(line) for line in lines]


def markdown(report: Report) -> str:
    out = [f"# fcp-doctor report", "", f"Symptom: `{report.symptom}` · verdict: **{report.verdict}** · {fmt_ms(report.elapsed_ms)}", ""]
    out += ["## Inputs", "", "| input | value | source |", "| --- | --- | --- |"]
    for name, v in report.inputs.items():
        out.append(f"| {name} | `{v['value']}` | {v['source']} |")
    out += ["", "## Checks", "", "| status | check | result | time |", "| --- | --- | --- | --- |"]
    for s in report.steps:
        out.append(f"| {WORDS.get(s.status, s.status)} | {s.title} | {s.summary} | {fmt_ms(s.elapsed_ms)} |")
    if report.root_cause:
        out += ["", "## Root cause", ""] + _md_diag(report.root_cause)
    for f in report.findings:
        out += ["", f"## Also seen ({f.severity})", ""] + _md_diag(f)
    if report.not_run:
        out += ["", "## Not run", ""] + [f"- {n['title']} (`{n['node']}`): {n['reason']}" for n in report.not_run]
    return redact("\n".join(out) + "\n")


def _md_diag(d: Diagnosis) -> list[str]:
    out = [f"**{d.title}** (`{d.id}`)", "", d.explanation, "", "Evidence:", ""]
    out += [f"- {k}: `{_short(v)}`" for k, v in d.evidence.items()]
    out += ["", f"Fix: {d.fix.summary}", ""]
    for i, s in enumerate(d.fix.steps, 1):
        out.append(f"{i}. {s.text}")
        if s.command:
            out += ["", "   ```sh"] + [f"   {line}" for line in s.command.split("\n")] + ["   ```"]
    out += [f"- Docs: {u}" for u in d.docs]
    return out

"""Recordings of walks (`--record FILE`), replayed by `replay FILE` and `demo`.

A recording holds the symptom, the inputs (masked, with their sources) and
every probe outcome with its duration. Replay feeds those outcomes back
through the same engine, so the verdict, fix and not-run list are recomputed
by the real tree and catalog, never stored.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .context import Context
from .engine import RecordingRunner, ReplayRunner
from .inputs import ENV_NAMES, InputValue, Inputs, mask_url_text
from .model import Outcome
from .urls import UrlError
from .secret import MASK, Secret, looks_secret, redact, redact_obj

SCHEMA = "fcp-doctor.recording/1"
SECRET_INPUTS = {k for k, (_vars, secret) in ENV_NAMES.items() if secret}
DEMO_DIR = Path(__file__).parent / "demo"


class RecordingError(ValueError):
    pass


@dataclass
class Recording:
    symptom: str
    inputs: dict  # name -> {"value": masked, "source": ...}
    steps: list[dict]
    timeout: float = 5.0
    title: str = ""
    description: str = ""
    files_found: list | None = None
    cwd: str = "."

    def to_json(self) -> dict:
        return redact_obj(
            {
                "schema": SCHEMA,
                "title": self.title,
                "description": self.description,
                "symptom": self.symptom,
                "timeout": self.timeout,
                "cwd": self.cwd,
                "files_found": self.files_found or [],
                "inputs": self.inputs,
                "steps": self.steps,
            }
        )

    def context(self) -> Context:
        inputs = Inputs(cwd=Path(self.cwd), env={}, files_found=list(self.files_found or []))
        for name, v in self.inputs.items():
            value = str(v.get("value", ""))
            source = str(v.get("source", "recording"))
            if name in SECRET_INPUTS or looks_secret(name) or value == MASK:
                # already masked when recorded: keep it a Secret, but do not remember the
                # masked text as a secret (redact() would then blank every URL it appears in)
                # a hand-edited recording may hold a clear-text secret: shown masked all the same
                display = value if value == MASK else mask_url_text(value) if "://" in value else MASK
                inputs.values[name] = InputValue(name, _already_masked(value), source, True, display)
            else:
                inputs.values[name] = InputValue(name, value, source, False, redact(value))
        ctx = Context(inputs=inputs, timeout=self.timeout, replay=True)
        for step in self.steps:
            if step.get("node") == "pg.url" and step.get("outcome") == "invalid":
                # the masked URL may parse where the real one did not: keep the recorded error
                ev = step.get("evidence") or {}
                ctx.keep_pg_url_error(UrlError(str(ev.get("problem", "")), str(ev.get("part", "")), str(ev.get("hint", ""))))
        return ctx

    def runner(self, speed: float = 0.0, sleep=None) -> ReplayRunner:
        outcomes = {s["node"]: (Outcome.from_json(s), int(s.get("elapsed_ms", 0))) for s in self.steps}
        return ReplayRunner(outcomes, speed=speed, **({"sleep": sleep} if sleep else {}))


def _already_masked(text: str) -> Secret:
    return Secret(text, remember_value=False)


def from_walk(ctx: Context, symptom: str, runner: RecordingRunner) -> Recording:
    return Recording(
        symptom=symptom,
        inputs=ctx.inputs.to_json(),
        steps=runner.recorded,
        timeout=ctx.timeout,
        files_found=list(ctx.inputs.files_found),
        cwd=str(ctx.inputs.cwd),
    )


def save(rec: Recording, path: str | Path) -> None:
    """Written atomically."""
    path = Path(path)
    text = json.dumps(rec.to_json(), indent=2, sort_keys=False) + "\n"  # to_json() redacts every value
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", prefix=".fcp-rec-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load(path: str | Path) -> Recording:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RecordingError(f"{path} is not a recording: {exc}") from None
    return parse(data, str(path))


def parse(data, name: str = "recording") -> Recording:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise RecordingError(f"{name} is not a {SCHEMA} file")
    try:
        steps = [dict(s) for s in data["steps"]]
        for s in steps:
            _check_step(s, name)
        return Recording(
            symptom=str(data.get("symptom") or "everything"),
            inputs={k: dict(v) for k, v in (data.get("inputs") or {}).items()},
            steps=steps,
            timeout=float(data.get("timeout") or 5.0),
            title=str(data.get("title") or ""),
            description=str(data.get("description") or ""),
            files_found=list(data.get("files_found") or []),
            cwd=str(data.get("cwd") or "."),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, RecordingError):
            raise
        raise RecordingError(f"{name} is malformed: {exc}") from None


def _check_step(s: dict, name: str) -> None:
    """A step as the engine would have recorded it; anything else is a malformed recording."""
    import math

    from . import causes

    node = s.get("node")
    if not isinstance(node, str) or not isinstance(s.get("outcome"), str):
        raise RecordingError(f"{name}: a step lacks its node or outcome")
    ms = s.get("elapsed_ms", 0)
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms) or ms < 0:
        raise RecordingError(f"{name}: step {node}: elapsed_ms is not a number of milliseconds")
    s["elapsed_ms"] = int(min(ms, 1e12))
    for key in ("evidence", "facts"):
        if s.get(key) is not None and not isinstance(s[key], dict):
            raise RecordingError(f"{name}: step {node}: {key} is not an object")
    for key in ("status", "summary"):
        if s.get(key) is not None and not isinstance(s[key], str):
            raise RecordingError(f"{name}: step {node}: {key} is not text")
    findings = s.get("findings") or []
    if not isinstance(findings, list) or not all(isinstance(f, str) for f in findings):
        raise RecordingError(f"{name}: step {node}: findings is not a list of cause ids")
    unknown = [f for f in findings if f not in causes.load_all()]
    if unknown:
        raise RecordingError(f"{name}: step {node}: unknown cause id {unknown[0]!r}")


def demo_scenarios() -> dict[str, Path]:
    return {p.stem: p for p in sorted(DEMO_DIR.glob("*.json"))}

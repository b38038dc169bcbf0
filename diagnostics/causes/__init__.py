"""The catalog of root causes: each written once, with a fix builder that
fills in the user's own names. Ids are the public contract (root-causes.md).

A layer module registers its causes with `cause(...)`; the fix builder gets a
`Names` view (app, pg_app, host, port, ... — never a secret) and the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..model import Diagnosis, Fix, FixStep
from ..registry import lazy_loader
from ..secret import redact_obj

LAYERS = ("config", "fly", "flyctl", "net", "pg", "convex", "convex_self")
_MODULES = ("config", "net", "pg", "fly", "flyctl", "convex", "convex_self", "warnings")


class Names(dict):
    """The user's names for fix text. Missing keys render as <KEY> placeholders."""

    def __missing__(self, key: str) -> str:
        return f"<{key.upper()}>"


FixBuilder = Callable[[Names, dict], Fix]


@dataclass(frozen=True)
class Cause:
    id: str
    layer: str
    title: str
    explanation: str | Callable[[Names, dict], str]  # {names} from Names and the evidence, or a function of both
    fix: FixBuilder
    docs: tuple[str, ...] = ()
    severity: str = "error"  # "warning" for the findings-only ids
    rank: int = 0  # among warnings: higher is worse (slow-queries verdict)

    def diagnose(self, names: Names, evidence: dict, node: str = "", severity: str | None = None) -> Diagnosis:
        # evidence is outside text (server errors, file lines): masked once, here; the
        # templates and fix builders are ours and hold no secret (a password is ${PGPASSWORD}),
        # so their text is never value-masked (a password `secret` leaves `fly secrets` whole)
        evidence = redact_obj(evidence)
        merged = Names({**names, **{k: v for k, v in evidence.items() if isinstance(v, (str, int, float))}})
        fix = self.fix(merged, evidence)
        return Diagnosis(
            id=self.id,
            layer=self.layer,
            title=self.title.format_map(merged),
            explanation=self.explanation(merged, evidence) if callable(self.explanation) else self.explanation.format_map(merged),
            evidence=evidence,
            fix=Fix(fix.summary, list(fix.steps), list(fix.patch)),
            docs=list(self.docs),
            severity=severity or self.severity,
            node=node,
        )


CATALOG: dict[str, Cause] = {}


def cause(
    id: str,
    title: str,
    explanation: str,
    fix: FixBuilder,
    docs: tuple[str, ...] | list[str] = (),
    severity: str = "error",
    rank: int = 0,
) -> Cause:
    layer = id.split(".", 1)[0]
    if layer not in LAYERS:
        raise ValueError(f"unknown layer for {id}")
    if id in CATALOG:
        raise ValueError(f"cause {id} defined twice")
    c = Cause(id, layer, title, explanation, fix, tuple(docs), severity, rank)
    CATALOG[id] = c
    return c


def steps(summary: str, *items: tuple[str, str | None] | str, patch=()) -> Fix:
    """Fix("summary", ("text", "command"), "text only", ..., patch=[fixes.set_env(...)]).
    `patch` holds the config-file edits `diagnose --apply` can make (diagnostics/fixes.py)."""
    out = []
    for it in items:
        if isinstance(it, str):
            out.append(FixStep(it))
        else:
            out.append(FixStep(it[0], it[1]))
    return Fix(summary, out, list(patch))


_load_modules = lazy_loader(__name__, _MODULES)


def load_all() -> dict[str, Cause]:
    _load_modules()
    return CATALOG


def get(cause_id: str) -> Cause:
    return load_all()[cause_id]


@dataclass
class CatalogEntry:
    id: str
    layer: str
    title: str
    severity: str
    extra: dict[str, Any] = field(default_factory=dict)


def listing() -> list[dict]:
    order = {layer: i for i, layer in enumerate(LAYERS)}
    cat = load_all()
    return [
        {"id": c.id, "layer": c.layer, "title": c.title.format_map(Names()), "severity": c.severity}
        for c in sorted(cat.values(), key=lambda c: (order[c.layer], c.severity == "warning", c.id))
    ]

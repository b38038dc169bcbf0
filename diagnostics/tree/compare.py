"""The ship/fleet comparison, as data: the walk from here and the walk from an
app's machine, compared. The first rule whose conditions all hold names the
verdict. Conditions read a view of the two reports (diagnostics.remote.compare):
which side reached Postgres, where the machine's walk stopped, the host.

A rule's cause is a catalog id, or `machine` / `here` (that side's own cause),
tried in order after `|`; `where` says which side the cause lies on
(`cause_side`: the side whose cause was taken).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping


@dataclass(frozen=True)
class CompareRule:
    id: str
    when: tuple[str, ...]  # names in CONDITIONS, all must hold
    cause: str
    where: str  # "both" | "machine" | "local" | "cause_side"
    text: str  # {there} {host} {url_note} {here_cause} {machine_cause} {here_end} {machine_end} {what} {dns_why} {tcp_outcome}
    agree: bool = False

    def __str__(self) -> str:
        return f"{self.id}: when {' and '.join(self.when) or 'nothing else held'} -> {self.cause} ({self.where})"


def _failed(step: Mapping | None) -> bool:
    return bool(step and step.get("status") == "fail")


# the view (remote.compare.view) -> bool
CONDITIONS: dict[str, Callable[[Mapping], bool]] = {
    "same_end": lambda v: v["here"]["verdict"] == v["machine"]["verdict"] and v["here"]["cause"] == v["machine"]["cause"],
    "only_here_reaches": lambda v: v["here"]["reached_postgres"] and not v["machine"]["reached_postgres"],
    "only_machine_reaches": lambda v: v["machine"]["reached_postgres"] and not v["here"]["reached_postgres"],
    # a 6PN name is asked of the machine's 6PN resolver (fly.dns), any other of the system's (pg.dns)
    "machine_dns_failed": lambda v: _failed(v["machine_steps"].get("fly.dns") or v["machine_steps"].get("pg.dns")),
    "host_fly_private": lambda v: v["host_private"],
    "machine_tcp_refused": lambda v: _failed(v["machine_steps"].get("pg.tcp")) and v["machine_steps"]["pg.tcp"].get("outcome", "").startswith("refused"),
    "machine_tcp_failed": lambda v: _failed(v["machine_steps"].get("pg.tcp")),
    "machine_login_refused": lambda v: v["machine"]["cause"] in ("pg.auth_failed", "pg.password_missing")
    or (_failed(v["machine_steps"].get("pg.connect")) and v["machine"]["cause"] is None),
    # outside the 6PN with no way in (no flyctl, no WireGuard); a failing `fly proxy` names its own cause
    "here_outside_6pn": lambda v: v["here"]["cause"] == "fly.private_host_outside_6pn" or (v["here_host_private"] and not v["here"]["cause"]),
}

RULES: tuple[CompareRule, ...] = (
    CompareRule("same", ("same_end",), "here", "both", "Here and on {there}: {what}.", agree=True),
    CompareRule(
        "machine_cannot_resolve",
        ("only_here_reaches", "machine_dns_failed", "host_fly_private"),
        "machine|fly.app_not_found",
        "machine",
        "Postgres answers from here, but {there} cannot resolve {host}: {dns_why}.{url_note}",
    ),
    CompareRule(
        "machine_refused",
        ("only_here_reaches", "machine_tcp_refused"),
        "net.connection_refused",
        "machine",
        "Postgres answers from here, but from {there} the connection to {host} is refused ({tcp_outcome}): "
        "that machine's network path is broken (route, region, firewall).{url_note}",
    ),
    CompareRule(
        "machine_dropped",
        ("only_here_reaches", "machine_tcp_failed"),
        "net.connect_timeout",
        "machine",
        "Postgres answers from here, but from {there} the connection to {host} is dropped ({tcp_outcome}): "
        "that machine's network path is broken (route, region, firewall).{url_note}",
    ),
    CompareRule(
        "machine_other_url",
        ("only_here_reaches", "machine_login_refused"),
        "fly.secret_not_deployed",
        "machine",
        "Your URL logs in, the one {there} uses does not ({machine_cause}): the machine runs with another DATABASE_URL "
        "(a secret staged but not deployed, or an old value).{url_note}",
    ),
    CompareRule("machine_only", ("only_here_reaches",), "machine", "machine", "Postgres answers from here but not from {there}: {machine_end}.{url_note}"),
    CompareRule(
        "here_outside_6pn",
        ("only_machine_reaches", "here_outside_6pn"),
        "fly.private_host_outside_6pn",
        "local",
        "{there} reaches Postgres; this computer is outside Fly's private network, so {here_host} cannot work here "
        "(use `fly proxy` or WireGuard). The app itself is fine.",
    ),
    CompareRule("here_only", ("only_machine_reaches",), "here", "local", "{there} reaches Postgres; only this computer fails: {here_end}. The app itself is fine.{url_note}"),
    # neither (or both) reached: the app's own view decides
    CompareRule("machine_view", (), "machine|here", "cause_side", "Here: {here_end}; on {there}: {machine_end}. The machine's view is the app's.{url_note}"),
)

WHERE = ("both", "machine", "local", "cause_side")


def resolve_cause(rule: CompareRule, view: Mapping) -> tuple[str | None, str]:
    """(cause id or None, the side it came from: "machine" | "local" | "")."""
    sides = {"machine": ("machine", "machine"), "here": ("here", "local")}
    for part in rule.cause.split("|"):
        if part in sides:
            key, where = sides[part]
            if view[key]["cause"]:
                return view[key]["cause"], where
        else:
            return part, ""
    last = rule.cause.split("|")[-1]
    return (None, "local") if last == "here" else (None, "machine") if last == "machine" else (last, "")


def decide(view: Mapping) -> tuple[CompareRule, str | None, str]:
    """The first rule that holds: (rule, cause, where)."""
    for rule in RULES:
        if all(CONDITIONS[c](view) for c in rule.when):
            cause, side = resolve_cause(rule, view)
            return rule, cause, side if rule.where == "cause_side" else rule.where
    raise AssertionError("the last comparison rule holds always")


def validate(catalog: Mapping) -> list[str]:
    problems = []
    for r in RULES:
        for c in r.when:
            if c not in CONDITIONS:
                problems.append(f"compare rule {r.id}: unknown condition {c}")
        for part in r.cause.split("|"):
            if part not in ("machine", "here") and part not in catalog:
                problems.append(f"compare rule {r.id}: unknown cause {part}")
        if r.where not in WHERE:
            problems.append(f"compare rule {r.id}: unknown side {r.where}")
    if not RULES or RULES[-1].when:
        problems.append("compare rules: the last rule must hold always")
    return problems

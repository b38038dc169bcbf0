"""Logs as evidence: scan `fly logs -a APP --no-tail` text for the failure
strings the fact sheets list, and say which cause each one points at.

`scan(text)` is a pure function over log text. The `logs.scan` probe runs
flyctl when it is there and stores the matches as a fact; the engine attaches
them to the verdict's evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .secret import redact

MAX_EXAMPLES = 3
MAX_LINE = 300


@dataclass(frozen=True)
class LogPattern:
    id: str
    regex: re.Pattern
    meaning: str  # one line, for people
    cause: str  # the closest cause id of the catalog, "" when none fits
    source: str  # where the exact string comes from
    kind: str = "error"  # "error" | "ok" (a line that proves health)


def _p(id: str, pattern: str, meaning: str, cause: str, source: str, kind: str = "error", flags: int = re.IGNORECASE) -> LogPattern:
    return LogPattern(id, re.compile(pattern, flags), meaning, cause, source, kind)


CONVEX = "facts/convex.md §1.5"
FLEX = "facts/fly.md §4.1"
PROXY = "facts/fly.md F16, F3 (docs:monitoring/error-codes)"

PATTERNS: tuple[LogPattern, ...] = (
    # self-hosted Convex backend startup (tokio-postgres / clusters crate texts)
    _p("convex.url_has_db", r"cluster url already contains db name: ?(?P<db>\S*)", "the backend's POSTGRES_URL has a database path", "convex_self.postgres_url_has_database", CONVEX),
    _p("convex.url_no_user", r"cluster url username must be set", "the backend's POSTGRES_URL has no user name", "config.database_url_invalid", CONVEX),
    _p("convex.url_invalid", r"invalid postgres connection url", "the backend cannot parse its POSTGRES_URL", "config.database_url_invalid", CONVEX),
    _p("convex.no_tls", r"server does not support TLS", "the backend requires TLS and the Postgres offers none", "convex_self.ssl_required_unsupported", CONVEX),
    _p("convex.db_timeout", r"Database Timeout \(Postgres\)|\bPostgres timeout\b", "the backend's Postgres connection timed out", "net.connect_timeout", CONVEX),
    _p("convex.refused", r"error connecting to server: Connection refused", "nothing listens where the backend's POSTGRES_URL points", "net.connection_refused", CONVEX),
    _p("convex.lookup", r"error connecting to server: failed to lookup address information", "the backend cannot resolve its Postgres host", "net.dns_not_found", CONVEX),
    _p("convex.read_only", r"database does not allow writes|persistence is read-only", "the backend's Postgres target refuses writes", "convex_self.target_read_only", CONVEX),
    _p("convex.db_missing", r"db error: FATAL: database \"(?P<db>[^\"]+)\" does not exist", "the backend's database does not exist", "convex_self.instance_database_missing", CONVEX),
    # crates/postgres/src/lib.rs, crates/mysql/src/v5/persistence.rs; common/src/errors.rs `Lease Lost`
    _p("convex.lease", r"failed to acquire lease: Already acquired with higher timestamp|\bLease Lost\b", "two backends run on one database (one writer allowed)", "convex_self.two_backends_one_database", CONVEX),
    # crates/local_backend/src/config.rs convex_origin_url / convex_site_url
    _p("convex.origin_scheme", r"(?P<which>Origin|Site) url should start with https:// or http://(?: but got '(?P<value>[^']*)')?", "the backend refuses an origin without https:// or http://", "convex_self.origin_without_scheme", CONVEX, flags=0),
    _p("convex.database_url_deprecated", r"Warning: DATABASE_URL is deprecated", "the backend reads the deprecated DATABASE_URL", "", CONVEX, kind="warning"),
    _p("convex.connected", r"Connected to Postgres database: ?(?P<instance>\S*)", "the backend connected to Postgres", "", CONVEX, kind="ok"),
    # Postgres itself (any driver prints the server's words)
    _p("pg.auth_failed", r"password authentication failed for user \"?(?P<user>[^\"\s]*)", "Postgres rejected a password", "pg.auth_failed", "facts/fly.md F10"),
    _p("pg.too_many", r"sorry, too many clients already|remaining connection slots are reserved|too many connections for role", "Postgres ran out of connection slots", "pg.too_many_connections", "facts/fly.md F12"),
    _p("pg.db_missing", r"(?<!db error: FATAL: )database \"(?P<db>[^\"]+)\" does not exist", "a database does not exist", "pg.database_missing", "facts/fly.md §7"),
    # postgres-flex (Fly Postgres) machine logs
    _p("flex.readonly", r"readonly mode enabled|readonly\.lock` detected|readonly\.lock detected", "the Postgres volume is over 90 % full: the cluster is read-only", "pg.read_only_database", FLEX),
    _p("flex.zombie", r"Zombie lock detected|unable to confirm we are the true primary", "the Postgres primary lost quorum (zombie): read-only", "pg.read_only_database", FLEX),
    _p("flex.operator_password", r"user password does not match the .?OPERATOR_PASSWORD.? secret", "the postgres user's password differs from OPERATOR_PASSWORD", "pg.auth_failed", FLEX),
    _p("flex.scale_to_zero", r"Current connection count is \d+", "scale to zero is on: the Postgres machine stops when idle", "fly.machines_stopped", FLEX, kind="warning"),
    # Fly Proxy: codes as flyctl prints them (`error.code="PR04"`) or bracketed
    _p("proxy.no_candidate", r"could not find a good candidate within \d+ attempts at load balancing", "Fly Proxy found no healthy machine to send the connection to", "fly.machines_stopped", PROXY),
    _p("proxy.no_healthy", r"(?:error\.code=\"?|\[)PR0[134]\b", "Fly Proxy: no healthy or candidate machines (PR01/PR03/PR04)", "fly.machines_stopped", PROXY, flags=0),
    _p("proxy.wake", r"(?:error\.code=\"?|\[)PM(?:0[1-9]|1[01])\b", "Fly Proxy could not wake or reach a stopped machine (PM0x)", "fly.machines_stopped", PROXY, flags=0),
    _p("proxy.refused", r"(?:error\.code=\"?|\[)PC0[12]\b", "the machine refused the proxy's connection: the app does not listen on 0.0.0.0:<internal_port>", "net.connection_refused", PROXY, flags=0),
    _p("proxy.timeout", r"(?:error\.code=\"?|\[)PC05\b", "connections from Fly Proxy to the machine time out", "net.connect_timeout", PROXY, flags=0),
)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# flyctl's log line: `<time> <provider>[<instance>] <region> [<level>] <message>` (flyctl logs presenter)
_LINE = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?)\s+"
    r"(?:(?P<provider>[A-Za-z_-]+)?(?:\[(?P<instance>[0-9a-fA-F]+)\])?\s+)?"
    r"(?P<region>[a-z]{3})\s+\[(?P<level>\w+)\]\s?(?P<msg>.*)$"
)


def parse_line(line: str) -> dict:
    line = _ANSI.sub("", line).rstrip("\r\n")
    m = _LINE.match(line)
    if not m:
        return {"ts": "", "provider": "", "instance": "", "region": "", "level": "", "msg": line}
    return {k: v or "" for k, v in m.groupdict().items()}


def scan(text: str) -> list[dict]:
    """Every known failure string in `text`, grouped by pattern, in order of first
    appearance: {id, meaning, cause, kind, count, first_seen, last_seen,
    instances, regions, examples (redacted lines), source}."""
    found: dict[str, dict] = {}
    for raw in text.splitlines():
        if not raw.strip():
            continue
        entry = parse_line(raw)
        msg = entry["msg"]
        for pat in PATTERNS:
            if not pat.regex.search(msg):
                continue
            hit = found.get(pat.id)
            if hit is None:
                hit = found[pat.id] = {
                    "id": pat.id,
                    "meaning": pat.meaning,
                    "cause": pat.cause,
                    "kind": pat.kind,
                    "count": 0,
                    "first_seen": entry["ts"],
                    "last_seen": entry["ts"],
                    "instances": [],
                    "regions": [],
                    "examples": [],
                    "source": pat.source,
                }
            hit["count"] += 1
            hit["last_seen"] = entry["ts"] or hit["last_seen"]
            for key, field in (("instance", "instances"), ("region", "regions")):
                if entry[key] and entry[key] not in hit[field]:
                    hit[field].append(entry[key])
            if len(hit["examples"]) < MAX_EXAMPLES:
                line = redact(_ANSI.sub("", raw).strip())
                hit["examples"].append(line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…")
    return list(found.values())


def summary(matches: list[dict]) -> str:
    bad = [m for m in matches if m["kind"] != "ok"]
    if not bad:
        return "no known failure in the logs" + (" (the backend connected to Postgres)" if matches else "")
    head = ", ".join(f"{m['id']} ×{m['count']}" for m in bad[:4])
    return f"{len(bad)} known failure(s) in the logs: {head}" + (" …" if len(bad) > 4 else "")


def for_verdict(matches: list[dict], cause_id: str | None) -> dict:
    """The log evidence attached to a verdict: the matches, those that point at
    the verdict's own cause first."""
    ordered = sorted(matches, key=lambda m: (m["cause"] != cause_id if cause_id else False, m["kind"] == "ok"))
    return {
        "agrees": bool(cause_id) and any(m["cause"] == cause_id for m in matches),
        "matches": [{k: m[k] for k in ("id", "meaning", "cause", "count", "last_seen", "instances", "examples")} for m in ordered],
    }

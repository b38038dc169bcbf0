"""Two vantage points, one verdict: the walk from here and the walk from an
app's machine, compared. Where exactly one side reaches Postgres, the step at
which the other side stops names the cause of the difference."""

from __future__ import annotations

from ..urls import UrlError, classify_host, parse_pg_url


def _step(report: dict, node: str) -> dict | None:
    for s in report.get("steps") or []:
        if s.get("node") == node:
            return s
    return None


def reached(report: dict) -> bool:
    s = _step(report, "pg.connect")
    return bool(s and s.get("status") in ("pass", "warn"))


def cause_of(report: dict) -> str | None:
    rc = report.get("root_cause")
    return rc.get("id") if isinstance(rc, dict) else None


def pg_host(report: dict) -> str:
    v = (report.get("inputs") or {}).get("database_url") or {}
    try:
        return parse_pg_url(str(v.get("value", ""))).host
    except (UrlError, ValueError):
        return ""


def side(report: dict) -> dict:
    return {"verdict": report.get("verdict"), "cause": cause_of(report), "reached_postgres": reached(report), "host": pg_host(report)}


def _private(host: str) -> bool:
    try:
        return classify_host(host).kind == "fly_private"
    except Exception:
        return False


def view(local: dict, remote: dict) -> dict:
    """What the comparison rules (tree/compare.py) read of the two reports."""
    loc, rem = side(local), side(remote)
    host = rem["host"] or loc["host"] or "the database host"
    return {
        "here": loc,
        "machine": rem,
        "machine_steps": {s.get("node"): s for s in remote.get("steps") or [] if isinstance(s, dict)},
        "host": host,
        "host_private": _private(host),
        "here_host_private": _private(loc["host"]),
    }


def compare(local: dict, remote: dict, app: str, machine: str, region: str) -> dict:
    """{agree, cause, where, explanation, local, remote, rule}. `cause` is a catalog id."""
    from ..tree.compare import decide

    v = view(local, remote)
    loc, rem = v["here"], v["machine"]
    rule, cause, where = decide(v)
    via_proxy = loc["host"] in ("127.0.0.1", "localhost", "::1") and _private(rem["host"])  # `fly proxy` on this side
    same_url = via_proxy or not (loc["host"] and rem["host"]) or loc["host"] == rem["host"]
    dns = v["machine_steps"].get("fly.dns") or v["machine_steps"].get("pg.dns") or {}
    words = {
        "there": f"{app}'s machine {machine} in {region}",
        "host": v["host"],
        "here_host": loc["host"] or v["host"],
        "url_note": "" if same_url else f" Note: the machine's URL points at {rem['host']}, yours at {loc['host']}.",
        "what": f"both end at {loc['cause']}" if loc["cause"] else f"both are {loc['verdict']}",
        "here_cause": loc["cause"],
        "machine_cause": rem["cause"],
        "here_end": loc["cause"] or loc["verdict"],
        "machine_end": rem["cause"] or rem["verdict"],
        "tcp_outcome": (v["machine_steps"].get("pg.tcp") or {}).get("outcome", ""),
        "dns_why": "the database app is not on that machine's private network (another organization or a custom network), or has no address there"
        if cause == "fly.app_not_found"
        else (dns.get("summary") or cause),
    }
    return {
        "local": loc,
        "remote": rem,
        "machine": machine,
        "region": region,
        "agree": rule.agree,
        "cause": cause,
        "where": where,
        "explanation": rule.text.format_map(words),
        "rule": rule.id,
    }

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


def compare(local: dict, remote: dict, app: str, machine: str, region: str) -> dict:
    """{agree, cause, where, explanation, local, remote}. `cause` is a catalog id."""
    loc, rem = side(local), side(remote)
    out = {"local": loc, "remote": rem, "machine": machine, "region": region}
    there = f"{app}'s machine {machine} in {region}"
    host = rem["host"] or loc["host"] or "the database host"

    def verdict(agree: bool, cause: str | None, where: str, text: str) -> dict:
        return {**out, "agree": agree, "cause": cause, "where": where, "explanation": text}

    if loc["verdict"] == rem["verdict"] and loc["cause"] == rem["cause"]:
        what = f"both end at {loc['cause']}" if loc["cause"] else f"both are {loc['verdict']}"
        return verdict(True, loc["cause"], "both", f"Here and on {there}: {what}.")

    via_proxy = loc["host"] in ("127.0.0.1", "localhost", "::1") and _private(rem["host"])  # `fly proxy` on this side
    same_url = via_proxy or not (loc["host"] and rem["host"]) or loc["host"] == rem["host"]
    url_note = "" if same_url else f" Note: the machine's URL points at {rem['host']}, yours at {loc['host']}."

    if loc["reached_postgres"] and not rem["reached_postgres"]:
        # a 6PN name is asked of the machine's 6PN resolver (fly.dns), any other of the system's (pg.dns)
        dns = _step(remote, "fly.dns") or _step(remote, "pg.dns")
        tcp, conn = _step(remote, "pg.tcp"), _step(remote, "pg.connect")
        if dns and dns.get("status") == "fail" and _private(host):
            cause = rem["cause"] or "fly.app_not_found"
            why = (
                "the database app is not on that machine's private network (another organization or a custom network), or has no address there"
                if cause == "fly.app_not_found"
                else (dns.get("summary") or cause)
            )
            return verdict(False, cause, "machine", f"Postgres answers from here, but {there} cannot resolve {host}: {why}." + url_note)
        if tcp and tcp.get("status") == "fail":
            kind = tcp.get("outcome", "")
            cause = "net.connection_refused" if kind.startswith("refused") else "net.connect_timeout"
            return verdict(
                False,
                cause,
                "machine",
                f"Postgres answers from here, but from {there} the connection to {host} is {'refused' if cause == 'net.connection_refused' else 'dropped'} ({kind}): "
                "that machine's network path is broken (route, region, firewall)." + url_note,
            )
        if rem["cause"] in ("pg.auth_failed", "pg.password_missing") or (conn and conn.get("status") == "fail" and rem["cause"] is None):
            return verdict(
                False,
                "fly.secret_not_deployed",
                "machine",
                f"Your URL logs in, the one {there} uses does not ({rem['cause']}): the machine runs with another DATABASE_URL "
                "(a secret staged but not deployed, or an old value)." + url_note,
            )
        return verdict(False, rem["cause"], "machine", f"Postgres answers from here but not from {there}: {rem['cause'] or rem['verdict']}." + url_note)

    if rem["reached_postgres"] and not loc["reached_postgres"]:
        # outside the 6PN with no way in (no flyctl, no WireGuard); a failing `fly proxy` names its own cause
        if loc["cause"] == "fly.private_host_outside_6pn" or (_private(loc["host"]) and not loc["cause"]):
            return verdict(
                False,
                "fly.private_host_outside_6pn",
                "local",
                f"{there} reaches Postgres; this computer is outside Fly's private network, so {loc['host'] or host} cannot work here "
                "(use `fly proxy` or WireGuard). The app itself is fine.",
            )
        return verdict(
            False, loc["cause"], "local", f"{there} reaches Postgres; only this computer fails: {loc['cause'] or loc['verdict']}. The app itself is fine." + url_note
        )

    # neither (or both) reached: the app's own view decides
    cause = rem["cause"] or loc["cause"]
    return verdict(
        False,
        cause,
        "machine" if rem["cause"] else "local",
        f"Here: {loc['cause'] or loc['verdict']}; on {there}: {rem['cause'] or rem['verdict']}. The machine's view is the app's." + url_note,
    )

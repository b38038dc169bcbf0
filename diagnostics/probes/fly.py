"""The Fly layer: is this on the 6PN, and what the 6PN's DNS says about the app.

Name shapes and TXT formats: ../shared/facts/fly.md §1.3 (AAAA) and §1.4 (TXT).
AAAA answers only list started machines; `all.vms.<app>.internal` also lists
stopped ones, which is how a stopped database is told apart from a typo.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..model import FAIL, PASS, Outcome
from . import probe
from .net import tcp_connect

MACHINE_RESOLVER = "fdaa::3"  # fly.md §1.1


# ---------------------------------------------------------------- the 6PN resolver


def parse_resolver(text: str) -> tuple[str, int]:
    """'fdaa::3', '[fdaa::3]:5353', '10.0.0.1:53', 'fdaa:0:18::3' -> (address, port)."""
    t = text.strip()
    m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d+))?", t)
    if m:
        addr, port = m.group(1), int(m.group(2) or 53)
    elif t.count(":") == 1:
        addr, _, p = t.partition(":")
        if not p.isdigit():
            raise ValueError(f"bad port in {t!r}")
        port = int(p)
    else:
        addr, port = t, 53
    ipaddress.ip_address(addr)  # ValueError for anything but an IP address
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return addr, port


def wireguard_dns(path: str) -> str | None:
    """The first address of a WireGuard config's `DNS =` line (fly.md §1.1)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "dns":
            first = value.split(",")[0].strip()
            if first:
                return first
    return None


def sixpn_resolver(ctx) -> tuple[str, int, str] | None:
    """(address, port, where it came from), or None when no 6PN resolver is known."""
    explicit = ctx.inputs.text("resolver")
    if explicit:
        a, p = parse_resolver(explicit)
        return a, p, "--resolver"
    wg = ctx.inputs.text("wireguard_config")
    if wg:
        dns = wireguard_dns(wg)
        if dns:
            a, p = parse_resolver(dns)
            return a, p, f"DNS = line of {wg}"
    if ctx.facts.get("where") == "fly_machine":
        return MACHINE_RESOLVER, 53, "inside a Fly machine"
    return None


# ---------------------------------------------------------------- queries


@dataclass
class Answer:
    name: str
    rdtype: str
    status: str  # ok | empty | nxdomain | timeout | unreachable | truncated | error
    values: list[str] = field(default_factory=list)
    tcp: bool = False
    detail: str = ""

    def brief(self) -> str:
        if self.status == "ok":
            return ", ".join(self.values[:6]) + (" …" if len(self.values) > 6 else "") + (" (TCP)" if self.tcp else "")
        return self.status + (f": {self.detail}" if self.detail else "")


async def query(name: str, rdtype: str, server: str, port: int, timeout: float) -> Answer:
    """One query to the 6PN resolver over UDP, retried over TCP when truncated."""
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdatatype

    q = dns.message.make_query(name, rdtype)
    try:
        resp, used_tcp = await asyncio.wait_for(
            dns.asyncquery.udp_with_fallback(q, server, timeout=timeout, port=port), timeout + 0.2
        )
    except (asyncio.TimeoutError, dns.exception.Timeout):
        return Answer(name, rdtype, "timeout", detail=f"no answer from {server} within {timeout:g} s")
    except OSError as exc:
        return Answer(name, rdtype, "unreachable", detail=f"{exc.strerror or exc}")
    except dns.exception.DNSException as exc:  # not a DNS message, or not the answer to this query
        return Answer(name, rdtype, "error", detail=f"{type(exc).__name__}: {exc}"[:200])
    if resp.flags & dns.flags.TC:  # still truncated over TCP: the records never arrived
        return Answer(name, rdtype, "truncated", tcp=used_tcp, detail="the TC bit set over UDP and over TCP")
    if resp.rcode() == dns.rcode.NXDOMAIN:
        return Answer(name, rdtype, "nxdomain", tcp=used_tcp)
    if resp.rcode() != dns.rcode.NOERROR:
        return Answer(name, rdtype, "error", tcp=used_tcp, detail=dns.rcode.to_text(resp.rcode()))
    want = dns.rdatatype.from_text(rdtype)
    values: list[str] = []
    for rrset in resp.answer:
        if rrset.rdtype != want:
            continue
        for rr in rrset:
            if want == dns.rdatatype.TXT:
                values.append(b"".join(rr.strings).decode(errors="replace"))
            else:
                values.append(rr.to_text())
    if want == dns.rdatatype.TXT and values:
        # fly.md §1.4: join every string of every record before splitting
        values = ["".join(values)]
    return Answer(name, rdtype, "ok" if values else "empty", values, used_tcp)


def split_list(a: Answer) -> list[str]:
    """`"app1,app2"` -> ['app1', 'app2'] (fly.md §1.4)."""
    if a.status != "ok":
        return []
    return [p.strip() for p in a.values[0].split(",") if p.strip()]


def split_vms(a: Answer) -> list[tuple[str, str]]:
    """`"<id> <region>,<id> <region>"` -> [(id, region), ...] (fly.md §1.4)."""
    out = []
    for entry in split_list(a):
        parts = entry.split()
        out.append((parts[0], parts[1] if len(parts) > 1 else ""))
    return out


# ---------------------------------------------------------------- probes


@probe("fly.vantage")
async def vantage(ctx) -> Outcome:
    if "where" not in ctx.facts:
        from .context import locate

        ctx.facts.update(locate(ctx).facts)
    where = ctx.facts.get("where", "")
    res = sixpn_resolver(ctx)
    evidence = {"where": where, "resolver": f"[{res[0]}]:{res[1]} ({res[2]})" if res else "", "host": ctx.pg_url.host}
    if res:
        return Outcome("in_6pn", PASS, f"6PN resolver [{res[0]}]:{res[1]} ({res[2]})", evidence)
    if ctx.facts.get("flyctl_requested_missing"):  # outside the 6PN the walk needs the flyctl it was pointed at
        path = ctx.inputs.text("flyctl")
        evidence["flyctl"] = path
        return Outcome("flyctl_missing", FAIL, f"--flyctl {path} is not an executable", evidence)
    if ctx.facts.get("flyctl_path"):
        return Outcome("flyctl", PASS, f"not on the 6PN; going through flyctl ({ctx.facts['flyctl_path']})", evidence)
    return Outcome("outside", FAIL, f"not on the 6PN and no flyctl: {ctx.pg_url.host} cannot resolve here", evidence)


@probe("fly.dns")
async def sixpn_dns(ctx) -> Outcome:
    """Ask the 6PN resolver about the URL's host and its app, all at once."""
    server, port, origin = sixpn_resolver(ctx) or (MACHINE_RESOLVER, 53, "default")
    host = ctx.pg_url.host
    hc = ctx.host_class
    app = ctx.pg_app
    t = ctx.timeout
    ev: dict = {"resolver": f"[{server}]:{port}", "resolver_from": origin, "host": host}

    if hc.flavour == "6pn_ip":
        return Outcome("resolved", PASS, f"{host} is a 6PN address", ev, {"pg_addresses": [host]})

    wanted: list[tuple[str, str]] = [(host, "AAAA")]
    if app:
        more = [
            (f"{app}.internal", "AAAA"),
            (f"top1.nearest.of.{app}.internal", "AAAA"),
            (f"{app}.flycast", "AAAA"),
            ("_apps.internal", "TXT"),
            (f"vms.{app}.internal", "TXT"),
            (f"all.vms.{app}.internal", "TXT"),
            (f"regions.{app}.internal", "TXT"),
        ]
        if ctx.facts.get("machine_region"):  # this machine's region: is there a copy nearby?
            more.append((f"{ctx.facts['machine_region']}.{app}.internal", "AAAA"))
        wanted += [q for q in more if q not in wanted]
    answers = await asyncio.gather(*(query(n, r, server, port, t) for n, r in wanted))
    by = {(a.name, a.rdtype): a for a in answers}
    ev["queries"] = {f"{a.rdtype} {a.name}": a.brief() for a in answers}
    main = by[(host, "AAAA")]

    if main.status == "ok":
        return Outcome(
            "resolved",
            PASS,
            f"{host} → {', '.join(main.values[:3])} on the 6PN",
            ev,
            {"pg_addresses": main.values, "sixpn_resolver": server},
        )
    if all(a.status in ("timeout", "unreachable", "truncated", "error") for a in answers):
        # no usable answer at all: silent, unreachable, or answering garbage
        ev["detail"] = main.detail
        says = "does not answer" if main.status in ("timeout", "unreachable") else "gives no usable answer"
        return Outcome("no_resolver", FAIL, f"the 6PN resolver [{server}]:{port} {says} ({main.brief()})", ev)
    if not app:
        return Outcome("not_found", FAIL, f"{host}: {main.status} on the 6PN", ev)

    apps = split_list(by[("_apps.internal", "TXT")])
    started = split_vms(by[(f"vms.{app}.internal", "TXT")])
    every = split_vms(by[(f"all.vms.{app}.internal", "TXT")])
    regions = split_list(by[(f"regions.{app}.internal", "TXT")])
    internal_ok = by[(f"{app}.internal", "AAAA")].status == "ok"
    ev.update(apps_on_6pn=apps, started_machines=[f"{i} {r}" for i, r in started], all_machines=[f"{i} {r}" for i, r in every])

    if app not in apps and not every and not internal_ok:
        shown = ", ".join(apps) if apps else "(none listed)"
        ev["apps_existing"] = shown
        return Outcome("app_not_found", FAIL, f"no app {app} on this 6PN; apps here: {shown}", ev, {"apps_existing": shown})
    if hc.flavour == "flycast":
        ev["flycast"] = main.status
        return Outcome("flycast_no_ip", FAIL, f"{host} has no AAAA: {app} has no Flycast (private IPv6) address", ev)
    if not started and not internal_ok:
        stopped = [(i, r) for i, r in every if (i, r) not in started]
        ids = " ".join(i for i, _ in stopped)
        ev["stopped_machines"] = ", ".join(f"{i} ({r})" for i, r in stopped) or "(unknown)"
        facts = {"stopped_machine_ids": ids, "stopped_machine_id": stopped[0][0] if stopped else "<MACHINE_ID>"}
        ev["stopped_regions"] = ", ".join(sorted({r for _, r in stopped if r}))
        return Outcome("machines_stopped", FAIL, f"{app} has no started machine; stopped: {ev['stopped_machines']}", ev, facts)
    hint = f"{app} has started machines in: {', '.join(regions) or '?'}" if regions else ""
    ev["hint"] = hint or "the app exists, but this name has no address"
    return Outcome("not_found", FAIL, f"{host}: {main.status} on the 6PN; {hint}".rstrip("; "), ev)


@probe("fly.port_check")
async def port_check(ctx) -> Outcome:
    host, port = ctx.pg_target()
    addr = ctx.facts.get("pg_address") or host
    if ctx.facts.get("proxied"):  # a refused local `fly proxy` port says nothing about the cluster's ports
        return Outcome("nothing", FAIL, f"the fly proxy port {port} refused the connection", {"url_port": port, "proxied": True})
    tried = {}
    for other in (5432, 5433, 6432):
        if other == port:
            continue
        c = await tcp_connect(addr, other, ctx.timeout)
        tried[str(other)] = c.status
        if c.status == "ok":
            return Outcome(
                "other_port", FAIL, f"{port} refused, but {other} answers", {"url_port": port, "open_port": other, "tried": tried}, {"open_port": other}
            )
    return Outcome("nothing", FAIL, f"nothing answers on {port} nor the cluster's other ports", {"url_port": port, "tried": tried})

"""The Fly layer: is this on the 6PN, and what the 6PN says about the app."""

from __future__ import annotations

from ..model import FAIL, PASS, Outcome
from . import probe
from .net import tcp_connect


@probe("fly.vantage")
async def vantage(ctx) -> Outcome:
    where = ctx.facts.get("where", "")
    resolver = ctx.inputs.text("resolver")
    evidence = {"where": where, "resolver": resolver or "", "host": ctx.pg_url.host}
    if where == "fly_machine" or resolver:
        return Outcome("in_6pn", PASS, "on the 6PN" + (f" (resolver {resolver})" if resolver else ""), evidence)
    if ctx.facts.get("flyctl_path"):
        return Outcome("flyctl", FAIL, "not on the 6PN; flyctl can proxy", evidence)
    return Outcome("outside", FAIL, f"not on the 6PN and no flyctl: {ctx.pg_url.host} cannot resolve here", evidence)


@probe("fly.port_check")
async def port_check(ctx) -> Outcome:
    host, port = ctx.pg_target()
    addr = ctx.facts.get("pg_address") or host
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

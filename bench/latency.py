"""Time to verdict at a distance: the Postgres and Convex scenarios again with
a delaying proxy (tests/delay_proxy.py) in front of the server, at 20 ms and
80 ms round trip, fcp-doctor side by side with psql / `npx convex network-test`
on the same link, and the connections and round trips each made, counted by
the proxy."""

from __future__ import annotations

import os
import re
import time
from urllib.parse import urlsplit

from . import measure, verdict
from .alternatives import ALTERNATIVES, BOUND_S, first_line, named
from .lab import DelayProxy

RTTS_MS = [float(x) for x in os.environ.get("BENCH_LATENCIES", "20,80").split(",") if x.strip()]
RUNS = int(os.environ.get("BENCH_LATENCY_RUNS", "2"))
LAYERS = ("postgres", "convex")


def why_not(scenario, env) -> str | None:
    """Why a scenario is not run through the proxy, or None."""
    if scenario.slow:
        return "waits on a timeout: distance adds nothing to it"
    if env.wrap:
        return "runs in a network namespace of its own (DNS, black hole): no proxy in the path"
    if target(env) is None:
        return "no server to put the proxy in front of"
    if re.search(r"nothing listening", scenario.name):
        return "the proxy accepts every connection: a refusal cannot cross it"
    return None


def target(env) -> tuple[str, int] | None:
    u = urlsplit(env.url or env.convex_url or "")
    if not u.hostname or not u.port:
        return None
    return u.hostname, u.port


def through(env, host: str, port: int, new_port: int):
    """The scenario's inputs with the server's port replaced by the proxy's
    (the proxy listens on the same host, so TLS names and pg_hba rules hold)."""
    netloc = re.compile(r"(?<=[@/])(\[?" + re.escape(host) + r"\]?):" + str(port) + r"\b")

    def sub(s):
        return netloc.sub(lambda m: f"{m.group(1)}:{new_port}", s) if isinstance(s, str) else s

    return type(env)(
        fcp_args=[sub(a) for a in env.fcp_args],
        url=sub(env.url),
        convex_url=sub(env.convex_url),
        wrap=env.wrap,
        env=env.env,
    )


def link(rtt_ms: float) -> dict:
    """The proxy's own added round trip at this setting, measured before use."""
    return DelayProxy(one_way_delay_s=rtt_ms / 2000).measure()


def run_all(scenarios, lab, log) -> dict:
    picked = [s for s in scenarios if s.layer in LAYERS and s.build is not None]
    t0 = time.monotonic()
    out = {"rtts_ms": RTTS_MS, "runs": RUNS, "links": {}, "rows": []}
    if not picked:
        return out
    for rtt in RTTS_MS:
        out["links"][str(rtt)] = link(rtt)
        m = out["links"][str(rtt)]
        log(f"  link {rtt:.0f} ms: the proxy adds {m['added_round_trip_ms']} ms a round trip (max {m['added_round_trip_max_ms']})")
    for s in picked:
        row = {"name": s.name, "layer": s.layer, "expect": s.expect or "healthy", "at": {}}
        try:
            env = s.build(lab)
        except Exception as exc:  # noqa: BLE001 - a row that says so
            row["skipped"] = f"could not build: {type(exc).__name__}: {first_line(str(exc))}"
            out["rows"].append(row)
            continue
        row["skipped"] = why_not(s, env)
        if row["skipped"]:
            out["rows"].append(row)
            continue
        host, port = target(env)
        waits: dict[str, float] = {}  # a tool still waiting at the bound: not run again at a longer distance
        for rtt in RTTS_MS:
            row["at"][str(rtt)] = _at(s, env, lab, host, port, rtt, waits)
        out["rows"].append(row)
        log(f"  {s.name:<32} " + "  ".join(_brief(rtt, row["at"][str(rtt)]) for rtt in RTTS_MS))
    out["seconds"] = round(time.monotonic() - t0, 1)
    return out


def _at(s, env, lab, host: str, port: int, rtt: float, waits: dict) -> dict:
    proxy = DelayProxy(connect_rtt=True)
    _, pport = proxy.start(host, port, rtt / 2000)
    try:
        e = through(env, host, port, pport)
        res = {"fcp_doctor": _runs(proxy, lambda: _fcp(s, e, lab))}
        for key in s.alternatives:
            alt = ALTERNATIVES[key]
            if alt.run is None or getattr(e, alt.needs, None) is None:
                continue
            if key in waits:
                res[key] = {"waiting": True, "bound_s": alt.bound or BOUND_S, "at_ms": waits[key]}
                continue
            res[key] = _runs(proxy, lambda a=alt: _alt(s, a, e, lab))
            if res[key]["waiting"]:
                waits[key] = rtt
        return res
    finally:
        proxy.stop()


def _fcp(s, e, lab) -> tuple[measure.Run, bool]:
    r = measure.run(verdict.fcp_cmd(e), env=verdict.fcp_env(lab, e.env), cwd=lab.home, bound=120)
    return r, verdict.judge(s, r)[0]


def _alt(s, alt, e, lab) -> tuple[measure.Run, bool | None]:
    r = alt.run(e, lab, alt.bound or BOUND_S)
    ok = (r.rc == 0) if s.expect is None else named(s.names.get(alt.key), r)
    return r, ok


def _runs(proxy, once) -> dict:
    runs = []
    for _ in range(RUNS):
        proxy.reset()
        r, ok = once()
        st = proxy.stats()
        runs.append({"wall_s": r.wall_s, "rc": r.rc, "ok": ok, "timed_out": r.timed_out, "connections": st["connections"], "round_trips": st["round_trips"]})
        if r.timed_out:  # still waiting at the bound: once is enough
            break
    last = runs[-1]
    return {
        "waiting": last["timed_out"],
        **measure.stats([x["wall_s"] for x in runs]),
        "ok": sum(bool(x["ok"]) for x in runs),
        "connections": last["connections"],
        "round_trips": last["round_trips"],
        "counts_vary": len({(x["connections"], x["round_trips"]) for x in runs}) > 1,
        "runs": runs,
    }


def _brief(rtt: float, at: dict) -> str:
    parts = []
    for key, v in at.items():
        label = "fcp" if key == "fcp_doctor" else key.split()[0]
        if v.get("waiting"):
            parts.append(f"{label} >{v.get('bound_s', v.get('max_s', 0)):.0f}s (still waiting)")
            continue
        parts.append(f"{label} {v['median_s']:.2f}s {v['connections']}c/{v['round_trips']}rt")
    return f"[{rtt:.0f}ms] " + ", ".join(parts)

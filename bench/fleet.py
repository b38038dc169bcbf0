"""`fcp-doctor fleet` on 1, 8 and 32 machines of one app: the stand-in flyctl
(tests/fake_flyctl, its machines network namespaces chrooted into a
Python-less Debian root) answering every call 0.3 s late, as an API far away
does. The time to the fleet table, the flyctl calls it made, and its peak RSS."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter

from . import measure, verdict
from .alternatives import first_line

SIZES = [int(x) for x in os.environ.get("BENCH_FLEET_SIZES", "1,8,32").split(",") if x.strip()]
DELAY_S = float(os.environ.get("BENCH_FLEET_DELAY", "0.3"))
APP = "bench-web"


def _mid(n: int) -> str:
    return f"{0x148e4d55f36000 + n:014x}"  # machine ids are 14 hex digits (fly.md)


def run_all(lab, log) -> dict:
    t0 = time.monotonic()
    out = {"sizes": SIZES, "flyctl_delay_s": DELAY_S, "rows": []}
    if os.geteuid() != 0:
        out["skipped"] = "network namespaces and chroot need root"
        return out
    from dist_support import debian_root, dist_executable
    from fake_flyctl.machines import Fleet
    from pgcluster import PgCluster, make_tempdir

    root, why = debian_root()
    if root is None:
        out["skipped"] = f"no Debian root for the machines: {why}"
        return out
    exe = dist_executable()
    for n in SIZES:
        f = Fleet(root, make_tempdir("fcpbench-fleet-"))
        pg = None
        try:
            pg = PgCluster(listen=f"{f.db_addr},127.0.0.1", name=f"bench-fleet{n}").init().start()
            url = pg.url(host="bench-pg.flycast", sslmode="disable")
            for i in range(n):
                f.add_machine(APP, _mid(i), ("iad", "lhr", "syd", "fra")[i % 4], {"DATABASE_URL": url}, {"bench-pg.flycast": f.db_addr})
            f.state["delay_s"] = DELAY_S
            fly = f.executable()
            env = verdict.fcp_env(lab)
            cmd = [sys.executable, "-m", "tui", "fleet", "-a", APP, "--json", "--flyctl", str(fly), "--exe", str(exe), "--timeout", "5"]
            r = measure.run(cmd, env=env, cwd=lab.home, bound=600)
            calls = f.calls()
            try:
                doc = json.loads(r.stdout)
                verdicts = Counter(x["verdict"] for x in doc["machines"])
            except (ValueError, KeyError, TypeError):
                doc, verdicts = None, Counter()
            row = {
                "machines": n,
                "wall_s": r.wall_s,
                "rc": r.rc,
                "maxrss_kb": r.maxrss_kb,
                "flyctl_calls": len(calls),
                "calls_per_machine": round(sum(c[:2] != ["machines", "list"] for c in calls) / n, 2),  # the one listing apart
                "calls_by_command": dict(Counter(" ".join(c[:2]) for c in calls).most_common()),
                "verdicts": dict(verdicts),
                "all_healthy": verdicts.get("healthy") == n,
                "error": None if doc else first_line(r.stderr) or f"exit {r.rc}",
            }
            out["rows"].append(row)
            log(f"  fleet of {n:>2}: {r.wall_s:.1f}s, {len(calls)} flyctl calls, {dict(verdicts)}")
        except Exception as exc:  # noqa: BLE001 - a row that says so
            out["rows"].append({"machines": n, "error": f"{type(exc).__name__}: {first_line(str(exc))}"})
            log(f"  fleet of {n:>2}: {out['rows'][-1]['error']}")
        finally:
            if pg:
                pg.destroy()
            f.destroy()
    out["seconds"] = round(time.monotonic() - t0, 1)
    return out

"""An emulated Fly 6PN for tests: a network namespace with `fdaa::3` on its
loopback served by a real dnsmasq (AAAA and TXT records shaped like Fly's,
fly.md §1.3/§1.4), a real PostgreSQL on an fdaa: address, /etc/netns/<ns>/
resolv.conf and hosts as a machine has them (fly.md §1.1), and a black-holed
6PN prefix. Everything is torn down by `close()`, also after a failed test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

from pgcluster import PG_BIN, OS_USER, PgCluster

RESOLVER = "fdaa::3"
MACHINE_IP = "fdaa:0:1:a7b:1::2"  # this machine (FLY_PRIVATE_IP)
PG_IP = "fdaa:0:1:a7b:2::2"  # the Postgres machine's 6PN address
FLYCAST_IP = "fdaa:0:1::5"  # the Postgres app's Flycast address (same server in the emulation)
BLACKHOLE_IP = "fdaa:0:dead::2"  # routed into a veth where packets vanish


def sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), check=check, capture_output=True, text=True)


class NsPgCluster(PgCluster):
    """A PgCluster whose server runs inside a network namespace."""

    def __init__(self, ns: str, **kw):
        self.ns = ns
        super().__init__(**kw)

    def _ctl(self, *args: str) -> None:
        cmd = ["ip", "netns", "exec", self.ns]
        if os.geteuid() == 0:
            cmd += ["runuser", "-u", OS_USER, "--"]
        subprocess.run(cmd + [str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), *args], check=True, capture_output=True, text=True)

    def start(self) -> "NsPgCluster":
        self._ctl("-l", str(self.log), "-w", "-t", "30", "start")
        self.started = True
        return self

    def stop(self, mode: str = "immediate") -> None:
        if self.started:
            try:
                self._ctl("-m", mode, "-w", "stop")
            except subprocess.CalledProcessError:
                pass
            self.started = False


class SixPN:
    def __init__(self, aaaa: dict[str, list[str]], txt: dict[str, list[str]]):
        self.ns = f"fcp6pn-{uuid.uuid4().hex[:8]}"
        self.etc = Path("/etc/netns") / self.ns
        self.aaaa = aaaa
        self.txt = txt  # name -> the record's character-strings (each <= 255 bytes)
        self.dnsmasq: subprocess.Popen | None = None
        self.pg: NsPgCluster | None = None
        self.tmp = Path(__import__("tempfile").mkdtemp(prefix="fcp-6pn-"))

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "SixPN":
        sh("ip", "netns", "add", self.ns)
        n = ["ip", "-n", self.ns]
        sh(*n, "link", "set", "lo", "up")
        for addr in (RESOLVER, MACHINE_IP, PG_IP, FLYCAST_IP):
            sh(*n, "-6", "addr", "add", f"{addr}/128", "dev", "lo", "nodad")
        # black hole: a veth whose far end drops everything (no dummy driver in every kernel)
        sh(*n, "link", "add", "bh0", "type", "veth", "peer", "name", "bh1")
        sh(*n, "link", "set", "bh0", "up")
        sh(*n, "link", "set", "bh1", "up")
        sh(*n, "-6", "route", "add", "fdaa:0:dead::/48", "dev", "bh0")
        sh(*n, "-6", "neigh", "add", BLACKHOLE_IP, "lladdr", "02:00:00:00:de:ad", "dev", "bh0", "nud", "permanent")
        self.etc.mkdir(parents=True, exist_ok=True)
        # fly.md §1.1: resolv.conf points at fdaa::3; /etc/hosts aliases the 6PN address to fly-local-6pn
        (self.etc / "resolv.conf").write_text(f"nameserver {RESOLVER}\n")
        (self.etc / "hosts").write_text(f"127.0.0.1 localhost\n::1 localhost ip6-localhost\n{MACHINE_IP} fly-local-6pn\n")
        self._start_dnsmasq()
        return self

    def _start_dnsmasq(self) -> None:
        lines = [
            "no-resolv", "no-hosts", "bind-interfaces", f"listen-address={RESOLVER}", "port=53", "user=root",
            "local=/internal/", "local=/flycast/",  # unknown private names: NXDOMAIN, never forwarded
            "log-facility=" + str(self.tmp / "dnsmasq.log"),
        ]
        for name, addrs in self.aaaa.items():
            lines.append(f"host-record={name},{','.join(addrs)}")
        for name, strings in self.txt.items():
            lines.append(f"txt-record={name}," + ",".join(f'"{s}"' for s in strings))
        conf = self.tmp / "dnsmasq.conf"
        conf.write_text("\n".join(lines) + "\n")
        self.dnsmasq = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "dnsmasq", "-k", f"--conf-file={conf}", "--pid-file="],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.dnsmasq.poll() is not None:
                raise RuntimeError(f"dnsmasq exited: {self.dnsmasq.stderr.read().decode()}")
            r = sh("ip", "netns", "exec", self.ns, "ss", "-Hlnu", "sport = :53", check=False)
            if RESOLVER in r.stdout or "fdaa::3" in r.stdout:
                return
            time.sleep(0.05)
        raise RuntimeError("dnsmasq did not start")

    def start_pg(self) -> NsPgCluster:
        self.pg = NsPgCluster(self.ns, listen=f"{PG_IP},{FLYCAST_IP}", port=5432, name="6pn")
        self.pg.init()
        # as Fly Postgres (fly.md §4.1): no TLS, md5/scram from anywhere on the 6PN
        self.pg.start()
        return self.pg

    def close(self) -> None:
        if self.pg is not None:
            self.pg.destroy()
        if self.dnsmasq is not None and self.dnsmasq.poll() is None:
            self.dnsmasq.kill()
            self.dnsmasq.wait(5)
        sh("ip", "netns", "del", self.ns, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    # ------------------------------------------------------------ running the tool inside
    def run_cli(self, *args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        """`python -m tui ...` inside the namespace, with a clean environment."""
        root = Path(__file__).resolve().parent.parent
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "POSTGRES_URL", "CONVEX", "FLY_"))}
        base.update(PYTHONPATH=str(root), NO_COLOR="1", PATH="/usr/local/bin:/usr/bin:/bin")
        base.update(env or {})
        cwd = __import__("tempfile").mkdtemp(prefix="fcp-cwd-")
        return subprocess.run(
            ["ip", "netns", "exec", self.ns, sys.executable, "-m", "tui", *args],
            capture_output=True, text=True, env=base, cwd=cwd, timeout=timeout,
        )


def machine_env(app: str = "web", region: str = "iad") -> dict:
    """The variables Fly sets in a machine (fly.md §5.1)."""
    return {
        "FLY_APP_NAME": app,
        "FLY_MACHINE_ID": "3d8d9e1a2b7f89",
        "FLY_ALLOC_ID": "3d8d9e1a2b7f89",
        "FLY_REGION": region,
        "FLY_PRIVATE_IP": MACHINE_IP,
        "FLY_PUBLIC_IP": "2605:4c40:1:2::3",
        "FLY_IMAGE_REF": f"registry.fly.io/{app}:deployment-01J0000000000000000000000",
        "FLY_MACHINE_VERSION": "01J0000000000000000000000",
        "FLY_VM_MEMORY_MB": "256",
        "PRIMARY_REGION": region,
    }

"""Test machines for the stand-in flyctl's `ssh` commands (`ship`, `fleet`).

A machine is a network namespace (its own 6PN view: a veth to the host, an
address in fdaa:77:<tok>:<n>::/64, a route to the database address on the host
unless `route_to_db=False`, dnsmasq at fdaa::3 as its resolver, fly.md §1.1)
plus its own /etc/hosts, /etc/resolv.conf and /tmp bound into a shared
Python-less Debian root when the stand-in enters it. The environment of an SSH
session there: FLY_* variables and the app's secrets (fly.md §5.1, §5.2).
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from pathlib import Path

from . import FakeFly, machine, secret


class Fleet(FakeFly):
    def __init__(self, root: Path, workdir: Path, email: str | None = "dev@example.com"):
        super().__init__(workdir, email)
        self.root = Path(root)
        self.tok = secrets.token_hex(2)
        self.netns: list[str] = []
        self.links: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.db_addr = f"fdaa:77:{self.tok}:ff::5"
        self.state["ssh"] = {"root": str(self.root), "sftp": True, "sftp_mode_flag": True}
        for f in ("etc/hosts", "etc/resolv.conf"):
            p = self.root / f
            if not p.exists():
                p.write_text("")
        # the database's 6PN-like address lives on the host's loopback
        self._ip("addr", "add", f"{self.db_addr}/128", "dev", "lo", "nodad")

    @staticmethod
    def _ip(*args: str, ns: str | None = None) -> None:
        cmd = ["ip"] + (["-n", ns] if ns else []) + list(args)
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def add_machine(self, app: str, mid: str, region: str, env: dict, dns: dict[str, str], route_to_db: bool = True, state: str = "started") -> dict:
        """`env`: the app's secrets as the session sees them (also listed by `fly secrets list`).
        `dns`: what the machine's 6PN resolver answers with AAAA; any other
        .internal/.flycast name gets NXDOMAIN."""
        n = len(self.netns) + 1
        ns, vh, vm = f"fcpf{self.tok}{n}", f"vh{self.tok}{n}", f"vm{self.tok}{n}"
        self._ip("netns", "add", ns)
        self.netns.append(ns)
        self._ip("link", "add", vh, "type", "veth", "peer", "name", vm, "netns", ns)
        self.links.append(vh)
        net = f"fdaa:77:{self.tok}:{n}"
        self._ip("addr", "add", f"{net}::1/64", "dev", vh, "nodad")
        self._ip("link", "set", vh, "up")
        self._ip("link", "set", "lo", "up", ns=ns)
        self._ip("addr", "add", f"{net}::2/64", "dev", vm, "nodad", ns=ns)
        self._ip("link", "set", vm, "up", ns=ns)
        if route_to_db:
            self._ip("route", "add", f"{self.db_addr}/128", "via", f"{net}::1", ns=ns)
        self._ip("addr", "add", "fdaa::3/128", "dev", "lo", "nodad", ns=ns)  # the 6PN resolver (fly.md §1.1)
        mdir = self.dir / mid
        (mdir / "tmp").mkdir(parents=True)
        (mdir / "tmp").chmod(0o1777)
        cmd = [
            "ip", "netns", "exec", ns, shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--bind-interfaces", "--listen-address=fdaa::3", "--user=root", f"--pid-file={mdir / 'dnsmasq.pid'}",
            "--local=/internal/", "--local=/flycast/", "--log-facility=-", "--quiet-dhcp",
        ] + [f"--host-record={name},{ip}" for name, ip in dns.items()]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(mdir / "dnsmasq.log", "w"))
        self.procs.append(proc)
        deadline = time.monotonic() + 3  # dnsmasq writes its pid file once it listens
        while not (mdir / "dnsmasq.pid").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is not None:
            raise RuntimeError(f"dnsmasq for {mid} exited: {(mdir / 'dnsmasq.log').read_text()[-300:]}")
        (mdir / "hosts").write_text(f"127.0.0.1\tlocalhost\n::1\tlocalhost\n{net}::2\tfly-local-6pn\n")  # fly.md §1.1
        (mdir / "resolv").write_text("nameserver fdaa::3\n")
        session_env = {"FLY_APP_NAME": app, "FLY_MACHINE_ID": mid, "FLY_ALLOC_ID": mid, "FLY_REGION": region, "FLY_PRIVATE_IP": f"{net}::2", "PRIMARY_REGION": region}
        session_env.update(env)
        m = machine(mid, state=state, region=region, private_ip=f"{net}::2", role=None, image=f"registry.fly.io/{app}:deployment-01J0000000")
        m["name"] = f"{app}-{n}"
        m["ssh"] = {"netns": ns, "env": session_env, "tmp": str(mdir / "tmp"), "hosts": str(mdir / "hosts"), "resolv": str(mdir / "resolv"), "stuck": False}
        a = self.state["apps"].get(app) or self.app(app)
        a["machines"].append(m)
        known = {s["name"] for s in a["secrets"]}
        a["secrets"] += [secret(k) for k in env if k not in known]
        return m

    def machine_ssh(self, mid: str) -> dict:
        return next(m["ssh"] for a in self.state["apps"].values() for m in a["machines"] if m["id"] == mid)

    def files_left(self) -> list[str]:
        return sorted(str(p) for a in self.state["apps"].values() for m in a["machines"] if "ssh" in m for p in Path(m["ssh"]["tmp"]).iterdir())

    def destroy(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        subprocess.run(["ip", "addr", "del", f"{self.db_addr}/128", "dev", "lo"], capture_output=True)

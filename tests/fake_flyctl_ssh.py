#!/usr/bin/env python3
"""A stand-in flyctl for `ship` and `fleet`: `machines list --json`,
`ssh sftp put`, `ssh console [-C CMD] [--pty]` and `logs --no-tail`, run
against test "machines".

A machine is a network namespace (its own 6PN view: addresses, routes,
/etc/hosts) plus a chroot into a Python-less Debian root with its own /tmp,
and the environment Fly gives an SSH session there (FLY_* variables, the app's
secrets; facts/fly.md §5.1, §5.2). Everything comes from a JSON state file
named by $FCP_FAKE_FLY_STATE (see `Fleet` below, which builds it).

Kept apart from the general stand-in flyctl so the two can be merged.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

STATE_ENV = "FCP_FAKE_FLY_STATE"
HERE = Path(__file__).resolve()


def _err(msg: str, code: int = 1) -> int:
    # flyctl prints `Error: <msg>` on stderr (facts/fly.md §2.3)
    print(f"Error: {msg}", file=sys.stderr)
    return code


def _load() -> dict:
    return json.loads(Path(os.environ[STATE_ENV]).read_text())


def _flags(argv: list[str], with_value: set[str], booleans: set[str]) -> tuple[dict, list[str]]:
    opts, pos, i = {}, [], 0
    while i < len(argv):
        a = argv[i]
        if a in with_value and i + 1 < len(argv):
            opts[a] = argv[i + 1]
            i += 2
            continue
        if "=" in a and a.split("=", 1)[0] in with_value:
            k, v = a.split("=", 1)
            opts[k] = v
        elif a in booleans:
            opts[a] = True
        elif a.startswith("-"):
            raise SystemExit(_err(f"unknown flag: {a}"))
        else:
            pos.append(a)
        i += 1
    return opts, pos


def _app(state: dict, opts: dict) -> tuple[str, dict]:
    name = opts.get("-a") or opts.get("--app") or os.environ.get("FLY_APP", "")
    if not name:
        raise SystemExit(_err("the config for your app is missing an app name, add an app field to the fly.toml file or specify with the -a flag"))
    app = state["apps"].get(name)
    if app is None:
        raise SystemExit(_err(f"app {name} not found"))  # stand-in wording
    return name, app


def _machine(name: str, app: dict, opts: dict) -> dict:
    started = [m for m in app["machines"] if m["state"] == "started"]
    mid = opts.get("--machine")
    if mid:
        for m in app["machines"]:
            if m["id"] == mid:
                if m["state"] != "started":
                    raise SystemExit(_err(f"machine {mid} is not started"))  # stand-in wording
                return m
        raise SystemExit(_err(f"machine {mid} not found"))  # stand-in wording
    if not started:
        # facts/fly.md §5.2
        raise SystemExit(_err(f"app {name} has no started VMs.\nIt may be unhealthy or not have been deployed yet.\nTry the following command to verify:\n\nfly status"))
    if len(started) > 1:
        print(f"No machine specified, using {started[0]['id']} in region {started[0]['region']}", file=sys.stderr)
    return started[0]


def _enter(m: dict, inner: list[str], stdin=None, tty: bool = False) -> int:
    """Run this file's `__inside` mode in the machine's netns and a private mount namespace."""
    state_path = os.environ[STATE_ENV]
    cmd = ["ip", "netns", "exec", m["netns"], "unshare", "--mount", "--propagation", "private", "--", sys.executable, str(HERE), "__inside", state_path, m["id"], *inner]
    return subprocess.call(cmd, stdin=stdin if stdin is not None else (None if tty else subprocess.DEVNULL))


def cmd_machines(state: dict, argv: list[str]) -> int:
    if not argv or argv[0] not in ("list", "ls"):
        return _err(f"unsupported: machines {' '.join(argv)}")
    opts, _ = _flags(argv[1:], {"-a", "--app"}, {"--json", "-j", "-q", "--quiet"})
    name, app = _app(state, opts)
    # fly-go machine JSON, snake_case (facts/fly.md §6.2)
    rows = [
        {
            "id": m["id"], "name": m.get("name", m["id"]), "state": m["state"], "region": m["region"],
            "instance_id": m.get("instance_id", "01J0000000000000000000000"), "private_ip": m.get("private_ip", ""),
            "config": {"env": {k: v for k, v in m.get("env", {}).items() if not k.startswith("FLY_") and k != "DATABASE_URL"}, "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}},
            "checks": [], "host_status": "ok",
        }
        for m in app["machines"]
    ]
    if opts.get("--json") or opts.get("-j"):
        print(json.dumps(rows, indent=4))
    else:
        for r in rows:
            print(f"{r['id']}\t{r['name']}\t{r['state']}\t{r['region']}")
    return 0


def cmd_ssh(state: dict, argv: list[str]) -> int:
    common = {"-a", "--app", "--machine", "-r", "--region", "-u", "--user"}
    if argv[:2] == ["sftp", "put"]:
        if state.get("sftp") is False:
            return _err("ssh: subsystem request failed")  # stand-in: an image whose SSH server has no sftp
        modes = {"-m", "--mode"} if state.get("sftp_mode_flag", True) else set()  # older flyctl had no --mode
        opts, pos = _flags(argv[2:], common | modes, {"-R", "--recursive", "-q", "--quiet"})
        if not pos:
            print("put <local-path> [remote-path]")
            return 0
        name, app = _app(state, opts)
        m = _machine(name, app, opts)
        local = pos[0]
        remote = pos[1] if len(pos) > 1 else os.path.basename(local)
        if not os.path.isfile(local):
            return _err(f"local file {local}: stat {local}: no such file or directory")
        mode = opts.get("-m") or opts.get("--mode") or "0644"
        with open(local, "rb") as f:
            rc = _enter(m, ["put", remote, mode], stdin=f)
        if rc == 17:
            return _err(f"remote file {remote} already exists. flyctl sftp doesn't overwrite existing files for safety")
        if rc != 0:
            return _err(f"create remote file {remote}: permission denied")
        print(f"{os.path.getsize(local)} bytes uploaded to {remote}")
        return 0
    if argv[:1] == ["console"]:
        opts, pos = _flags(argv[1:], common | {"-C", "--command"}, {"--pty", "-q", "--quiet", "-s", "--select"})
        name, app = _app(state, opts)
        m = _machine(name, app, opts)
        command = opts.get("-C") or opts.get("--command")
        # -C is split shell-aware but not run by a shell (facts/fly.md §5.2)
        inner = shlex.split(command) if command else ["/bin/sh"]
        tty = bool(opts.get("--pty")) or not command or inner[0] in ("sh", "/bin/sh", "bash", "/bin/bash")
        if m.get("stuck") and "diagnose" in inner:  # a session that never returns (stuck SSH, hung machine)
            import time

            time.sleep(3600)
        return _enter(m, ["run", "1" if tty else "0", *inner], stdin=sys.stdin.buffer if not tty else None, tty=tty)
    return _err(f"unsupported: ssh {' '.join(argv)}")


def cmd_logs(state: dict, argv: list[str]) -> int:
    opts, _ = _flags(argv, {"-a", "--app", "-i", "--instance", "-r", "--region"}, {"--no-tail", "-n", "--json", "-j"})
    name, app = _app(state, opts)
    if not (opts.get("--no-tail") or opts.get("-n")):
        return _err("the stand-in only serves --no-tail")
    sys.stdout.write(app.get("logs", ""))
    return 0


def inside(state_path: str, mid: str, argv: list[str]) -> int:
    """In the machine's netns and a fresh mount namespace: bind its /tmp and
    its 6PN name view into the shared root, chroot, then run or receive."""
    state = json.loads(Path(state_path).read_text())
    m = next(mm for a in state["apps"].values() for mm in a["machines"] if mm["id"] == mid)
    root = state["root"]
    for src, dst in ((m["tmp"], "tmp"), (m["hosts"], "etc/hosts"), (m["resolv"], "etc/resolv.conf")):
        subprocess.run(["mount", "--bind", src, os.path.join(root, dst)], check=True)
    os.chroot(root)
    os.chdir("/")
    if argv[0] == "put":
        remote, mode = argv[1], int(argv[2], 8)
        try:
            fd = os.open(remote, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return 17
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f)
        os.chmod(remote, mode)
        return 0
    tty, cmd = argv[1] == "1", argv[2:]
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "USER": "root"}
    env.update(m.get("env", {}))
    if tty:
        env["TERM"] = os.environ.get("TERM", "xterm")  # the pty-req carries the local TERM (facts/fly.md §5.2)
    try:
        os.execve(cmd[0] if "/" in cmd[0] else shutil.which(cmd[0], path=env["PATH"]) or cmd[0], cmd, env)
    except OSError as exc:
        print(f'exec: "{cmd[0]}": {exc.strerror}', file=sys.stderr)
        return 127


def main(argv: list[str]) -> int:
    if argv[:1] == ["__inside"]:
        return inside(argv[1], argv[2], argv[3:])
    state = _load()
    argv = [a for a in argv if a not in ("--verbose",)]
    if not argv:
        return _err("no command")
    head, rest = argv[0], argv[1:]
    if head in ("machines", "machine", "m"):
        return cmd_machines(state, rest)
    if head == "ssh":
        return cmd_ssh(state, rest)
    if head == "logs":
        return cmd_logs(state, rest)
    return _err(f"unknown command \"{head}\" for \"flyctl\"")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# ---------------------------------------------------------------- building the machines (used by the tests)


def make_flyctl(directory: Path, state_path: Path) -> Path:
    """An executable `fly` in `directory`/bin that runs this stand-in with `state_path`."""
    p = Path(directory) / "bin" / "fly"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f"#!/bin/sh\nexport {STATE_ENV}={shlex.quote(str(state_path))}\nexec {shlex.quote(sys.executable)} {shlex.quote(str(HERE))} \"$@\"\n")
    p.chmod(0o755)
    return p


class Fleet:
    """Test machines for the stand-in: each a netns with a veth to the host
    (its 6PN link), addresses in fdaa:77:<tok>:<n>::/64, a route to the
    database address on the host unless `route_to_db=False`, its own /etc/hosts,
    /etc/resolv.conf (fdaa::3, facts/fly.md §1.1) and /tmp."""

    def __init__(self, root: Path, workdir: Path):
        import secrets

        self.root = Path(root)
        self.dir = Path(workdir)
        self.tok = secrets.token_hex(2)
        self.apps: dict[str, dict] = {}
        self.netns: list[str] = []
        self.links: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.db_addr = f"fdaa:77:{self.tok}:ff::5"
        self.state_path = self.dir / "fly-state.json"
        self.sftp = True
        self.sftp_mode_flag = True
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
        """`dns`: what the machine's 6PN resolver (dnsmasq at fdaa::3 in its netns)
        answers with AAAA; any other .internal/.flycast name gets NXDOMAIN."""
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
        self._ip("addr", "add", "fdaa::3/128", "dev", "lo", "nodad", ns=ns)  # the 6PN resolver (facts/fly.md §1.1)
        mdir0 = self.dir / mid
        mdir0.mkdir(parents=True)
        cmd = [
            "ip", "netns", "exec", ns, shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts",
            "--bind-interfaces", "--listen-address=fdaa::3", "--user=root", f"--pid-file={mdir0 / 'dnsmasq.pid'}",
            "--local=/internal/", "--local=/flycast/", "--log-facility=-", "--quiet-dhcp",
        ] + [f"--host-record={name},{ip}" for name, ip in dns.items()]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(mdir0 / "dnsmasq.log", "w"))
        self.procs.append(proc)
        import time

        deadline = time.monotonic() + 3  # dnsmasq writes its pid file once it listens
        while not (mdir0 / "dnsmasq.pid").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if proc.poll() is not None:
            raise RuntimeError(f"dnsmasq for {mid} exited: {(mdir0 / 'dnsmasq.log').read_text()[-300:]}")
        mdir = self.dir / mid
        (mdir / "tmp").mkdir()
        (mdir / "tmp").chmod(0o1777)
        (mdir / "hosts").write_text(
            f"127.0.0.1\tlocalhost\n::1\tlocalhost\n{net}::2\tfly-local-6pn\n"  # facts/fly.md §1.1
        )
        (mdir / "resolv").write_text("nameserver fdaa::3\n")
        full_env = {"FLY_APP_NAME": app, "FLY_MACHINE_ID": mid, "FLY_ALLOC_ID": mid, "FLY_REGION": region, "FLY_PRIVATE_IP": f"{net}::2", "PRIMARY_REGION": region}
        full_env.update(env)
        m = {
            "id": mid, "name": f"{app}-{n}", "state": state, "region": region, "private_ip": f"{net}::2", "netns": ns,
            "env": full_env, "tmp": str(mdir / "tmp"), "hosts": str(mdir / "hosts"), "resolv": str(mdir / "resolv"),
        }
        self.apps.setdefault(app, {"machines": [], "logs": ""})["machines"].append(m)
        return m

    def set_logs(self, app: str, text: str) -> None:
        self.apps.setdefault(app, {"machines": [], "logs": ""})["logs"] = text

    def write(self) -> Path:
        self.state_path.write_text(json.dumps({"root": str(self.root), "apps": self.apps, "sftp": self.sftp, "sftp_mode_flag": self.sftp_mode_flag}, indent=1))
        return self.state_path

    def flyctl(self) -> Path:
        """An executable `fly` that runs this stand-in with the state file."""
        self.write()
        return make_flyctl(self.dir, self.state_path)

    def files_left(self) -> list[str]:
        return sorted(str(p) for a in self.apps.values() for m in a["machines"] for p in Path(m["tmp"]).iterdir())

    def destroy(self) -> None:
        for p in self.procs:
            p.kill()
            p.wait()
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True)
        subprocess.run(["ip", "addr", "del", f"{self.db_addr}/128", "dev", "lo"], capture_output=True)

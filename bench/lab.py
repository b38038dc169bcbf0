"""The environments the scenarios run against, built once per bench run and
torn down at the end. Postgres pieces come from the test suite's builders
(tests/pgcluster.py); this file only adds what those do not build yet: a TCP
server that never answers and a black-holed address."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from pgcluster import SUPERPASS, PgBouncer, PgCluster, free_port  # noqa: E402,F401

APP_USER, APP_PW = "app", "app-Pw-5d81x"
APP_DB = "app"


class HungServer:
    """Accepts TCP on a loopback port and never says a byte: a hung server, or
    something that is not Postgres and waits for the client to talk first."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self):
        self._stop = True
        self.sock.close()
        for c in self.held:
            c.close()


class BlackHole:
    """A network namespace where one address swallows every packet: the route
    exists, the neighbour entry is static (no ARP failure to report), and the
    frames go to a MAC nobody owns. A TCP connect there gets no answer at all,
    so libpq without connect_timeout waits on the kernel's SYN retries."""

    ADDR = "10.203.0.2"

    def __init__(self):
        self.ns = f"fcpbench-bh-{os.getpid()}"
        cmds = [
            ["ip", "netns", "add", self.ns],
            ["ip", "-n", self.ns, "link", "set", "lo", "up"],
            ["ip", "-n", self.ns, "link", "add", "bh0", "type", "veth", "peer", "name", "bh1"],
            ["ip", "-n", self.ns, "addr", "add", "10.203.0.1/24", "dev", "bh0"],
            ["ip", "-n", self.ns, "link", "set", "bh0", "up"],
            ["ip", "-n", self.ns, "link", "set", "bh1", "up"],
            ["ip", "-n", self.ns, "neigh", "add", self.ADDR, "lladdr", "02:00:00:00:be:ef", "dev", "bh0", "nud", "permanent"],
        ]
        for c in cmds:
            subprocess.run(c, check=True, capture_output=True)

    @property
    def wrap(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns]

    def stop(self):
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)


class Lab:
    """Shared pieces, each built on first use."""

    def __init__(self):
        self.stack = ExitStack()
        self._cache: dict[str, object] = {}
        self.home = tempfile.mkdtemp(prefix="fcpbench-home-")  # no ~/.pgpass, ~/.psqlrc, ~/.postgresql

    def _get(self, key, build):
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def close(self):
        self.stack.close()

    # ------------------------------------------------------------ Postgres
    @property
    def primary(self) -> PgCluster:
        def build():
            c = PgCluster(
                name="bench",
                listen="127.0.0.1,::1",
                hba=[
                    "local all all trust",
                    "local replication all trust",
                    # IPv4 only: a client coming over IPv6 (::1) matches no rule
                    "host all all 0.0.0.0/0 scram-sha-256",
                    "host replication all 127.0.0.1/32 trust",
                ],
            )
            self.stack.callback(c.destroy)
            c.init().start()
            c.add_role(APP_USER, APP_PW)
            c.add_role("limited", APP_PW, "CONNECTION LIMIT 0")
            for db in (APP_DB, "rodb"):
                c.psql(f'CREATE DATABASE "{db}" OWNER {APP_USER}')
            c.psql("ALTER DATABASE rodb SET default_transaction_read_only = on")
            # a self-hosted Convex backend's databases: INSTANCE_NAME convex-bench, and
            # one owned by postgres where a plain role cannot create tables (PG 15)
            c.psql("CREATE DATABASE convex_bench")
            c.add_role("convex_limited", APP_PW)
            c.psql("CREATE DATABASE convex_schema")
            return c

        return self._get("primary", build)

    @property
    def standby(self) -> PgCluster:
        def build():
            sb = self.primary.make_standby()
            self.stack.callback(sb.destroy)
            return sb

        return self._get("standby", build)

    @property
    def tls(self) -> PgCluster:
        def build():
            c = PgCluster(name="bench-tls", tls=True)
            self.stack.callback(c.destroy)
            c.init().start()
            c.add_role(APP_USER, APP_PW)
            return c

        return self._get("tls", build)

    @property
    def bouncer(self) -> PgBouncer:
        def build():
            b = PgBouncer(self.primary, users={APP_USER: APP_PW}, pool_mode="transaction", db=APP_DB)
            self.stack.callback(b.stop)
            return b.start()

        return self._get("bouncer", build)

    @property
    def hung(self) -> HungServer:
        def build():
            h = HungServer()
            self.stack.callback(h.stop)
            return h

        return self._get("hung", build)

    @property
    def blackhole(self) -> BlackHole:
        def build():
            b = BlackHole()
            self.stack.callback(b.stop)
            return b

        return self._get("blackhole", build)

    def closed_port(self) -> int:
        return free_port()

    # ------------------------------------------------------------ Fly
    @property
    def sixpn(self):
        """The emulated 6PN of tests/sixpn.py with a small set of apps: `pgdb`
        (running), `sleepydb` (machines stopped), `noflydb` (no Flycast IP),
        `lostdb` (a black-holed 6PN address). Needs root and dnsmasq."""

        def build():
            from sixpn import BLACKHOLE_IP, FLYCAST_IP, MACHINE_IP, PG_IP, SixPN

            six = SixPN(
                aaaa={
                    "web.internal": [MACHINE_IP],
                    "pgdb.internal": [PG_IP],
                    "pgdb.flycast": [FLYCAST_IP],
                    "noflydb.internal": [PG_IP],
                    "lostdb.internal": [BLACKHOLE_IP],
                },
                txt={
                    "_apps.internal": ["web,pgdb,sleepydb,noflydb,lostdb"],
                    "vms.pgdb.internal": ["e784079b449483 iad"],
                    "all.vms.pgdb.internal": ["e784079b449483 iad"],
                    "vms.noflydb.internal": ["148e2d5b0e3d89 iad"],
                    "all.vms.noflydb.internal": ["148e2d5b0e3d89 iad"],
                    "all.vms.sleepydb.internal": ["9080e215c0d587 iad"],
                    "vms.lostdb.internal": ["1781e92be67158 iad"],
                    "all.vms.lostdb.internal": ["1781e92be67158 iad"],
                },
            )
            self.stack.callback(six.close)
            six.start()
            pg = six.start_pg()
            pg.add_role(APP_USER, APP_PW)
            pg.psql(f'CREATE DATABASE "{APP_DB}" OWNER {APP_USER}')
            return six

        return self._get("sixpn", build)

    def fakefly(self, change=None) -> dict:
        """The stand-in flyctl (tests/fake_flyctl) on a laptop: apps `web` and
        `mydb`, whose `fly proxy` forwards to the primary. `change(state)` makes
        the fault. Returns the environment that puts it first on PATH."""
        from fake_flyctl import FakeFly, ip, machine, secret

        f = FakeFly(Path(tempfile.mkdtemp(prefix="fcpbench-fly-")))
        f.app("web", secrets=[secret("DATABASE_URL")])
        f.app(
            "mydb",
            machines=[machine("e784079b449483", role="primary")],
            ips=[ip("fdaa:0:1::5")],
            proxy_targets={"5432": f"127.0.0.1:{self.primary.port}"},
        )
        if change:
            change(f.state)
        return f.env()

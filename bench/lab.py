"""The environments the scenarios run against, built once per bench run and
torn down at the end, all from the test suite's builders (tests/pgcluster.py,
tests/sixpn.py, tests/fake_flyctl, tests/convex_standin.py)."""

from __future__ import annotations

import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import hostile  # noqa: E402
from delay_proxy import DelayProxy  # noqa: E402,F401
from pgcluster import SUPERPASS, BannerServer, Netns, PgBouncer, PgCluster, RefusingPostgres, SilentServer, free_port  # noqa: E402,F401

APP_USER, APP_PW = "app", "app-Pw-5d81x"
APP_DB = "app"


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
            c.add_role("nologin", APP_PW)
            c.psql('ALTER ROLE "nologin" NOLOGIN')
            c.psql("CREATE DATABASE closeddb")
            c.psql("REVOKE CONNECT ON DATABASE closeddb FROM PUBLIC")
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
        return self._tls_cluster("tls", None)

    @property
    def tls_only(self) -> PgCluster:
        """TLS offered, and pg_hba.conf takes only TLS connections (hostssl)."""
        return self._tls_cluster("tls-only", ["local all all trust", "hostssl all all 0.0.0.0/0 scram-sha-256"])

    def _tls_cluster(self, key: str, hba: list[str] | None) -> PgCluster:
        def build():
            c = PgCluster(name=f"bench-{key}", tls=True, hba=hba)
            self.stack.callback(c.destroy)
            c.init().start()
            c.add_role(APP_USER, APP_PW)
            return c

        return self._get(key, build)

    @property
    def bouncer(self) -> PgBouncer:
        return self._bouncer("transaction")

    @property
    def session_bouncer(self) -> PgBouncer:
        return self._bouncer("session")

    def _bouncer(self, mode: str) -> PgBouncer:
        def build():
            b = PgBouncer(self.primary, users={APP_USER: APP_PW}, pool_mode=mode, db=APP_DB)
            self.stack.callback(b.stop)
            return b.start()

        return self._get(f"bouncer-{mode}", build)

    @property
    def banner(self) -> BannerServer:
        """An SSH server's banner on the port (it speaks first)."""
        return self._server("banner", BannerServer)

    @property
    def closes_during_startup(self):
        return self._server("closes", hostile.PgClosesDuringStartup)

    @property
    def garbage_ssl(self):
        return self._server("garbage_ssl", hostile.PgGarbageSSL)

    @property
    def hung(self) -> SilentServer:
        """Accepts TCP and never says a byte."""
        return self._server("hung", SilentServer)

    @property
    def hung_after_tls(self) -> SilentServer:
        """Answers the SSLRequest with N, then never answers the login."""
        return self._server("hung_after_tls", lambda: SilentServer(answer_ssl=True))

    @property
    def starting(self) -> RefusingPostgres:
        return self._server("starting", RefusingPostgres)

    @property
    def shutting_down(self) -> RefusingPostgres:
        return self._server("shutting_down", lambda: RefusingPostgres(message="the database system is shutting down"))

    def _server(self, key, make):
        def build():
            server = make()
            self.stack.callback(server.stop)
            return server.start()

        return self._get(key, build)

    @property
    def netns(self) -> Netns:
        """A namespace with a resolver that knows one name (on a black-holed
        address) and says NXDOMAIN to the rest; see Netns.BLACKHOLE."""

        def build():
            n = Netns()
            self.stack.callback(n.destroy)
            return n.create().with_dns({"db.known.example.com": Netns.BLACKHOLE}).with_blackhole()

        return self._get("netns", build)

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

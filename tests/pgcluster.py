"""Real PostgreSQL clusters for tests (and the benchmarks): initdb on a free
loopback port, run as the `postgres` OS user, torn down on exit.

Each failing environment of the suite is built from these for real: TLS with a
self-signed certificate, pg_hba.conf rules, connection limits, a standby made
with pg_basebackup -R, a transaction-mode PgBouncer.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
OS_USER = "postgres"
SUPERUSER = "postgres"
SUPERPASS = "super-Secret-9f3k"


def free_port(host: str = "127.0.0.1") -> int:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with closing(socket.socket(fam, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _as_pg(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", OS_USER, "--"] + cmd
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def _own(path: Path) -> None:
    if os.geteuid() == 0:
        pw = pwd.getpwnam(OS_USER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def make_tempdir(prefix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    _own(d)
    return d


class PgCluster:
    """One PostgreSQL server. `url(user, password, db, **params)` builds URLs."""

    def __init__(
        self,
        listen: str = "127.0.0.1",
        tls: bool = False,
        hba: list[str] | None = None,
        conf: dict[str, str] | None = None,
        port: int | None = None,
        datadir: Path | None = None,
        name: str = "pg",
    ):
        self.listen = listen
        self.host = listen.split(",")[0]
        self.port = port or free_port(self.host if ":" not in self.host else "::1")
        self.base = make_tempdir(f"fcp-{name}-")
        self.datadir = datadir or self.base / "data"
        self.tls = tls
        self.hba = hba
        self.conf = conf or {}
        self.started = False
        self.log = self.base / "postgres.log"

    # -------------------------------------------------------------- lifecycle
    def init(self) -> "PgCluster":
        pwfile = self.base / "pw"
        pwfile.write_text(SUPERPASS + "\n")
        _own(pwfile)
        _as_pg(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        settings = {
            "listen_addresses": f"'{self.listen}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.base}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "20",
            "superuser_reserved_connections": "2",
            "wal_level": "replica",
            "max_wal_senders": "4",
            "log_line_prefix": "'%m [%p] %q%u@%d '",
        }
        if self.tls:
            self._make_cert()
            settings.update(ssl="on", ssl_cert_file="'server.crt'", ssl_key_file="'server.key'")
        settings.update(self.conf)
        with open(self.datadir / "postgresql.conf", "a") as f:
            for k, v in settings.items():
                f.write(f"{k} = {v}\n")
        hba = self.hba or [
            "local all all trust",
            "local replication all trust",
            "host all all 0.0.0.0/0 scram-sha-256",
            "host all all ::/0 scram-sha-256",
            "host replication all 127.0.0.1/32 trust",
            "host replication all ::1/128 trust",
        ]
        (self.datadir / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        return self

    def _make_cert(self) -> None:
        subprocess.run(
            [
                "openssl",
                "req",
                "-new",
                "-x509",
                "-days",
                "2",
                "-nodes",
                "-subj",
                "/CN=fcp-doctor-test",
                "-keyout",
                str(self.datadir / "server.key"),
                "-out",
                str(self.datadir / "server.crt"),
            ],
            check=True,
            capture_output=True,
        )
        for f in ("server.key", "server.crt"):
            _own(self.datadir / f)
        (self.datadir / "server.key").chmod(0o600)

    def start(self) -> "PgCluster":
        _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.log), "-w", "-t", "30", "start"])
        self.started = True
        return self

    def stop(self, mode: str = "immediate") -> None:
        if self.started:
            try:
                _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"])
            except subprocess.CalledProcessError:
                pass
            self.started = False

    def begin_smart_shutdown(self) -> None:
        """pg_ctl stop -m smart without waiting: with a session still open the server
        stays in 'shutting down' and refuses new logins."""
        import psycopg

        _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", "smart", "-W", "stop"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the postmaster has taken the signal
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
            except psycopg.OperationalError as exc:
                if "shutting down" in str(exc):
                    return
            time.sleep(0.05)
        raise RuntimeError("the server did not enter smart shutdown")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.init().start()

    def __exit__(self, *exc):
        self.destroy()

    # -------------------------------------------------------------- helpers
    def psql(self, sql: str, db: str = "postgres") -> str:
        r = _as_pg([str(PG_BIN / "psql"), "-h", str(self.base), "-p", str(self.port), "-U", SUPERUSER, "-d", db, "-Atqc", sql])
        return r.stdout.strip()

    def url(self, user: str = SUPERUSER, password: str | None = SUPERPASS, db: str = "postgres", host: str | None = None, port: int | None = None, **params) -> str:
        from urllib.parse import quote, urlencode

        h = host or self.host
        if ":" in h and not h.startswith("["):
            h = f"[{h}]"
        auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
        out = f"postgres://{auth}@{h}:{port or self.port}/{db}"
        if params:
            out += "?" + urlencode(params)
        return out

    def add_role(self, name: str, password: str | None, *extra: str) -> None:
        pw = f" PASSWORD '{password}'" if password else ""
        self.psql(f"CREATE ROLE \"{name}\" LOGIN{pw} {' '.join(extra)}")

    def reload(self) -> None:
        self.psql("SELECT pg_reload_conf()")

    def set_hba(self, lines: list[str]) -> None:
        (self.datadir / "pg_hba.conf").write_text("\n".join(lines) + "\n")
        self.reload()

    def make_standby(self, hot_standby: bool = True) -> "PgCluster":
        """A standby of this cluster, made with pg_basebackup -R. With
        hot_standby off it refuses every connection (SQLSTATE 57P03)."""
        sb = PgCluster(listen=self.listen, name="standby")
        _as_pg(
            [
                str(PG_BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1" if ":" not in self.host else "::1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-D",
                str(sb.datadir),
                "-R",
                "-X",
                "stream",
                "--no-sync",
                "--checkpoint=fast",
            ]
        )
        with open(sb.datadir / "postgresql.conf", "a") as f:
            f.write(f"port = {sb.port}\nunix_socket_directories = '{sb.base}'\nhot_standby = {'on' if hot_standby else 'off'}\n")
        if not hot_standby:  # pg_ctl -w waits for connections that never come: wait for the port instead
            _as_pg([str(PG_BIN / "pg_ctl"), "-D", str(sb.datadir), "-l", str(sb.log), "-W", "start"])
            sb.started = True
            _wait_port(sb.host, sb.port)
            return sb
        return sb.start()


def _wait_port(host: str, port: int, limit: float = 15.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


class PgBouncer:
    """A real PgBouncer in front of a cluster (transaction mode by default)."""

    def __init__(
        self, cluster: PgCluster, users: dict[str, str], pool_mode: str = "transaction", db: str = "postgres", pool_size: int = 5,
        stats_users: tuple[str, ...] = (), databases: tuple[str, ...] = (),
    ):  # fmt: skip
        """stats_users may read the admin console (SHOW ...); databases: more pooled databases besides `db`."""
        self.cluster = cluster
        self.stats_users = stats_users
        self.databases = databases
        self.port = free_port()
        self.base = make_tempdir("fcp-pgbouncer-")
        self.users = users
        self.pool_mode = pool_mode
        self.db = db
        self.pool_size = pool_size
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PgBouncer":
        ini = self.base / "pgbouncer.ini"
        auth = self.base / "userlist.txt"
        auth.write_text("".join(f'"{u}" "{p}"\n' for u, p in self.users.items()))
        ini.write_text(
            f"""[databases]
{self.db} = host=127.0.0.1 port={self.cluster.port} dbname={self.db}
{"".join(f"{d} = host=127.0.0.1 port={self.cluster.port} dbname={d}{chr(10)}" for d in self.databases)}[pgbouncer]
stats_users = {",".join(self.stats_users)}
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {auth}
pool_mode = {self.pool_mode}
default_pool_size = {self.pool_size}
max_client_conn = 50
ignore_startup_parameters = extra_float_digits,options
logfile = {self.base}/pgbouncer.log
pidfile = {self.base}/pgbouncer.pid
"""
        )
        for p in (ini, auth):
            _own(p)
        cmd = [PGBOUNCER, str(ini)]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", OS_USER, "--"] + cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port("127.0.0.1", self.port, 10)
        return self

    def url(self, user: str, password: str, **params) -> str:
        return self.cluster.url(user, password, db=self.db, port=self.port, **params)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(0.5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.base, ignore_errors=True)


# ---------------------------------------------------------------- stand-ins and network plumbing

from hostile import _Server  # noqa: E402  (one loopback test-server base for the suite)


class SilentServer(_Server):
    """Accepts TCP and never says a word: a hung server, or a port whose
    listener waits for the client to speak a protocol it never sends. With
    answer_ssl, it answers the SSLRequest with 'N' and then hangs in the startup
    (a postmaster that forked a backend that never comes back)."""

    def __init__(self, answer_ssl: bool = False):
        super().__init__()
        self.answer_ssl = answer_ssl

    def handle(self, conn: socket.socket) -> None:
        if self.answer_ssl:
            conn.settimeout(30)
            while not self.stopping.is_set():
                head = conn.recv(8)
                if len(head) < 8:
                    return
                length, code = struct.unpack("!ii", head)
                if code in (80877103, 80877104):
                    conn.sendall(b"N")
                    continue
                break  # the startup packet: never answer it
        self.stopping.wait()


class BannerServer(_Server):
    """A server that speaks first, as sshd does (RFC 4253 §4.2: the identification
    string is sent on connect), then waits."""

    def __init__(self, banner: bytes = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"):
        super().__init__()
        self.banner = banner

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.banner)
        self.stopping.wait()


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


class RefusingPostgres(_Server):
    """Speaks the start of the Postgres protocol and refuses the login with one
    ErrorResponse (SQLSTATE 57P03, ../shared/facts/tui-and-diagnostics-anchors.md
    §4.2), as the postmaster does while it starts up or shuts down:
    it answers the SSLRequest/GSSENCRequest with 'N', reads the startup packet,
    then sends FATAL with the SQLSTATE (57P03 cannot_connect_now by default)
    and closes. Message format: PostgreSQL protocol docs, ErrorResponse."""

    def __init__(self, sqlstate: str = "57P03", message: str = "the database system is starting up"):
        super().__init__()
        self.sqlstate = sqlstate
        self.message = message

    def handle(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        while True:
            length, code = struct.unpack("!ii", _recv_exact(conn, 8))
            if code in (80877103, 80877104):  # SSLRequest, GSSENCRequest
                conn.sendall(b"N")
                continue
            _recv_exact(conn, length - 8)  # the rest of the startup packet
            break
        body = b"".join(
            k + v.encode() + b"\0" for k, v in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", self.sqlstate), (b"M", self.message))
        ) + b"\0"
        conn.sendall(b"E" + struct.pack("!i", len(body) + 4) + body)
        conn.close()


class DelayRelay(_Server):
    """A TCP relay to (host, port) that holds every chunk from the server for
    `delay` seconds: a database far away, on loopback."""

    def __init__(self, target_host: str, target_port: int, delay: float = 0.03):
        super().__init__()
        self.target = (target_host, target_port)
        self.delay = delay

    def handle(self, conn: socket.socket) -> None:
        up = socket.create_connection(self.target, timeout=5)
        up.settimeout(None)
        conn.settimeout(None)
        self.conns.append(up)

        def pump(src, dst, delay):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    if delay:
                        time.sleep(delay)
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(conn, up, 0), daemon=True).start()
        pump(up, conn, self.delay)


class Netns:
    """A network namespace of our own: its own loopback, optionally a dnsmasq
    answering NXDOMAIN for every name (via /etc/netns/<name>/resolv.conf, which
    `ip netns exec` mounts over /etc/resolv.conf), and a black-holed subnet
    (a veth pair with a permanent neighbour entry to a MAC nobody has: SYNs
    leave and are dropped, never answered). Traffic never leaves the namespace."""

    BLACKHOLE = "10.99.0.2"
    UNREACHABLE = "10.98.0.2"

    def __init__(self):
        self.name = f"fcp-{os.getpid()}-{next(_ns_ids)}"
        self.etc = Path("/etc/netns") / self.name
        self.dnsmasq: subprocess.Popen | None = None
        self.base = Path(tempfile.mkdtemp(prefix="fcp-netns-"))

    @property
    def prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def sh(self, *cmd: str) -> None:
        subprocess.run(self.prefix + list(cmd), check=True, capture_output=True, text=True)

    def create(self) -> "Netns":
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        self.sh("ip", "link", "set", "lo", "up")
        return self

    def with_dns(self, local_names: dict[str, str] | None = None) -> "Netns":
        """dnsmasq on the namespace's 127.0.0.1: `local_names` answer, everything else is NXDOMAIN."""
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        hosts = self.base / "hosts"
        hosts.write_text("".join(f"{ip} {name}\n" for name, ip in (local_names or {}).items()))
        self.dnsmasq = subprocess.Popen(
            self.prefix
            + [
                "dnsmasq", "--keep-in-foreground", "--no-resolv", "--no-hosts", f"--addn-hosts={hosts}",
                "--listen-address=127.0.0.1", "--bind-interfaces", "--port=53", "--local=/#/",
                "--user=root", f"--pid-file={self.base}/dnsmasq.pid", "--log-facility=-",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = subprocess.run(self.prefix + ["ss", "-lun"], capture_output=True, text=True)
            if "127.0.0.1:53 " in r.stdout:
                return self
            time.sleep(0.05)
        raise RuntimeError("dnsmasq did not start")

    def with_blackhole(self) -> "Netns":
        self.sh("ip", "link", "add", "bh0", "type", "veth", "peer", "name", "bh1")
        self.sh("ip", "link", "set", "bh0", "up")
        self.sh("ip", "link", "set", "bh1", "up")
        self.sh("ip", "addr", "add", "10.99.0.1/24", "dev", "bh0")
        self.sh("ip", "neigh", "add", self.BLACKHOLE, "lladdr", "02:00:00:00:00:99", "dev", "bh0", "nud", "permanent")
        # and a subnet the kernel refuses at once (EHOSTUNREACH)
        self.sh("ip", "route", "add", "unreachable", "10.98.0.0/24")
        return self

    def destroy(self) -> None:
        if self.dnsmasq and self.dnsmasq.poll() is None:
            self.dnsmasq.terminate()
            try:
                self.dnsmasq.wait(5)
            except subprocess.TimeoutExpired:
                self.dnsmasq.kill()
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        shutil.rmtree(self.etc, ignore_errors=True)
        shutil.rmtree(self.base, ignore_errors=True)


_ns_ids = itertools.count(1)


def hold_connections(url: str, n: int) -> list:
    """Open and keep `n` real client connections (close them with close_all)."""
    import psycopg

    return [psycopg.connect(url, application_name="held-by-test") for _ in range(n)]


def close_all(conns) -> None:
    for c in conns:
        try:
            c.close()
        except Exception:
            pass

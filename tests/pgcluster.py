"""Real PostgreSQL clusters for tests (and the benchmarks): initdb on a free
loopback port, run as the `postgres` OS user, torn down on exit.

Each failing environment of the suite is built from these for real: TLS with a
self-signed certificate, pg_hba.conf rules, connection limits, a standby made
with pg_basebackup -R, a transaction-mode PgBouncer.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
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

    def make_standby(self) -> "PgCluster":
        """A hot standby of this cluster, made with pg_basebackup -R."""
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
            ]
        )
        with open(sb.datadir / "postgresql.conf", "a") as f:
            f.write(f"port = {sb.port}\nunix_socket_directories = '{sb.base}'\nhot_standby = on\n")
        return sb.start()


class PgBouncer:
    """A real PgBouncer in front of a cluster (transaction mode by default)."""

    def __init__(self, cluster: PgCluster, users: dict[str, str], pool_mode: str = "transaction", db: str = "postgres"):
        self.cluster = cluster
        self.port = free_port()
        self.base = make_tempdir("fcp-pgbouncer-")
        self.users = users
        self.pool_mode = pool_mode
        self.db = db
        self.proc: subprocess.Popen | None = None

    def start(self) -> "PgBouncer":
        ini = self.base / "pgbouncer.ini"
        auth = self.base / "userlist.txt"
        auth.write_text("".join(f'"{u}" "{p}"\n' for u, p in self.users.items()))
        ini.write_text(
            f"""[databases]
{self.db} = host=127.0.0.1 port={self.cluster.port} dbname={self.db}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {auth}
pool_mode = {self.pool_mode}
default_pool_size = 5
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
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pgbouncer did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.base, ignore_errors=True)

"""Hostile and broken peers on loopback, for probes to survive.

Each is a real server on a free port, run in a daemon thread, usable as a
context manager from sync and async tests alike:

    with hostile.Blackhole() as s:        # accepts, reads, never answers
        ... s.host, s.port ...

TCP/Postgres: SynBlackhole (connect never completes), Blackhole (accepts,
never answers), PgClosesDuringStartup, PgGarbageSSL, PgHangsAfterLogin.
HTTP: HttpDrip (one byte a second), HttpHugeBody (100 MB), HttpGzipBomb (2 GB inflated),
HttpEcho (a fixed body), HttpRedirectLoop.
DNS: DnsServer(mode="garbage" | "truncate" | "silent").
flyctl: fake_flyctl(dir, mode="hang" | "garbage_json").
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
import zlib
from pathlib import Path


class _Server:
    """A TCP server: one thread accepts, one thread per connection runs `handle`."""

    family = socket.AF_INET
    kind = socket.SOCK_STREAM

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.sock = socket.socket(self.family, self.kind)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.conns: list[socket.socket] = []
        self.accepted = 0
        self.received = bytearray()

    # ------------------------------------------------------------ lifecycle
    def start(self):
        if self.kind == socket.SOCK_STREAM:
            self.sock.listen(64)
        self.sock.settimeout(0.2)
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError:
            pass

    def handle(self, conn: socket.socket) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    # ------------------------------------------------------------ helpers
    def recv_some(self, conn: socket.socket, n: int = 65536, timeout: float | None = None) -> bytes:
        conn.settimeout(timeout)
        try:
            data = conn.recv(n)
        except (socket.timeout, TimeoutError):
            return b""
        self.received += data
        return data

    def hold(self, conn: socket.socket) -> None:
        """Keep the connection open, reading and discarding, until stopped."""
        conn.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                if conn.recv(65536) == b"":
                    return
            except (socket.timeout, TimeoutError):
                continue


# ---------------------------------------------------------------- TCP / Postgres


class Blackhole(_Server):
    """Accepts TCP and never sends a byte (a hung server, a stuck proxy)."""

    def handle(self, conn):
        self.hold(conn)


class SynBlackhole:
    """A port where TCP connects never complete: a listener with a full accept
    queue drops further SYNs (Linux), like a firewall that drops packets."""

    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers: list[socket.socket] = []

    def start(self):
        for _ in range(8):
            c = socket.socket()
            c.settimeout(0.3)
            try:
                c.connect((self.host, self.port))
            except OSError:
                c.close()
                return self
            self.fillers.append(c)
        raise RuntimeError("the accept queue never filled")

    def stop(self) -> None:
        for c in self.fillers:
            c.close()
        self.sock.close()

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()


class PgClosesDuringStartup(_Server):
    """Answers the SSLRequest with 'N' like a real Postgres, reads the startup
    packet, then closes without a word (a backend that dies during startup)."""

    def handle(self, conn):
        head = self.recv_some(conn, 8, timeout=5)
        if len(head) == 8 and struct.unpack("!ii", head)[1] == 80877103:
            conn.sendall(b"N")
            self.recv_some(conn, 8192, timeout=5)
        conn.close()


class PgHangsAfterLogin(_Server):
    """Speaks just enough of the Postgres protocol (v3) to log a client in with
    no password, then never answers a query (a server stuck on I/O or a lock)."""

    def handle(self, conn):
        head = self.recv_some(conn, 8, timeout=5)
        if len(head) == 8 and struct.unpack("!ii", head)[1] == 80877103:  # SSLRequest: no TLS
            conn.sendall(b"N")
            head = self.recv_some(conn, 8, timeout=5)
        if len(head) < 8:
            return
        length = struct.unpack("!i", head[:4])[0]
        self.recv_some(conn, max(0, length - 8), timeout=5)  # the startup parameters

        def msg(kind: bytes, body: bytes) -> bytes:
            return kind + struct.pack("!i", len(body) + 4) + body

        out = msg(b"R", struct.pack("!i", 0))  # AuthenticationOk
        for k, v in (("server_version", "15.0"), ("client_encoding", "UTF8"), ("DateStyle", "ISO, MDY"),
                     ("standard_conforming_strings", "on"), ("integer_datetimes", "on")):
            out += msg(b"S", k.encode() + b"\0" + v.encode() + b"\0")
        out += msg(b"K", struct.pack("!ii", 4242, 4242)) + msg(b"Z", b"I")
        conn.sendall(out)
        self.hold(conn)


class PgGarbageSSL(_Server):
    """Something that is not Postgres on the port: answers the 8-byte SSLRequest
    with an HTTP error page (what an HTTP server or proxy sends)."""

    def handle(self, conn):
        self.recv_some(conn, 8, timeout=5)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()


# ---------------------------------------------------------------- HTTP


def _read_request(server: _Server, conn: socket.socket) -> bytes:
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    server.received += data
    return data


class HttpDrip(_Server):
    """Sends a valid status line and headers, then the body one byte a second."""

    def __init__(self, host: str = "127.0.0.1", interval: float = 1.0):
        super().__init__(host)
        self.interval = interval

    def handle(self, conn):
        _read_request(self, conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n")
        while not self.stopping.is_set():
            conn.sendall(b"x")
            time.sleep(self.interval)


class HttpHugeBody(_Server):
    """A 200 answer whose body is 100 MB (a probe must read a bounded prefix)."""

    SIZE = 100 * 1024 * 1024

    def __init__(self, host: str = "127.0.0.1"):
        super().__init__(host)
        self.sent = 0

    def handle(self, conn):
        _read_request(self, conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % self.SIZE)
        block = b"<p>" + b"a" * 65533
        left = self.SIZE
        while left > 0 and not self.stopping.is_set():
            n = min(left, len(block))
            conn.sendall(block[:n])
            self.sent += n
            left -= n


class HttpEcho(_Server):
    """Answers every request with the same status and body (a peer whose error page
    carries what it was given: control characters, an echoed key)."""

    def __init__(self, body: bytes, status: int = 500, host: str = "127.0.0.1"):
        super().__init__(host)
        self.body, self.status = body, status

    def handle(self, conn):
        _read_request(self, conn)
        conn.sendall(b"HTTP/1.1 %d Oops\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (self.status, len(self.body)) + self.body)
        conn.close()


class HttpGzipBomb(_Server):
    """A 200 answer, `Content-Encoding: gzip`, 2 MB on the wire that inflate to 2 GB of zeros.
    Built from one deflate block repeated: a full flush resets the compressor, so each 1 MB
    of zeros compresses to the same bytes."""

    SIZE = 2048 << 20

    def __init__(self, host: str = "127.0.0.1"):
        super().__init__(host)
        self.sent = 0
        self.parts = HttpGzipBomb._parts or HttpGzipBomb._build()

    _parts: tuple = ()

    @classmethod
    def _build(cls) -> tuple:
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        zeros = bytes(1 << 20)
        block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
        crc = 0
        for _ in range(cls.SIZE >> 20):
            crc = zlib.crc32(zeros, crc)
        cls._parts = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", block, c.flush() + struct.pack("<II", crc, cls.SIZE & 0xFFFFFFFF))
        return cls._parts

    def handle(self, conn):
        _read_request(self, conn)
        head, block, tail = self.parts
        length = len(head) + len(block) * (self.SIZE >> 20) + len(tail)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % length)
        conn.sendall(head)
        for _ in range(self.SIZE >> 20):
            if self.stopping.is_set():
                return
            conn.sendall(block)
            self.sent += len(block)
        conn.sendall(tail)


class HttpRedirectLoop(_Server):
    """Every path redirects to the next one, forever (/a → /b → /a ...)."""

    def handle(self, conn):
        req = _read_request(self, conn)
        path = req.split(b" ", 2)[1] if req.count(b" ") >= 2 else b"/"
        nxt = b"/b" if path.endswith(b"/a") else b"/a"
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + nxt + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        conn.close()


# ---------------------------------------------------------------- DNS


class DnsServer(_Server):
    """A DNS server on UDP (and TCP on the same port) that misbehaves:
    garbage  - answers random bytes that are not a DNS message;
    truncate - answers with the TC bit and no records, over UDP and TCP alike;
    silent   - never answers."""

    kind = socket.SOCK_DGRAM

    def __init__(self, mode: str, host: str = "127.0.0.1"):
        super().__init__(host)
        if mode not in ("garbage", "truncate", "silent"):
            raise ValueError(mode)
        self.mode = mode
        self.queries = 0
        # a TCP listener on the same port, for clients that retry over TCP after TC;
        # the UDP port the kernel picked may be taken for TCP: pick again then
        for _ in range(20):
            self.tcp = socket.socket(self.family, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind((host, self.port))
                break
            except OSError:
                self.tcp.close()
                self.sock.close()
                self.sock = socket.socket(self.family, self.kind)
                self.sock.bind((host, 0))
                self.port = self.sock.getsockname()[1]
        else:
            raise RuntimeError("no port free for both UDP and TCP")

    def start(self):
        self.sock.settimeout(0.2)
        threading.Thread(target=self._serve_udp, daemon=True).start()
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        threading.Thread(target=self._serve_tcp, daemon=True).start()
        return self

    def stop(self) -> None:
        super().stop()
        try:
            self.tcp.close()
        except OSError:
            pass

    def answer(self, query: bytes) -> bytes | None:
        self.queries += 1
        if self.mode == "silent" or len(query) < 12:
            return None
        if self.mode == "garbage":
            return os.urandom(3) + b"\xff\xfe garbage, not DNS \x00\x01"
        # header: same id, QR=1, opcode/RD copied, TC=1; the question echoed, no answers
        qid, flags = struct.unpack("!HH", query[:4])
        flags = 0x8000 | (flags & 0x7900) | 0x0200 | 0x0080
        return struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + query[12:]

    def _serve_udp(self) -> None:
        while not self.stopping.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            reply = self.answer(data)
            if reply is not None:
                try:
                    self.sock.sendto(reply, addr)
                except OSError:
                    pass

    def _serve_tcp(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def handle(self, conn):
        head = self.recv_some(conn, 2, timeout=5)
        if len(head) < 2:
            return
        query = self.recv_some(conn, struct.unpack("!H", head)[0], timeout=5)
        reply = self.answer(query)
        if reply is None:
            self.hold(conn)
            return
        conn.sendall(struct.pack("!H", len(reply)) + reply)
        conn.close()


# ---------------------------------------------------------------- flyctl


def fake_flyctl(directory: str | Path, mode: str) -> Path:
    """An executable `fly` in `directory`:
    hang         - prints nothing and sleeps (a flyctl waiting on a dead API);
    garbage_json - exits 0 with text that is not JSON for every `--json` call
                   (a truncated write, an update banner on stdout);
    Returns the path; put its directory first on PATH, or pass it as --flyctl."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "fly"
    if mode == "hang":
        body = "#!/bin/sh\nexec sleep 3600\n"
    elif mode == "garbage_json":
        body = '#!/bin/sh\nprintf \'A new release of flyctl is available\\n[{"id": "148e", "state": "sta\'\nexit 0\n'
    else:
        raise ValueError(mode)
    path.write_text(body)
    path.chmod(0o755)
    return path

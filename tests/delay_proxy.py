"""A TCP proxy that puts distance between a client and a server on loopback
(this kernel has no `netem` qdisc): every byte is held for a fixed one-way
delay in each direction, so one round trip costs 2 x delay. Bytes keep their
order and are not held behind one another (a pipe, not a per-chunk sleep).

    proxy = DelayProxy()
    host, port = proxy.start(target_host, target_port, 0.010)   # 20 ms round trip
    ... connect to (host, port) ...
    proxy.stats()      # {"connections": 1, "round_trips": 5, ...}
    proxy.reset()      # zero the counts between runs
    proxy.stop()

or `with DelayProxy(target_host, target_port, 0.010) as proxy: proxy.port`.

It counts connections and round trips: a round trip is a turn of the
conversation, bytes from the client followed by bytes from the server (bytes
the client pipelines before the server answers are one turn). A connection the
client opens and closes without a word costs no round trip here.

`connect_rtt=True` also holds a connection's first client bytes until one
round trip after it was accepted: the TCP handshake a real link makes the
client wait for (the kernel completes it on loopback before the proxy sees the
connection). Exact for clients that speak as soon as they are connected.

`measure()` returns the round trip the proxy itself adds, against an echo
server of its own through the same code path, minus the direct round trip."""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time


class DelayProxy:
    def __init__(self, target_host: str | None = None, target_port: int | None = None, one_way_delay_s: float = 0.0, connect_rtt: bool = False):
        self.target = (target_host, target_port)
        self.delay = one_way_delay_s
        self.connect_rtt = connect_rtt
        self.host: str | None = None
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._lock = threading.Lock()
        self.reset()

    # ------------------------------------------------------------ use
    def start(self, target_host: str | None = None, target_port: int | None = None, one_way_delay_s: float | None = None) -> tuple[str, int]:
        """Listen on the target's own address family and host (so the server
        sees the client's kind of address), on a free port; return (host, port)."""
        if target_host is not None:
            self.target = (target_host, target_port)
        if one_way_delay_s is not None:
            self.delay = one_way_delay_s
        host = self.target[0] or "127.0.0.1"
        ready = threading.Event()
        failure: list[BaseException] = []

        def run():
            self._loop = asyncio.new_event_loop()
            try:
                self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, host, 0))
            except BaseException as exc:  # e.g. no IPv6 here: raised in start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.close()

        self._thread = threading.Thread(target=run, name="delay-proxy", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        return self.host, self.port

    def stats(self) -> dict:
        with self._lock:
            return dict(self._stats)

    def reset(self) -> None:
        with self._lock:
            self._stats = {"connections": 0, "round_trips": 0, "bytes_up": 0, "bytes_down": 0}

    def stop(self) -> None:
        if self._loop is None or self._loop.is_closed():
            return

        async def shut():
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._server.wait_closed()

        try:
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(5)
        except Exception:  # noqa: BLE001 - stopping: the loop goes anyway
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> "DelayProxy":
        if self.port is None:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def measure(self, samples: int = 9) -> dict:
        """The proxy's own added round trip, in ms: the median over `samples`
        one-byte exchanges through a proxy like this one to an echo server,
        minus the direct exchange. Includes the event loop's timer slack and
        whatever the machine's load adds."""
        probe = DelayProxy(connect_rtt=False)
        with Echo() as echo:
            try:
                host, port = probe.start("127.0.0.1", echo.port, self.delay)
                via = _exchange_ms(host, port, samples)
                direct = _exchange_ms("127.0.0.1", echo.port, samples)
            finally:
                probe.stop()
        med = statistics.median(via) - statistics.median(direct)
        return {
            "set_round_trip_ms": round(2000 * self.delay, 2),
            "added_round_trip_ms": round(med, 2),
            "added_round_trip_max_ms": round(max(via) - statistics.median(direct), 2),
            "error_ms": round(med - 2000 * self.delay, 2),
            "samples": samples,
        }

    # ------------------------------------------------------------ inside
    def _count(self, **add) -> None:
        with self._lock:
            for k, v in add.items():
                self._stats[k] += v

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        accepted = loop.time()
        self._count(connections=1)
        try:
            s_reader, s_writer = await asyncio.open_connection(*self.target)
        except OSError:
            c_writer.transport.abort()  # the client sees a reset, as from the server's refusal
            return
        self._writers |= {c_writer, s_writer}
        turn = {"last": "down"}  # who spoke last on this connection

        def heard(direction: str, n: int) -> None:
            if direction == "up":
                self._count(bytes_up=n)
            else:
                self._count(bytes_down=n, round_trips=int(turn["last"] == "up"))
            turn["last"] = direction

        hold_first = accepted + 3 * self.delay if self.connect_rtt else 0.0
        try:
            await asyncio.gather(
                self._pipe(c_reader, s_writer, "up", heard, hold_first),
                self._pipe(s_reader, c_writer, "down", heard, 0.0),
            )
        except asyncio.CancelledError:
            pass  # stop(): the connection goes with the proxy
        finally:
            for w in (c_writer, s_writer):
                self._writers.discard(w)
                w.transport.abort()

    async def _pipe(self, reader, writer, direction: str, heard, not_before: float) -> None:
        """Read as it comes; deliver each chunk `delay` after it was read, in order."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                writer.write(data)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                try:
                    data = await reader.read(65536)
                except OSError:
                    data = b""
                if data:
                    heard(direction, len(data))
                queue.put_nowait((max(loop.time() + self.delay, not_before), data))
                not_before = 0.0
                if not data:
                    break
            await sender
        except OSError:
            writer.transport.abort()
        finally:
            sender.cancel()


class Echo:
    """A loopback server that answers every chunk with the same bytes."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()

    def __enter__(self) -> "Echo":
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.sock.close()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c: socket.socket) -> None:
        with c:
            try:
                while data := c.recv(4096):
                    c.sendall(data)
            except OSError:
                pass


def _exchange_ms(host: str, port: int, n: int) -> list[float]:
    out = []
    with socket.create_connection((host, port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(n):
            t0 = time.perf_counter()
            s.sendall(b"x")
            if s.recv(1) != b"x":
                raise OSError("the echo server did not answer")
            out.append((time.perf_counter() - t0) * 1000)
    return out

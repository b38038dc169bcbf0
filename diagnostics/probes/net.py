"""Reaching a host: system DNS and TCP connect, each bounded."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class Resolved:
    status: str  # resolved | not_found | timeout | error
    addresses: list[str]
    detail: str = ""


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


async def resolve(host: str, port: int, timeout: float) -> Resolved:
    if is_ip(host):
        return Resolved("resolved", [host])
    try:
        infos = await asyncio.wait_for(_getaddrinfo(host, port), timeout)
    except asyncio.TimeoutError:
        return Resolved("timeout", [], f"no DNS answer within {timeout:g} s")
    except socket.gaierror as exc:
        if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
            return Resolved("not_found", [], f"[Errno {exc.errno}] {exc.strerror}")
        if exc.errno == socket.EAI_AGAIN:
            return Resolved("timeout", [], f"[Errno {exc.errno}] {exc.strerror}")
        return Resolved("error", [], f"[Errno {exc.errno}] {exc.strerror}")
    except UnicodeError as exc:
        return Resolved("not_found", [], f"not a valid host name: {exc}")
    addrs: list[str] = []
    for info in infos:
        a = info[4][0]
        if a not in addrs:
            addrs.append(a)
    return Resolved("resolved", addrs)


def _getaddrinfo(host: str, port: int) -> asyncio.Future:
    """getaddrinfo in a daemon thread of its own. The loop's default executor would
    do, but asyncio.run() waits for its threads at exit: a resolver that never
    answers (glibc retries for 10 s and more) would hold the program long after
    the step's timeout."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future = loop.create_future()

    def deliver(result, exc) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)

    def work() -> None:
        try:
            result, exc = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), None
        except Exception as e:  # handed to the awaiting coroutine
            result, exc = None, e
        try:
            loop.call_soon_threadsafe(deliver, result, exc)
        except RuntimeError:  # the loop is gone: nobody waits any more
            pass

    threading.Thread(target=work, name="fcp-resolve", daemon=True).start()
    return fut


@dataclass
class Connected:
    status: str  # ok | refused | timeout | unreachable | error
    address: str
    elapsed_ms: int
    detail: str = ""
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def tcp_connect(address: str, port: int, timeout: float, keep: bool = False) -> Connected:
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout)
    except asyncio.TimeoutError:
        return Connected("timeout", address, _ms(t0), f"no answer within {timeout:g} s")
    except ConnectionRefusedError:
        return Connected("refused", address, _ms(t0), "connection refused (TCP RST)")
    except OSError as exc:
        code = exc.errno
        status = "unreachable" if code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL) else "error"
        if code == errno.ETIMEDOUT:
            status = "timeout"
        return Connected(status, address, _ms(t0), f"{exc.strerror or exc} (errno {code})")
    c = Connected("ok", address, _ms(t0), reader=reader, writer=writer)
    if not keep:
        writer.close()
    return c


def _ms(t0: float) -> int:
    return int((time.monotonic() - t0) * 1000)


async def bounded(aw, timeout: float, grace: float = 0.3):
    """`asyncio.wait_for`, but never waits long for a cancelled task to finish.

    psycopg answers a cancellation by asking the server to cancel the query and
    waiting up to 5 s for it; a second cancellation makes it drop the
    connection at once. So: cancel, and cancel again, within `grace` seconds,
    then raise TimeoutError whether or not the task has finished."""
    task = asyncio.ensure_future(aw)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return task.result()
    end = time.monotonic() + grace
    while not task.done() and time.monotonic() < end:
        task.cancel()
        await asyncio.wait({task}, timeout=min(0.05, max(0.0, end - time.monotonic())))
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" noise
    raise asyncio.TimeoutError

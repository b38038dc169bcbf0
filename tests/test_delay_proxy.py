"""The delaying proxy (tests/delay_proxy.py): its added delay as set, and its counts."""

from __future__ import annotations

import socket
import struct
import time

import pytest

from delay_proxy import DelayProxy, Echo


@pytest.fixture
def echo():
    with Echo() as e:
        yield e.port


def _turn(s, data: bytes) -> float:
    t0 = time.perf_counter()
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        got += s.recv(4096)
    return time.perf_counter() - t0


def test_added_delay_measured_within_tolerance():
    with DelayProxy(one_way_delay_s=0.020) as p:
        m = p.measure(samples=5)
    assert m["set_round_trip_ms"] == 40
    # timer slack and a loaded machine add a little, never take away
    assert 39 <= m["added_round_trip_ms"] <= 40 + 25, m


def test_counts_connections_and_round_trips(echo):
    p = DelayProxy()
    host, port = p.start("127.0.0.1", echo, 0.010)
    try:
        with socket.create_connection((host, port)) as s:
            times = [_turn(s, b"ping %d" % i) for i in range(3)]
        with socket.create_connection((host, port)):
            pass  # connected, said nothing: no round trip
        time.sleep(0.1)
        st = p.stats()
        assert (st["connections"], st["round_trips"]) == (2, 3), st
        assert st["bytes_up"] == st["bytes_down"] == 3 * len(b"ping 0")
        assert all(0.019 <= t < 0.2 for t in times), times
        p.reset()
        assert p.stats()["connections"] == 0
    finally:
        p.stop()


def test_bytes_are_not_held_behind_each_other(echo):
    """Five writes 5 ms apart: each comes back one round trip after it was sent
    (a pipe; a sleep per chunk would hold each behind the one before: >= 150 ms)."""
    with DelayProxy("127.0.0.1", echo, 0.030) as p:
        with socket.create_connection((p.host, p.port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t0 = time.perf_counter()
            for c in b"abcde":
                s.sendall(bytes([c]))
                time.sleep(0.005)
            got = b""
            while len(got) < 5:
                got += s.recv(16)
            took = time.perf_counter() - t0
    assert got == b"abcde"
    assert 0.080 <= took < 0.140, took  # the last byte: sent at 20 ms, back 60 ms later


def test_connect_rtt_holds_the_first_bytes_for_the_handshake(echo):
    with DelayProxy("127.0.0.1", echo, 0.020, connect_rtt=True) as p:
        with socket.create_connection((p.host, p.port)) as s:
            first = _turn(s, b"x")
            second = _turn(s, b"y")
    assert first >= 0.080 and 0.040 <= second < first, (first, second)  # 2 round trips, then 1


def test_postgres_through_the_proxy(pg):
    """One SSLRequest (Postgres answers one byte): one connection, one round trip."""
    with DelayProxy(pg.host, pg.port, 0.005) as p:
        with socket.create_connection((p.host, p.port)) as s:
            t = _turn_ssl(s)
        time.sleep(0.05)
        assert p.stats()["connections"] == 1 and p.stats()["round_trips"] == 1
    assert t >= 0.010


def _turn_ssl(s) -> float:
    t0 = time.perf_counter()
    s.sendall(struct.pack("!ii", 8, 80877103))
    assert s.recv(1) in (b"N", b"S")
    return time.perf_counter() - t0


def test_target_down_is_a_closed_connection():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with DelayProxy("127.0.0.1", port, 0.001) as p:
        with socket.create_connection((p.host, p.port), timeout=2) as s:
            try:
                data = s.recv(1)
            except ConnectionResetError:
                data = b""
        assert data == b""

"""The hostile HTTP, DNS and flyctl peers of tests/hostile.py behave as they
claim, against the real client libraries the probes use (httpx, dnspython,
subprocess). The Convex, 6PN-DNS and flyctl probes reuse these servers."""

from __future__ import annotations

import json
import subprocess
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import httpx
import pytest

import hostile


def url(s, path="/"):
    return f"http://{s.host}:{s.port}{path}"


def test_drip_trips_a_read_timeout():
    with hostile.HttpDrip(interval=1.0) as s:
        t0 = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            with httpx.Client(timeout=httpx.Timeout(0.5)) as c:
                with c.stream("GET", url(s)) as r:
                    for _ in r.iter_bytes():
                        pass
        assert time.monotonic() - t0 < 3


def test_huge_body_is_huge_and_a_prefix_is_cheap():
    with hostile.HttpHugeBody() as s:
        with httpx.Client(timeout=2) as c:
            with c.stream("GET", url(s)) as r:
                assert int(r.headers["content-length"]) == 100 * 1024 * 1024
                got = b""
                for chunk in r.iter_bytes():
                    got += chunk
                    if len(got) >= 64 * 1024:
                        break
        assert got.startswith(b"<p>aaa")
        assert s.sent < hostile.HttpHugeBody.SIZE


def test_redirect_loop():
    with hostile.HttpRedirectLoop() as s:
        with httpx.Client(timeout=2, follow_redirects=True, max_redirects=5) as c:
            with pytest.raises(httpx.TooManyRedirects):
                c.get(url(s, "/a"))
        assert s.accepted == 6


def query():
    return dns.message.make_query("acme-db.internal", "AAAA")


def test_dns_garbage():
    with hostile.DnsServer("garbage") as s:
        with pytest.raises(dns.exception.DNSException):
            dns.query.udp(query(), s.host, port=s.port, timeout=1)


def test_dns_truncates_over_udp_and_tcp():
    with hostile.DnsServer("truncate") as s:
        r = dns.query.udp(query(), s.host, port=s.port, timeout=1, ignore_trailing=True)
        assert r.flags & dns.flags.TC and not r.answer
        r = dns.query.tcp(query(), s.host, port=s.port, timeout=1)
        assert r.flags & dns.flags.TC and not r.answer


def test_dns_silent():
    with hostile.DnsServer("silent") as s:
        t0 = time.monotonic()
        with pytest.raises(dns.exception.Timeout):
            dns.query.udp(query(), s.host, port=s.port, timeout=0.5)
        assert time.monotonic() - t0 < 1.5 and s.queries == 1


def test_flyctl_hangs(tmp_path):
    fly = hostile.fake_flyctl(tmp_path, "hang")
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([str(fly), "machines", "list", "--json"], capture_output=True, timeout=0.5)


def test_flyctl_garbage_json(tmp_path):
    fly = hostile.fake_flyctl(tmp_path, "garbage_json")
    r = subprocess.run([str(fly), "machines", "list", "--json"], capture_output=True, text=True, timeout=5)
    assert r.returncode == 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.stdout)

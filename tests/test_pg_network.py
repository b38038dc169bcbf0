"""Name resolution and reachability faults, in a network namespace of the
test's own: a dnsmasq that answers NXDOMAIN, and a subnet whose SYNs vanish."""

import os
import shutil

import pytest
from conftest import APP_PASSWORD, assert_cause, diagnose
from pgcluster import Netns

pytestmark = pytest.mark.netns

SECRETS = (APP_PASSWORD,)


@pytest.fixture(scope="module")
def ns():
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("dnsmasq") is None:
        pytest.skip("needs root, iproute2 and dnsmasq (scripts/setup-test-env installs them)")
    n = Netns().create().with_dns({"db.known.example.com": "10.99.0.2"}).with_blackhole()
    try:
        yield n
    finally:
        n.destroy()


def test_name_that_does_not_resolve(ns):
    d = diagnose("postgres://app:pw-Secret-77x@db.no-such-typo.example.com:5432/appdb", secrets=("pw-Secret-77x",), prefix=ns.prefix)
    assert_cause(d, "net.dns_not_found")
    assert d.step("pg.host")["outcome"] == "public"
    rc = d.report["root_cause"]
    assert "db.no-such-typo.example.com" in rc["title"]
    assert d.seconds < 5


def test_misspelt_fly_name_gets_a_hint(ns):
    d = diagnose("postgres://app:pw-Secret-77x@mypg.interal:5432/appdb", secrets=("pw-Secret-77x",), prefix=ns.prefix)
    assert_cause(d, "net.dns_not_found")
    assert "did you mean mypg.internal?" in d.report["root_cause"]["fix"]["steps"][-1]["text"]


def test_black_holed_address_ends_at_the_timeout(ns):
    """The name resolves (our dnsmasq) to an address whose packets are dropped."""
    d = diagnose("postgres://app:pw-Secret-77x@db.known.example.com:5432/appdb", "--timeout", "1", secrets=("pw-Secret-77x",), prefix=ns.prefix)
    assert_cause(d, "net.connect_timeout")
    assert d.step("pg.dns")["evidence"]["addresses"] == [Netns.BLACKHOLE]
    assert d.step("pg.tcp")["outcome"] == "timeout"
    assert d.report["elapsed_ms"] < 1800, d.report["elapsed_ms"]
    assert d.seconds < 1 + 2.5, d.seconds
    assert Netns.BLACKHOLE in d.report["root_cause"]["explanation"]
    assert "no answer at all within 1" in d.report["root_cause"]["explanation"]


def test_black_holed_literal_address(ns):
    d = diagnose(f"postgres://app:pw-Secret-77x@{Netns.BLACKHOLE}:5432/appdb", "--timeout", "1", secrets=("pw-Secret-77x",), prefix=ns.prefix)
    assert_cause(d, "net.connect_timeout")
    assert d.seconds < 1 + 2.5, d.seconds


def test_address_without_a_route(ns):
    d = diagnose(f"postgres://app:pw-Secret-77x@{Netns.UNREACHABLE}:5432/appdb", "--timeout", "1", secrets=("pw-Secret-77x",), prefix=ns.prefix)
    assert_cause(d, "net.connect_timeout")
    assert d.step("pg.tcp")["outcome"] == "unreachable"
    assert "no route" in d.report["root_cause"]["explanation"]
    assert d.report["elapsed_ms"] < 1000  # refused by the kernel at once, no waiting


def test_resolver_that_never_answers_ends_at_the_timeout():
    """The system resolver itself is black-holed: glibc would retry for 10 s and
    more; the walk (and the process) ends at --timeout, undecided."""
    import json
    import time

    from conftest import run_cli

    if os.geteuid() != 0:
        pytest.skip("needs root")
    n = Netns().create().with_blackhole()
    try:
        n.etc.mkdir(parents=True, exist_ok=True)
        (n.etc / "resolv.conf").write_text(f"nameserver {Netns.BLACKHOLE}\n")
        t0 = time.monotonic()
        r = run_cli("diagnose", "--json", "--timeout", "1", env={"DATABASE_URL": "postgres://app:pw-Secret-77x@db.example.com/appdb"}, prefix=n.prefix)
        seconds = time.monotonic() - t0
    finally:
        n.destroy()
    assert r.returncode == 3, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["verdict"] == "inconclusive"
    dns = next(s for s in report["steps"] if s["node"] == "pg.dns")
    assert dns["outcome"] == "timeout"
    assert seconds < 1 + 2.5, seconds
    assert "pw-Secret-77x" not in r.stdout + r.stderr

"""Fly inputs and flyctl's words: the 6PN resolver flags, and stderr classes (fly.md §2.3)."""

import pytest
from conftest import run_cli

from diagnostics.probes.fly import parse_resolver, wireguard_dns
from diagnostics.probes.flyctl import classify_error, error_line


@pytest.mark.parametrize(
    "text,want",
    [
        ("fdaa::3", ("fdaa::3", 53)),
        ("[fdaa:0:18::3]:5353", ("fdaa:0:18::3", 5353)),
        ("[fdaa::3]", ("fdaa::3", 53)),
        ("10.0.0.1:53", ("10.0.0.1", 53)),
    ],
)
def test_parse_resolver(text, want):
    assert parse_resolver(text) == want


@pytest.mark.parametrize("bad", ["bogus", "fdaa::3:99999x", "[fdaa::3]:0", "host.example:53"])
def test_bad_resolver_is_a_one_line_usage_error(bad):
    with pytest.raises(ValueError):
        parse_resolver(bad)
    r = run_cli("diagnose", "--resolver", bad, "--database-url", "postgres://u@pgdb.internal/db")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--resolver" in r.stderr and "Traceback" not in r.stderr


def test_wireguard_dns_line(tmp_path):
    # fly.md §1.1: the peer config's DNS = line is the org prefix plus ::3
    conf = tmp_path / "fly.conf"
    conf.write_text("[Interface]\nPrivateKey = k\nAddress = fdaa:0:18:a7b:d6b:0:a:2/120\nDNS = fdaa:0:18::3\n")
    assert wireguard_dns(str(conf)) == "fdaa:0:18::3"
    conf.write_text("[Interface]\nAddress = fdaa:0:18:a7b:d6b:0:a:2/120\n")
    assert wireguard_dns(str(conf)) is None
    r = run_cli("diagnose", "--wireguard-config", str(conf), "--database-url", "postgres://u@pgdb.internal/db")
    assert r.returncode == 2 and "DNS =" in r.stderr


@pytest.mark.parametrize(
    "stderr,cls",
    [
        ("Error: no access token available. Please login with 'flyctl auth login'\n", "not_authenticated"),
        ('Error: Could not find App "mydb"\n', "app_not_found"),
        ("Error: Could not resolve App\n", "app_not_found"),
        ("Error: listen tcp 127.0.0.1:5432: bind: address already in use\n", "port_in_use"),
        ("Error: mydb.internal: host was not found in DNS\n", "host_not_found"),
        (
            'Error: tunnel unavailable for organization personal: Error contacting Fly.io API when probing "personal": timed out (context deadline exceeded)\n',
            "tunnel_down",
        ),
        ('Error: tunnel unavailable: failed probing "personal": context deadline exceeded\n', "tunnel_down"),
        ("Error: something new\n", "other"),
    ],
)
def test_flyctl_error_classes(stderr, cls):
    assert classify_error(stderr) == cls
    assert not error_line(stderr).startswith("Error:")

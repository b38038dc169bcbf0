"""A fix never points a Fly app's secret at a laptop-only host: the loopback
address `fly proxy` gives a laptop means nothing on the app's machines."""

from __future__ import annotations

import re

import pytest
from conftest import APP_PASSWORD, diagnose

from diagnostics.causes import Names, load_all
from diagnostics.causes._fixes import app_side_url

LOOPBACK = re.compile(r"127\.\d+\.\d+\.\d+|localhost|\[::1\]")


def secret_commands(fix_steps) -> list[str]:
    return [s["command"] for s in fix_steps if "fly secrets set" in s.get("command", "")]


@pytest.mark.parametrize(
    "url, pg_app, want",
    [
        ("postgres://u:${PGPASSWORD}@127.0.0.1:55432/acme?sslmode=require", "acme-db", "postgres://u:${PGPASSWORD}@acme-db.flycast:5432/acme?sslmode=disable"),
        ("postgres://u:${PGPASSWORD}@localhost:15432/acme", "acme-db", "postgres://u:${PGPASSWORD}@acme-db.flycast:5432/acme?sslmode=disable"),
        ("postgres://u:${PGPASSWORD}@[::1]:5432/acme?connect_timeout=3", None, "postgres://u:${PGPASSWORD}@<PG_HOST>:5432/acme?connect_timeout=3"),
        ("postgres://u@127.0.0.2/acme", None, "postgres://u@<PG_HOST>:5432/acme"),
        # real hosts stay as they are
        ("postgres://u:${PGPASSWORD}@acme-db.flycast:5432/acme?sslmode=disable", "acme-db", None),
        ("postgres://u:${PGPASSWORD}@db.example.com:6543/acme", None, None),
    ],
)
def test_app_side_url(url, pg_app, want):
    names = Names(pg_app=pg_app) if pg_app else Names()
    assert app_side_url(names, url) == (want or url)


def test_no_cause_sets_a_loopback_host_on_an_app():
    """Every cause of the catalog, built for a walk through `fly proxy` on a laptop."""
    names = Names(
        app="acme-web", host="127.0.0.1", port=55432, db="acme", user="acme", sslmode="require", url_var="DATABASE_URL",
        url="postgres://acme:****@127.0.0.1:55432/acme?sslmode=require",
    )
    evidence = {"suggested_url": "postgres://acme:****@127.0.0.1:55432", "url_port": 55432, "open_port": 5433, "user": "acme"}
    checked = 0
    for cause in load_all().values():
        d = cause.diagnose(names, evidence)
        for cmd in secret_commands([s.to_json() for s in d.fix.steps]):
            checked += 1
            assert not LOOPBACK.search(cmd), (cause.id, cmd)
    assert checked >= 5


def test_walk_through_a_local_port_gives_an_app_url(pg):
    """What a laptop gets through `fly proxy 55432:5432 -a acme-db`: a loopback URL."""
    url = pg.url("app", APP_PASSWORD, "appdb", sslmode="require")
    assert url.startswith("postgres://app:") and "@127.0.0.1:" in url
    d = diagnose(url, "--app", "acme-web", "--symptom", "laptop-cant-reach-postgres", secrets=(APP_PASSWORD,))
    assert d.cause == "pg.ssl_required_unsupported"
    cmds = secret_commands(d.report["root_cause"]["fix"]["steps"])
    assert cmds and all(not LOOPBACK.search(c) for c in cmds), cmds
    assert all("<PG_HOST>:5432" in c and "-a acme-web" in c for c in cmds), cmds

    d = diagnose(url, "--app", "acme-web", "--pg-app", "acme-db", "--symptom", "laptop-cant-reach-postgres", secrets=(APP_PASSWORD,))
    cmds = secret_commands(d.report["root_cause"]["fix"]["steps"])
    assert cmds == ['fly secrets set DATABASE_URL="postgres://app:${PGPASSWORD}@acme-db.flycast:5432/appdb?sslmode=disable" -a acme-web'], cmds

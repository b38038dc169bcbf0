"""The Convex track against a stand-in backend (tests/convex_standin.py), a
server that is not Convex, a closed port and an untrusted TLS endpoint."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from convex_standin import Config, NotConvex, StandIn, json_route, self_signed_cert, text_route, throwing_route
from pgcluster import free_port

from diagnostics.probes.convex import Http, classify_route_response, interpret_probe_result

KEY = Config().admin_key
FLYCAST_PW = "flycast-Pw-7731x"


def diagnose(*args, env=None, symptom="convex-cant-reach-postgres", secrets=(KEY, KEY.split("|")[1]), timeout="2"):
    r = run_cli("diagnose", "--json", "--symptom", symptom, "--timeout", timeout, *args, env=env)
    for s in secrets:
        assert s not in r.stdout and s not in r.stderr, "a secret leaked into the output"
    assert r.stdout, r.stderr
    return r, json.loads(r.stdout)


@pytest.fixture
def quick(monkeypatch, capsys, tmp_path):
    """The same `diagnose --json` run in-process (cheaper than a subprocess), for the
    checks that are not a cause id's own test."""

    def run(*args, env=None, symptom="convex-cant-reach-postgres", secrets=(KEY, KEY.split("|")[1]), timeout="2"):
        import os

        from tui.cli import main

        for k in list(os.environ):
            if k.startswith(("DATABASE_URL", "POSTGRES_URL", "CONVEX", "FLY_")):
                monkeypatch.delenv(k)
        for k, v in (env or {}).items():
            monkeypatch.setenv(k, v)
        monkeypatch.chdir(tmp_path)
        code = main(["diagnose", "--json", "--symptom", symptom, "--timeout", timeout, *args])
        out = capsys.readouterr()
        for sec in secrets:
            assert sec not in out.out and sec not in out.err, "a secret leaked into the output"
        return code, json.loads(out.out)

    return run


def cause_of(d) -> str | None:
    return d["root_cause"]["id"] if d["root_cause"] else None


def step(d, node):
    return next(s for s in d["steps"] if s["node"] == node)


@pytest.fixture
def backend(request):
    servers = []

    def make(site=False, tls=None, **cfg):
        s = StandIn(Config(**cfg), site=site, tls_cert=tls).start()
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


# ------------------------------------------------------------------ healthy


def test_healthy_self_hosted_with_postgres(backend, pg):
    b = backend(http_routes={}, cloud_origin=None, site_origin=None)
    r, d = diagnose("--convex-url", b.url, "--admin-key", KEY, "--database-url", pg.url(), secrets=(KEY, pg.url().split(":")[2].split("@")[0]))
    assert r.returncode == 0, "\n".join(f"{s['node']} {s['outcome']} {s['branch']} {s['summary']}" for s in d["steps"])
    assert d["verdict"] == "healthy"
    assert step(d, "convex.http")["status"] == "pass"
    assert step(d, "convex.origins")["status"] == "pass"
    assert step(d, "convex.site")["outcome"] == "router_ok"
    assert step(d, "convex_self.env")["status"] == "skipped"
    assert "convex.metrics_public" not in [f["id"] for f in d["findings"]]
    # the admin key was really sent, as `Convex <key>`
    assert any(h.get("authorization") == f"Convex {KEY}" for _, p, h in b.requests if p == "/api/check_admin_key")


def test_no_convex_url_is_skipped_not_failed():
    r, d = diagnose(symptom="convex-cant-reach-postgres")
    s = step(d, "convex.url")
    assert s["status"] == "skipped" and s["branch"] == "done"
    assert not any(x["node"].startswith("convex.") for x in d["steps"] if x["node"] != "convex.url")
    assert any(n["node"] == "convex.dns" for n in d["not_run"])
    assert cause_of(d) == "config.database_url_missing"  # the Postgres track, not Convex


def test_metrics_public_is_a_warning(quick, backend):
    b = backend(http_routes={}, metrics_public=True)
    r, d = quick("--convex-url", b.url, symptom="self-hosted-backend-down")
    f = [f for f in d["findings"] if f["id"] == "convex.metrics_public"]
    assert f and f[0]["severity"] == "warning"
    assert "DISABLE_METRICS_ENDPOINT=true" in json.dumps(f[0]["fix"])
    assert step(d, "convex.metrics")["status"] == "warn"


# ------------------------------------------------------------------ HTTP actions


def test_http_actions_not_deployed(backend):
    b = backend(http_routes=None)
    r, d = diagnose("--convex-url", b.url, "--http-action", "/stripe/webhook")
    assert cause_of(d) == "convex.http_actions_not_deployed" and r.returncode == 1
    assert d["root_cause"]["evidence"]["body"] == "This Convex deployment does not have HTTP actions enabled."


def test_http_actions_absent_without_a_route_asked_is_not_a_cause(quick, backend):
    b = backend(http_routes=None)
    r, d = quick("--convex-url", b.url)
    s = step(d, "convex.site")
    assert s["outcome"] == "not_deployed_unasked" and s["status"] == "warn"
    assert cause_of(d) != "convex.http_actions_not_deployed"


def test_http_actions_absent_is_a_finding_scripts_see(quick, backend):
    """A step that warns is never silent in the JSON: the warning is a finding with its id."""
    b = backend(http_routes=None)
    r, d = quick("--convex-url", b.url, symptom="self-hosted-backend-down")
    assert step(d, "convex.site")["status"] == "warn"
    f = [f for f in d["findings"] if f["id"] == "convex.http_actions_not_deployed"]
    assert f and f[0]["severity"] == "warning"
    assert "npx convex deploy" in json.dumps(f[0]["fix"])


def test_http_route_not_found(backend):
    b = backend(http_routes={"POST /stripe/webhook": text_route(200, "ok")})
    r, d = diagnose("--convex-url", b.url, "--http-action", "/stripe/webhook")
    assert cause_of(d) == "convex.http_route_not_found" and r.returncode == 1
    assert "GET /stripe/webhook" in d["root_cause"]["title"]


def test_http_route_method(quick, backend):
    b = backend(http_routes={"POST /stripe/webhook": text_route(200, "ok")})
    r, d = quick("--convex-url", b.url, "--http-action", "POST /stripe/webhook")
    assert step(d, "convex.site")["outcome"] == "ok"
    assert ("POST", "/http/stripe/webhook") in [(m, p) for m, p, _ in b.requests]


def test_deployment_url_with_http_path(quick):
    r, d = quick("--convex-url", "https://my-backend.fly.dev/http")
    assert cause_of(d) == "config.convex_url_invalid"
    assert d["root_cause"]["evidence"]["suggested_url"] == "https://my-backend.fly.dev"


def test_http_route_answers(quick, backend):
    b = backend(http_routes={"GET /ping": text_route(200, "pong")})
    r, d = quick("--convex-url", b.url, "--http-action", "ping")
    assert step(d, "convex.site")["outcome"] == "ok"
    assert ("GET", "/http/ping") in [(m, p) for m, p, _ in b.requests]


def test_http_action_failed_5xx(backend):
    b = backend(http_routes={"GET /hook": throwing_route("db down")})
    r, d = diagnose("--convex-url", b.url, "--http-action", "/hook")
    assert cause_of(d) == "convex.http_action_failed" and r.returncode == 1
    assert "Server Error" in d["root_cause"]["evidence"]["error"]
    assert "npx convex logs" in json.dumps(d["root_cause"]["fix"])


@pytest.mark.parametrize("status", [200, 560])
def test_function_error_in_body(quick, backend, status):
    body = {"status": "error", "errorMessage": "[Request ID: 1a2b] Server Error\nUncaught Error: no rows"}  # §3.3
    b = backend(http_routes={"GET /hook": json_route(status, body)})
    r, d = quick("--convex-url", b.url, "--http-action", "/hook")
    assert cause_of(d) == "convex.http_action_failed"
    assert d["root_cause"]["evidence"]["status"] == status


def test_site_url_missing_http_prefix(backend):
    # Fly: only 3210 is public; the user's site URL lacks /http (§6 P18)
    b = backend(http_routes={})
    r, d = diagnose("--convex-url", b.url, "--convex-site-url", b.url)
    assert cause_of(d) == "convex.site_url_missing_http_prefix" and r.returncode == 1
    assert d["root_cause"]["evidence"]["suggested_site_url"] == b.url + "/http"
    assert f"CONVEX_SITE_ORIGIN={b.url}/http" in json.dumps(d["root_cause"]["fix"])


def test_site_url_without_http_while_the_backend_says_http(backend):
    """The backend's CONVEX_SITE_ORIGIN is exactly <url>/http: the backend is right,
    the site URL given lacks the prefix (not an origin mismatch)."""
    b = backend(http_routes={}, cloud_origin=None, site_origin=None)
    r, d = diagnose("--convex-url", b.url, "--admin-key", KEY, "--convex-site-url", b.url)
    assert step(d, "convex.origins")["outcome"] == "site_missing_prefix"
    assert cause_of(d) == "convex.site_url_missing_http_prefix" and r.returncode == 1
    rc = d["root_cause"]
    assert rc["evidence"]["canonical_site_origin"] == b.url + "/http" and rc["evidence"]["suggested_site_url"] == b.url + "/http"
    assert "the backend is right" in rc["explanation"].lower()
    fix = json.dumps(rc["fix"])
    assert f"CONVEX_SITE_URL={b.url}/http" in fix and "fly secrets set CONVEX_SITE_ORIGIN" not in fix


def test_site_url_elsewhere_is_still_an_origin_mismatch(quick, backend):
    b = backend(http_routes={}, cloud_origin=None, site_origin=None)
    code, d = quick("--convex-url", b.url, "--admin-key", KEY, "--convex-site-url", "http://127.0.0.1:1/hooks")
    assert cause_of(d) == "convex.origin_mismatch"


def test_site_proxy_3211_style(quick, backend):
    api = backend(http_routes={"GET /ping": text_route(200, "pong")})
    site = backend(site=True, http_routes={"GET /ping": text_route(200, "pong")})
    r, d = quick("--convex-url", api.url, "--convex-site-url", site.url, "--http-action", "/ping")
    assert step(d, "convex.site")["outcome"] == "ok"


def test_site_proxy_answers_its_own_meta_routes(quick, backend):
    """The 3211 proxy answers /version and /metrics itself (crates/local_backend/src/proxy.rs):
    a route asked for there never reaches an HTTP action."""
    import httpx

    site = backend(site=True, http_routes={"GET /metrics": text_route(200, "mine")}, metrics_public=True)
    assert httpx.get(site.url + "/metrics").text.startswith("# HELP")
    assert httpx.get(site.url + "/version").text == "unknown"
    api = backend(http_routes={"GET /metrics": text_route(200, "mine")})
    code, d = quick("--convex-url", api.url, "--convex-site-url", site.url, "--http-action", "/metrics")
    assert cause_of(d) == "convex.http_route_not_found"
    assert step(d, "convex.site")["outcome"] == "proxy_meta_route"
    assert f"{api.url}/http/metrics" in d["root_cause"]["evidence"]["hint"]
    assert "site proxy" in d["root_cause"]["explanation"]


def test_metrics_public_on_the_site_proxy_only(quick, backend):
    """/metrics private where the API is served, public on the site proxy's origin."""
    api = backend(http_routes={})
    site = backend(site=True, http_routes={}, metrics_public=True)
    code, d = quick("--convex-url", api.url, "--convex-site-url", site.url)
    s = step(d, "convex.metrics")
    assert s["outcome"] == "public" and s["evidence"]["url"] == site.url + "/metrics"
    assert "convex.metrics_public" in [f["id"] for f in d["findings"]]


@pytest.mark.parametrize("prefix", ["Convex ", "convex ", "CONVEX "])
def test_standin_admin_prefix_is_case_insensitive(backend, prefix):
    """crates/local_backend/src/authentication.rs:63 eq_ignore_ascii_case("convex ")."""
    import httpx

    b = backend()
    r = httpx.get(b.url + "/api/check_admin_key", headers={"Authorization": prefix + KEY})
    assert r.status_code == 200 and r.json()["success"] is True
    assert httpx.get(b.url + "/api/check_admin_key", headers={"Authorization": "Bearer " + KEY}).json()["code"] == "InvalidAdminKey"


def test_admin_key_pasted_with_its_header_prefix(quick, backend):
    b = backend()
    code, d = quick("--convex-url", b.url, env={"CONVEX_SELF_HOSTED_ADMIN_KEY": "convex " + KEY})
    assert cause_of(d) == "convex.admin_key_invalid"
    assert "prefix" in d["root_cause"]["evidence"]["form"]


# ------------------------------------------------------------------ admin checks


def test_admin_key_rejected_401(backend):
    b = backend()
    wrong = "convex-self-hosted|" + "ab" * 40
    r, d = diagnose("--convex-url", b.url, "--admin-key", wrong, secrets=(KEY, wrong, "ab" * 40))
    assert cause_of(d) == "convex.admin_key_invalid" and r.returncode == 1
    ev = d["root_cause"]["evidence"]
    assert ev["status"] == 401 and ev["code"] == "BadAdminKey"
    fix = json.dumps(d["root_cause"]["fix"])
    assert "./generate_admin_key.sh" in fix and "INSTANCE_SECRET" in fix and "fly secrets import" in fix


def test_admin_key_rejected_400_form(backend):
    b = backend(admin_status=400)
    r, d = diagnose("--convex-url", b.url, env={"CONVEX_SELF_HOSTED_ADMIN_KEY": KEY})
    assert cause_of(d) == "convex.admin_key_invalid"
    assert d["root_cause"]["evidence"]["status"] == 400 and d["root_cause"]["evidence"]["code"] == "InvalidAdminKey"
    assert d["inputs"]["admin_key"] == {"value": "****", "source": "env:CONVEX_SELF_HOSTED_ADMIN_KEY"}


def test_admin_key_with_a_line_break_is_not_sent(quick, backend):
    b = backend()
    broken = KEY[:30] + "\n" + KEY[30:]
    r, d = quick("--convex-url", b.url, env={"CONVEX_SELF_HOSTED_ADMIN_KEY": broken}, secrets=(KEY[:30], KEY[31:]))
    assert cause_of(d) == "convex.admin_key_invalid"
    assert d["root_cause"]["evidence"]["code"] == "MalformedKey"
    assert not [p for _, p, _ in b.requests if p == "/api/check_admin_key"]


def test_admin_key_for_another_instance(quick, backend):
    b = backend(instance_name="prod-backend")
    other = "convex-self-hosted|" + "cd" * 40
    r, d = quick("--convex-url", b.url, "--admin-key", other, secrets=(other, "cd" * 40))
    ev = d["root_cause"]["evidence"]
    assert ev["key_instance"] == "convex-self-hosted" and ev["deployment_instance"] == "prod-backend"


@pytest.mark.parametrize("cloud,site", [("", ""), ("http://127.0.0.1:3210", "http://127.0.0.1:3211")])
def test_origin_mismatch(backend, cloud, site):
    b = backend(http_routes={}, cloud_origin=cloud, site_origin=site)
    r, d = diagnose("--convex-url", b.url, "--admin-key", KEY)
    assert cause_of(d) == "convex.origin_mismatch" and r.returncode == 1
    fix = json.dumps(d["root_cause"]["fix"])
    assert f"CONVEX_CLOUD_ORIGIN={b.url} CONVEX_SITE_ORIGIN={b.url}/http" in fix


def test_origin_mismatch_on_an_older_backend(quick, backend):
    """No /api/v1/get_canonical_urls: the system queries give the origins (§3.2)."""
    b = backend(http_routes={}, cloud_origin="", site_origin="", canonical_urls_route=False)
    r, d = quick("--convex-url", b.url, "--admin-key", KEY)
    assert cause_of(d) == "convex.origin_mismatch"
    assert ("POST", "/api/query") in [(m, p) for m, p, _ in b.requests]


def test_cloud_deployment_with_flycast_postgres(backend, tmp_path):
    url = f"postgres://app_user:{FLYCAST_PW}@my-pg.flycast:5432/app?sslmode=disable"
    b = backend(kind="cloud", http_routes={}, env={"DATABASE_URL": url, "OTHER": "x"})
    rec = tmp_path / "walk.json"
    r, d = diagnose("--convex-url", b.url, "--admin-key", KEY, "--record", str(rec), secrets=(KEY, FLYCAST_PW))
    text = rec.read_text()
    assert "cloud_private" in text and FLYCAST_PW not in text and KEY.split("|")[1] not in text
    assert cause_of(d) == "convex.cloud_private_database_host" and r.returncode == 1
    rc = d["root_cause"]
    assert rc["evidence"]["pg_host"] == "my-pg.flycast" and rc["evidence"]["deployment_kind"] == "cloud"
    fix = json.dumps(rc["fix"])
    for needle in ("fly ips allocate-v4 -a my-pg", "pg_tls", "sslmode=require", "npx convex env set DATABASE_URL", "superuser", "${PGPASSWORD}"):
        assert needle in fix, needle


def test_self_hosted_with_flycast_postgres_is_fine(quick, backend):
    b = backend(http_routes={}, cloud_origin=None, site_origin=None, env={"DATABASE_URL": f"postgres://u:{FLYCAST_PW}@my-pg.flycast:5432/app"})
    r, d = quick("--convex-url", b.url, "--admin-key", KEY, secrets=(KEY, FLYCAST_PW))
    assert step(d, "convex.env")["outcome"] == "ok"


def diagnose_named(tmp_path, names, *args, secrets=()):
    """Run the CLI in a private mount namespace whose /etc/hosts maps `names` to
    127.0.0.1 and whose resolver (127.0.0.1:53) answers nothing: real Cloud host
    names, resolved by the system resolver, served by the stand-in."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    hosts, resolv = tmp_path / "hosts", tmp_path / "resolv.conf"
    hosts.write_text("127.0.0.1 localhost\n" + "".join(f"127.0.0.1 {n}\n" for n in names))
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "POSTGRES_URL", "CONVEX", "FLY_"))}
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1")
    script = f'mount --bind {hosts} /etc/hosts && mount --bind {resolv} /etc/resolv.conf && exec "$@"'
    cmd = ["unshare", "-m", "sh", "-c", script, "sh", sys.executable, "-m", "tui", "diagnose", "--json", "--timeout", "2", *args]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    if r.returncode not in (0, 1, 3) and not r.stdout:
        pytest.skip(f"needs a private mount namespace (unshare -m as root): {r.stderr.strip()[:200]}")
    for s in secrets:
        assert s not in r.stdout and s not in r.stderr
    return r, json.loads(r.stdout)


def test_cloud_host_name_and_private_database_url(backend, tmp_path):
    """Cloud recognised by its .convex.cloud name; no admin key, so the --database-url
    given for the Convex side is the evidence (root-causes.md)."""
    b = backend(kind="cloud", http_routes={})
    url = f"http://happy-cat-123.convex.cloud:{b.port}"
    r, d = diagnose_named(
        tmp_path,
        ["happy-cat-123.convex.cloud", "happy-cat-123.convex.site"],
        "--symptom", "convex-cant-reach-postgres", "--convex-url", url,
        "--database-url", f"postgres://app:{FLYCAST_PW}@top2.nearest.of.my-pg.internal:5432/app",
        secrets=(FLYCAST_PW,),
    )  # fmt: skip
    assert step(d, "convex.url")["outcome"] == "cloud"
    assert cause_of(d) == "convex.cloud_private_database_host" and r.returncode == 1
    assert d["root_cause"]["evidence"]["pg_app"] == "my-pg"
    assert "fly ips allocate-v4 -a my-pg" in json.dumps(d["root_cause"]["fix"])


def test_cloud_site_origin_is_derived(backend, tmp_path):
    b = backend(kind="cloud", http_routes={})
    r, d = diagnose_named(tmp_path, ["happy-cat-123.convex.cloud", "happy-cat-123.convex.site"], "--convex-url", f"http://happy-cat-123.convex.cloud:{b.port}")
    s = step(d, "convex.site")
    assert s["outcome"] == "router_ok" and s["evidence"]["site_url"] == f"http://happy-cat-123.convex.site:{b.port}"
    assert step(d, "convex.metrics")["status"] == "skipped"  # Cloud


def test_site_origin_on_port_3211_behind_fly(backend, tmp_path):
    """On Fly only 3210 is public: CONVEX_SITE_ORIGIN=https://<app>.fly.dev:3211 can never answer (§2)."""
    b = backend(http_routes={})
    url = f"http://my-backend.fly.dev:{b.port}"
    b.config.cloud_origin, b.config.site_origin = url, "http://my-backend.fly.dev:3211"
    r, d = diagnose_named(tmp_path, ["my-backend.fly.dev"], "--symptom", "convex-cant-reach-postgres", "--convex-url", url, "--admin-key", KEY, secrets=(KEY,))
    assert cause_of(d) == "convex.origin_mismatch" and r.returncode == 1
    assert f"CONVEX_SITE_ORIGIN={url}/http -a my-backend" in json.dumps(d["root_cause"]["fix"])


def test_dns_failure(tmp_path):
    r, d = diagnose_named(tmp_path, [], "--symptom", "convex-cant-reach-postgres", "--convex-url", "https://no-such-deployment-9.convex.cloud")
    assert cause_of(d) == "convex.unreachable" and r.returncode == 1
    assert d["root_cause"]["evidence"]["layer"] == "DNS"
    assert "DNS failed" in d["root_cause"]["title"]


# ------------------------------------------------------------------ not Convex, unreachable


def test_not_convex():
    s = NotConvex()
    try:
        r, d = diagnose("--convex-url", s.url)
    finally:
        s.stop()
    assert cause_of(d) == "convex.not_convex" and r.returncode == 1
    assert "nginx" in d["root_cause"]["evidence"]["server"]


def test_proxy_answers_but_the_backend_is_down():
    s = NotConvex(status=502, server="Fly/8d9a2e1c (2026-11-20)", body=b"")
    try:
        r, d = diagnose("--convex-url", s.url)
    finally:
        s.stop()
    assert cause_of(d) == "convex.unreachable" and r.returncode == 1
    assert d["root_cause"]["evidence"]["layer"] == "HTTP" and "502" in d["root_cause"]["evidence"]["detail"]


def test_nothing_listening():
    r, d = diagnose("--convex-url", f"http://127.0.0.1:{free_port()}")
    assert cause_of(d) == "convex.unreachable" and r.returncode == 1
    assert d["root_cause"]["evidence"]["layer"] == "TCP"
    assert "TCP failed" in d["root_cause"]["title"]


def test_http_never_answers():
    """TCP is accepted (the kernel completes the handshake) but no HTTP answer comes."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        r, d = diagnose("--convex-url", f"http://127.0.0.1:{srv.getsockname()[1]}", timeout="1")
    finally:
        srv.close()
    assert cause_of(d) == "convex.unreachable" and r.returncode == 1
    assert d["root_cause"]["evidence"]["layer"] == "HTTP"
    assert step(d, "convex.http")["elapsed_ms"] < 3000


def test_untrusted_tls(backend, tmp_path):
    b = backend(tls=self_signed_cert(tmp_path))
    r, d = diagnose("--convex-url", b.url)
    assert cause_of(d) == "convex.unreachable" and r.returncode == 1
    ev = d["root_cause"]["evidence"]
    assert ev["layer"] == "TLS" and "certificate verify failed" in ev["detail"]


# ------------------------------------------------------------------ wrong origins (config.convex_url_invalid)


def test_site_origin_given_as_deployment_url():
    r, d = diagnose("--convex-url", "https://happy-cat-123.convex.site")
    assert cause_of(d) == "config.convex_url_invalid" and r.returncode == 1
    assert d["root_cause"]["evidence"]["suggested_url"] == "https://happy-cat-123.convex.cloud"


def test_site_and_api_origins_swapped(quick):
    r, d = quick("--convex-url", "https://happy-cat-123.convex.cloud", "--convex-site-url", "https://happy-cat-123.convex.cloud")
    assert cause_of(d) == "config.convex_url_invalid"
    assert ".convex.site" in d["root_cause"]["explanation"]


def test_quoted_url_in_env(quick):
    r, d = quick(env={"CONVEX_URL": '"https://happy-cat-123.convex.cloud"'})
    assert cause_of(d) == "config.convex_url_invalid"
    assert "quotes" in d["root_cause"]["explanation"]


def test_proxy_port_given_as_deployment_url(quick, backend):
    site = backend(site=True, http_routes={})
    r, d = quick("--convex-url", site.url)
    assert cause_of(d) == "config.convex_url_invalid"
    assert "HTTP actions" in d["root_cause"]["explanation"]


def test_unparsable_flag_is_usage_error():
    r = run_cli("diagnose", "--json", "--convex-url", "ftp://x")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


# ------------------------------------------------------------------ pure classifiers


@pytest.mark.parametrize(
    "status,body,kind",
    [
        (404, "No matching routes found", "no_route"),
        (404, "This Convex deployment does not have HTTP actions enabled.", "not_deployed"),
        (404, "", "empty_404"),
        (500, '{"code":"[Request ID: 1] Server Error"}', "failed"),
        (560, '{"status":"error","errorMessage":"x"}', "function_error"),
        (200, '{"status":"success","value":1}', "answered"),
    ],
)
def test_classify_route_response(status, body, kind):
    assert classify_route_response(Http(url="u", status=status, body=body)) == kind


@pytest.mark.parametrize(
    "result,kind,outcome",
    [
        ({"ok": True, "host": "db.example.com", "latencyMs": 3}, "cloud", "ok"),
        ({"ok": False, "host": "my-pg.flycast", "failedAt": "dns", "error": {"code": "ENOTFOUND"}}, "cloud", "cloud_private"),
        ({"ok": False, "host": "my-pg.flycast", "failedAt": "dns", "error": {"code": "ENOTFOUND"}}, "self_hosted", "dns_not_found"),
        ({"ok": False, "host": "db.example.com", "failedAt": "auth", "error": {"code": "28P01"}}, "cloud", "auth_failed"),
        ({"ok": False, "host": "db.example.com", "failedAt": "database", "error": {"code": "3D000"}}, "cloud", "database_missing"),
        ({"ok": False, "host": "db.example.com", "failedAt": "tls", "error": {"code": "DEPTH_ZERO_SELF_SIGNED_CERT"}}, "cloud", "ssl_verify_failed"),
    ],
)
def test_interpret_probe_result(result, kind, outcome):
    assert interpret_probe_result(result, kind)[0] == outcome


def test_convex_trees_are_whole():
    """Both tracks exist, nothing dangles, and every convex/convex_self error cause is reachable."""
    from diagnostics import causes, tree

    tree.load()
    assert {"convex", "convex_self"} <= set(tree.TRACKS)
    assert [p for p in tree.validate() if "convex" in p] == []
    targets = {t[6:] for n in tree.NODES.values() for t in n.branches.values() if t.startswith("cause:")}
    ids = {c.id for c in causes.load_all().values() if c.layer in ("convex", "convex_self") and c.severity == "error"}
    assert ids | {"config.convex_url_invalid"} <= targets
    assert causes.get("convex.metrics_public").severity == "warning"

"""`fcp-doctor convex-probe init` and the module it writes: it type-checks
against the real `convex` npm package, its Postgres probe runs under Node
against real PostgreSQL, and the walk calls its route."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, run_cli
from convex_standin import Config, StandIn
from pgcluster import SUPERPASS

NODE_DIR = ROOT / "tests" / ".tmp" / "node"  # npm packages cached between runs (gitignored)
PACKAGES = ("convex", "pg", "typescript", "@types/pg", "@types/node")
BAD_PW = "wrong-Pw-0093q"
TSCONFIG = {
    # the tsconfig `npx convex dev` writes into convex/, plus node types for the "use node" file
    "compilerOptions": {
        "allowJs": True, "strict": True, "moduleResolution": "Bundler", "jsx": "react-jsx", "skipLibCheck": False,
        "allowSyntheticDefaultImports": True, "target": "ESNext", "lib": ["ES2021", "dom"],
        "forceConsistentCasingInFileNames": True, "module": "ESNext", "isolatedModules": True, "noEmit": True, "types": ["node"],
    },
    "include": ["./**/*"],
}  # fmt: skip


@pytest.fixture(scope="session")
def node_modules() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("node and npm are not installed")
    if not all((NODE_DIR / "node_modules" / p / "package.json").is_file() for p in PACKAGES):
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        try:
            r = subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
                cwd=NODE_DIR, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.skip("npm install timed out: the npm registry is unreachable")
        if r.returncode != 0:
            pytest.skip(f"npm install failed (registry unreachable?): {r.stderr.strip()[-300:]}")
    return NODE_DIR / "node_modules"


@pytest.fixture
def project(node_modules):
    """A Convex project folder inside the npm cache dir, so `convex` and `pg` resolve."""
    d = NODE_DIR / f"proj-{uuid.uuid4().hex[:8]}"
    (d / "convex").mkdir(parents=True)
    (d / "package.json").write_text(json.dumps({"name": "app", "private": True, "dependencies": {"convex": "*", "pg": "*"}}))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def probe_js(node_modules) -> Path:
    """fcpDoctorNode.ts bundled the way Convex bundles it (esbuild, packages external)."""
    out = NODE_DIR / "build" / "fcpDoctorNode.cjs"
    out.parent.mkdir(parents=True, exist_ok=True)
    src = ROOT / "diagnostics" / "convex_probe" / "templates" / "fcpDoctorNode.ts"
    r = subprocess.run(
        [str(node_modules / ".bin" / "esbuild"), str(src), "--bundle", "--platform=node", "--format=cjs", "--packages=external", f"--outfile={out}", "--log-level=warning"],
        capture_output=True, text=True, timeout=60, cwd=NODE_DIR,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def run_probe(probe_js: Path, url: str) -> dict:
    script = f"require({json.dumps(str(probe_js))}).probePostgres(process.env.PROBE_URL, 'DATABASE_URL', 3000).then(r => console.log(JSON.stringify(r)))"
    r = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, cwd=NODE_DIR, env={**os.environ, "PROBE_URL": url})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# ------------------------------------------------------------------ init


def test_init_writes_the_module_and_keeps_the_token_secret(tmp_path):
    (tmp_path / "convex").mkdir()
    r = run_cli("convex-probe", "init", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for name in ("fcpDoctorNode.ts", "fcpDoctorHttp.ts", "http.ts"):
        assert (tmp_path / "convex" / name).is_file()
    node = (tmp_path / "convex" / "fcpDoctorNode.ts").read_text()
    assert node.startswith('"use node";') and 'from "pg"' in node
    token = (tmp_path / ".env.local").read_text().split("FCP_DOCTOR_TOKEN=")[1].strip()
    assert len(token) >= 32 and token not in r.stdout + r.stderr
    assert "npx convex env set FCP_DOCTOR_TOKEN" in r.stdout
    # again: same files, same token
    r2 = run_cli("convex-probe", "init", cwd=tmp_path)
    assert (tmp_path / ".env.local").read_text().count("FCP_DOCTOR_TOKEN=") == 1 and "same" in r2.stdout


def test_init_leaves_an_existing_router_alone(tmp_path):
    (tmp_path / "convex").mkdir()
    mine = 'import { httpRouter } from "convex/server";\nconst http = httpRouter();\nexport default http;\n'
    (tmp_path / "convex" / "http.ts").write_text(mine)
    r = run_cli("convex-probe", "init", cwd=tmp_path)
    assert (tmp_path / "convex" / "http.ts").read_text() == mine
    assert "registerFcpDoctorRoutes(http);" in r.stdout


def test_init_outside_a_convex_project(tmp_path):
    r = run_cli("convex-probe", "init", cwd=tmp_path)
    assert r.returncode == 2 and "no convex/ folder" in r.stderr and r.stderr.count("\n") == 1


# ------------------------------------------------------------------ the real convex package


def test_module_type_checks_against_convex(project, node_modules):
    r = run_cli("convex-probe", "init", cwd=project)
    assert r.returncode == 0, r.stderr
    (project / "convex" / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    t = subprocess.run([str(node_modules / ".bin" / "tsc"), "-p", "convex/tsconfig.json"], cwd=project, capture_output=True, text=True, timeout=120)
    assert t.returncode == 0, t.stdout + t.stderr


def test_type_check_catches_a_broken_module(project, node_modules):
    """The check above can fail: a wrong function reference type is an error."""
    run_cli("convex-probe", "init", cwd=project)
    http = project / "convex" / "fcpDoctorHttp.ts"
    http.write_text(http.read_text().replace("const result: ProbeResult =", "const result: number ="))
    (project / "convex" / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    t = subprocess.run([str(node_modules / ".bin" / "tsc"), "-p", "convex/tsconfig.json"], cwd=project, capture_output=True, text=True, timeout=120)
    assert t.returncode != 0 and "fcpDoctorHttp.ts" in t.stdout


# ------------------------------------------------------------------ the probe under Node, against PostgreSQL


def test_probe_healthy(probe_js, pg):
    res = run_probe(probe_js, pg.url())
    assert res["ok"] is True and res["failedAt"] is None
    assert res["steps"]["dns"]["ok"] and res["steps"]["tcp"]["ok"] and res["steps"]["auth"]["ok"]
    assert res["steps"]["tls"]["offered"] is False  # the test cluster has no TLS
    assert isinstance(res["latencyMs"], (int, float)) and res["host"] == "127.0.0.1" and res["port"] == pg.port
    assert SUPERPASS not in json.dumps(res)


def test_probe_wrong_password(probe_js, pg):
    res = run_probe(probe_js, pg.url(password=BAD_PW))
    assert res["ok"] is False and res["failedAt"] == "auth" and res["error"]["code"] == "28P01"
    assert "password authentication failed" in res["error"]["message"]
    assert BAD_PW not in json.dumps(res)


def test_probe_missing_database(probe_js, pg):
    res = run_probe(probe_js, pg.url(db="no_such_db"))
    assert res["failedAt"] == "database" and res["error"]["code"] == "3D000"


def test_probe_nothing_listening(probe_js):
    from pgcluster import free_port

    res = run_probe(probe_js, f"postgres://u:{BAD_PW}@127.0.0.1:{free_port()}/db")
    assert res["failedAt"] == "tcp" and res["error"]["code"] == "ECONNREFUSED"


# ------------------------------------------------------------------ the walk calls the route


def _probe_route(probe_js: Path, token: str, database_url: str):
    """The deployed route's behaviour (fcpDoctorHttp.ts): Bearer token, then the
    Node action's result as JSON; here the action really runs under Node."""

    def route(method, path, headers):
        if headers.get("authorization") != f"Bearer {token}":
            return 401, json.dumps({"error": "bad token"}), "application/json"
        return 200, json.dumps(run_probe(probe_js, database_url)), "application/json"

    return route


@pytest.mark.parametrize("password,cause", [(SUPERPASS, None), (BAD_PW, "pg.auth_failed")])
def test_walk_asks_convex_about_postgres(probe_js, pg, tmp_path, password, cause):
    token = "tok-" + uuid.uuid4().hex
    (tmp_path / ".env.local").write_text(f"FCP_DOCTOR_TOKEN={token}\n")
    b = StandIn(Config(http_routes={"GET /fcp-doctor/postgres": _probe_route(probe_js, token, pg.url(password=password))})).start()
    try:
        r = run_cli("diagnose", "--json", "--symptom", "convex-cant-reach-postgres", "--timeout", "3", "--convex-url", b.url, "--database-url", pg.url(), cwd=tmp_path)
    finally:
        b.stop()
    for s in (token, BAD_PW, SUPERPASS):
        assert s not in r.stdout and s not in r.stderr
    d = json.loads(r.stdout)
    s = next(x for x in d["steps"] if x["node"] == "convex.pg_from_convex")
    assert s["evidence"]["seen_from"].startswith("inside Convex")
    if cause is None:
        assert s["outcome"] == "ok" and r.returncode == 0, d["root_cause"]
    else:
        assert d["root_cause"]["id"] == cause and r.returncode == 1
        assert d["root_cause"]["evidence"]["code"] == "28P01"


def test_walk_probe_route_not_deployed(tmp_path):
    (tmp_path / ".env.local").write_text("FCP_DOCTOR_TOKEN=tok-abcdef0123456789\n")
    b = StandIn(Config(http_routes={})).start()
    try:
        r = run_cli("diagnose", "--json", "--symptom", "convex-cant-reach-postgres", "--timeout", "2", "--convex-url", b.url, cwd=tmp_path)
    finally:
        b.stop()
    d = json.loads(r.stdout)
    assert d["root_cause"]["id"] == "convex.http_route_not_found" and r.returncode == 1
    assert d["root_cause"]["evidence"]["route"] == "/fcp-doctor/postgres"

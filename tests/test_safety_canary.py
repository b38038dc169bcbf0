"""A canary secret in every input — the URL's password (flag, environment,
.env, .env.local), admin and deploy keys, a backend environment, fly.toml —
never appears in any output: stdout, stderr, JSON, the recording, the
Markdown export, error messages."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import quote

import pytest

import hostile

PW = "Cnry7Qx2/Lw9@vT"  # needs percent-encoding in a URL
HEX = "c0ffee5ec7e7a11ce0ddba11"
TOKEN = "Tok3nCanaryZz81"
CANARIES = (PW, quote(PW, safe=""), HEX, TOKEN)


def url(host: str, port: int, pw: str = PW, db: str = "app") -> str:
    return f"postgres://canary:{quote(pw, safe='')}@{host}:{port}/{db}"


@pytest.fixture(scope="module")
def canary_role(pg):
    pg.add_role("canary", PW)
    pg.psql('CREATE DATABASE app OWNER "canary"')
    pg.psql('CREATE DATABASE convex_self_hosted OWNER "canary"')  # backend.env's instance database
    return pg


def project(tmp: Path, database_url: str, toml_extra: str = "") -> Path:
    """A project folder with the canary in every file fcp-doctor reads."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / ".env").write_text(f"DATABASE_URL={database_url}\nCONVEX_DEPLOY_KEY=prod:acme-otter-123|{HEX}\n")
    (tmp / ".env.local").write_text(f"CONVEX_SELF_HOSTED_ADMIN_KEY='convex-self-hosted|{HEX}'\nAPI_TOKEN={TOKEN}\n")
    (tmp / "fly.toml").write_text(f'app = "acme-web"\n# old password was {PW}\n[env]\n  API_TOKEN = "{TOKEN}"\n{toml_extra}')
    (tmp / "backend.env").write_text(f"POSTGRES_URL={database_url.rsplit('/', 1)[0]}\nINSTANCE_SECRET={HEX}\nDO_NOT_REQUIRE_SSL=1\n")
    return tmp


def assert_clean(*texts: str) -> None:
    for t in texts:
        for c in CANARIES:
            assert c not in t, f"canary {c!r} leaked: ...{t[max(0, t.find(c) - 80): t.find(c) + 40]}..."


def files_text(d: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in d.iterdir() if p.is_file() and p.suffix in (".json", ".md", ".bak", ".txt"))


def walk_all_ways(cli, cwd: Path, extra=(), env=None, codes=(0, 1, 3)):
    base = ["--symptom", "everything", "--timeout", "2", "--admin-key", f"convex-self-hosted|{HEX}", "--backend-env", "backend.env", *extra]
    outs = []
    for mode in (["--plain"], ["--json"]):
        rec = cwd / f"walk{len(outs)}.json"
        r = cli("diagnose", *mode, "--record", str(rec), *base, cwd=cwd, env=env)
        assert r.returncode in codes, r.stderr
        outs += [r.stdout, r.stderr]
        if rec.exists():
            rp = cli("replay", str(rec), "--plain", "--speed", "0", cwd=cwd)
            outs += [rp.stdout, rp.stderr]
    outs.append(files_text(cwd))
    assert_clean(*outs)
    return outs


def test_healthy_walk_uses_the_canary_and_never_shows_it(cli, canary_role, tmp_path):
    u = url(canary_role.host, canary_role.port)
    d = project(tmp_path / "p", u)
    outs = walk_all_ways(cli, d, env={"DATABASE_URL": u}, codes=(0,))
    assert "postgres://canary:****@" in outs[0]  # the walk really used it, masked
    assert any('"verdict": "healthy"' in o for o in outs)


def test_auth_failure(cli, canary_role, tmp_path):
    u = url(canary_role.host, canary_role.port, pw=PW + "x")
    d = project(tmp_path / "p", u)
    outs = walk_all_ways(cli, d, extra=["--database-url", u], codes=(1,))
    assert "pg.auth_failed" in outs[0]


def test_unparsable_url_in_env_file(cli, tmp_path):
    bad = f"postgres://canary:{PW}@127.0.0.1:5432/app"  # unescaped '/' and '@' in the password
    d = project(tmp_path / "p", bad)
    outs = walk_all_ways(cli, d, codes=(1,))
    assert "config.database_url_invalid" in outs[0]


def test_unparsable_url_flag(cli, tmp_path):
    d = project(tmp_path / "p", "postgres://x@127.0.0.1/app")
    r = cli("diagnose", "--database-url", f"postgres://canary:{PW}@127.0.0.1:99999/app", cwd=d)
    assert r.returncode == 2
    assert_clean(r.stdout, r.stderr)


def test_broken_fly_toml_line_with_the_token(cli, tmp_path):
    d = project(tmp_path / "p", "postgres://x@127.0.0.1:1/app", toml_extra=f'  SECRET_KEY = "{TOKEN}\n')
    outs = walk_all_ways(cli, d, codes=(1,))
    assert "config.fly_toml_invalid" in outs[0]


def test_server_that_closes_during_startup(cli, tmp_path):
    with hostile.PgClosesDuringStartup() as s:
        u = url(s.host, s.port)
        d = project(tmp_path / "p", u)
        outs = walk_all_ways(cli, d, extra=["--database-url", u], codes=(1,))
    assert "pg.handshake_timeout" in outs[0]


def test_markdown_json_and_recording_in_process(canary_role, tmp_path):
    from diagnostics import recording, render
    from diagnostics.context import Context
    from diagnostics.engine import Engine, RecordingRunner
    from diagnostics.inputs import discover

    u = url(canary_role.host, canary_role.port)
    d = project(tmp_path / "p", u)
    flags = {"admin_key": f"convex-self-hosted|{HEX}", "backend_env": "backend.env", "database_url": u}
    ctx = Context(inputs=discover(flags, env={"CONVEX_DEPLOY_KEY": f"prod:x|{HEX}"}, cwd=d), timeout=3)
    runner = RecordingRunner()
    report = asyncio.run(Engine(ctx, "everything", runner=runner).run())
    assert report.verdict == "healthy"
    md = render.markdown(report)
    recording.save(recording.from_walk(ctx, "everything", runner), d / "rec.json")
    plain = "\n".join(render.verdict_lines(report) + [render.step_line(s) for s in report.steps])
    assert_clean(md, json.dumps(report.to_json()), plain, (d / "rec.json").read_text(), repr(ctx), str(ctx.inputs.to_json()))
    assert "| database_url | `postgres://canary:****@" in md


def test_every_cli_run_of_the_suite_is_a_canary_check():
    """tests/conftest.py run_cli fails any test whose CLI output shows a password
    or key it was given: these are the values it looks for."""
    from conftest import _given_secrets

    got = _given_secrets(["diagnose", "--database-url", "postgres://u:abc%40def12@h/db", "--admin-key", "name|0123456789abcdef"], {"DATABASE_URL": "postgres://x:envpw-123@h/db"})
    assert {"abc%40def12", "abc@def12", "0123456789abcdef", "envpw-123", "super-Secret-9f3k"} <= got

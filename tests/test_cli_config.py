"""Inputs that are wrong before any packet is sent: malformed URLs, no URL,
an invalid fly.toml; and where each input was found."""

from pathlib import Path

import pytest
from conftest import APP_PASSWORD, assert_cause, diagnose, run_cli
from pgcluster import free_port

PW = "S3cret-Pw-Xyzzy"

MALFORMED = {
    "unescaped-at": (f"postgres://app:{PW}@x@db.example.com:5432/app", "@", "password"),
    "unescaped-hash": (f"postgres://app:{PW}#x@db.example.com:5432/app", "#", "password"),
    "unescaped-slash": (f"postgres://app:{PW}/x@db.example.com:5432/app", "/", "password"),
    "unescaped-question": (f"postgres://app:{PW}?x@db.example.com:5432/app", "?", "password"),
    "no-host": (f"postgres://app:{PW}", "(no @HOST)", "other"),
    "bad-port": (f"postgres://app:{PW}@db.example.com:54x2/app", ":54x2", "port"),
    "port-out-of-range": (f"postgres://app:{PW}@db.example.com:99999/app", ":99999", "port"),
    "bad-scheme": (f"mysql://app:{PW}@db.example.com:5432/app", "mysql://", "scheme"),
    "bad-sslmode": (f"postgres://app:{PW}@db.example.com:5432/app?sslmode=required", "sslmode=required", "sslmode"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_url_in_environment(name):
    url, part, kind = MALFORMED[name]
    d = diagnose(url, "--app", "myapp", secrets=(PW, PW + "@x", PW + "#x", PW + "/x", PW + "?x"))
    assert_cause(d, "config.database_url_invalid")
    rc = d.report["root_cause"]
    assert rc["evidence"]["part"] == part
    assert rc["evidence"]["kind"] == kind
    assert f"`{part}`" in rc["explanation"]
    assert "****" in rc["evidence"]["url"]
    commands = [s.get("command") or "" for s in rc["fix"]["steps"]]
    if kind != "other":  # a corrected URL, paste-ready, with the app's name
        assert any(c.startswith("fly secrets set DATABASE_URL=") and c.endswith("-a myapp") for c in commands), commands
    # nothing was tried on the network
    assert [s["node"] for s in d.report["steps"] if s["track"] == "postgres"] == ["pg.url"]


def test_malformed_url_in_dotenv(tmp_path):
    (tmp_path / ".env").write_text(f"DATABASE_URL=postgres://app:{PW}@x@db.example.com/app\n")
    d = diagnose(None, secrets=(PW,), cwd=tmp_path)
    assert_cause(d, "config.database_url_invalid")
    assert d.report["root_cause"]["evidence"]["source"] == ".env:DATABASE_URL"
    assert any(".env" in s["text"] for s in d.report["root_cause"]["fix"]["steps"])


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_url_as_flag_is_a_usage_error(name):
    url, part, _kind = MALFORMED[name]
    r = run_cli("diagnose", "--json", "--database-url", url)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("fcp-doctor: --database-url:")
    assert part in lines[0]
    assert PW not in r.stderr


def test_no_url_anywhere(tmp_path):
    d = diagnose(None, "--app", "myapp", cwd=tmp_path)
    assert_cause(d, "config.database_url_missing")
    commands = [s.get("command") or "" for s in d.report["root_cause"]["fix"]["steps"]]
    assert 'fly ssh console -a myapp -C "printenv DATABASE_URL"' in commands
    assert "fly secrets list -a myapp" in commands


FLY_TOML_BAD = {
    "syntax": ('app = "myapp"\nprimary_region = "ams\n', 2),
    "duplicate-key": ('app = "myapp"\napp = "other"\n', 2),
}


@pytest.mark.parametrize("name", FLY_TOML_BAD)
def test_fly_toml_syntax_error(tmp_path, pg, name):
    text, line = FLY_TOML_BAD[name]
    (tmp_path / "fly.toml").write_text(text)
    d = diagnose(pg.url("app", APP_PASSWORD, "appdb"), secrets=(APP_PASSWORD,), cwd=tmp_path)
    assert_cause(d, "config.fly_toml_invalid")
    ev = d.report["root_cause"]["evidence"]
    assert ev["line"] == line and ev["column"] > 0
    assert f"line {line}, column {ev['column']}" in d.report["root_cause"]["explanation"]
    assert d.report["root_cause"]["fix"]["summary"].startswith(f"Fix line {line} of ")


def test_fly_toml_without_app(tmp_path, pg):
    (tmp_path / "fly.toml").write_text('primary_region = "ams"\n[env]\n  PORT = "8080"\n')
    d = diagnose(pg.url("app", APP_PASSWORD, "appdb"), secrets=(APP_PASSWORD,), cwd=tmp_path)
    assert_cause(d, "config.fly_toml_invalid")
    assert "app" in d.report["root_cause"]["evidence"]["error"]
    assert "line 0" not in d.report["root_cause"]["explanation"]


def _write(dirpath: Path, name: str, text: str) -> None:
    (dirpath / name).write_text(text)


def test_discovery_order_and_sources(tmp_path):
    """flag > env > .env.local > .env > fly.toml, each value with its source."""
    # loopback ports where nothing listens: each source is told apart by its port, nothing leaves the machine
    ports = {k: free_port() for k in ("flag", "env", "local", "dotenv")}
    urls = {k: f"postgres://u:{PW}@127.0.0.1:{p}/db" for k, p in ports.items()}
    _write(tmp_path, "fly.toml", 'app = "from-toml"\n')
    _write(tmp_path, ".env", f"DATABASE_URL={urls['dotenv']}\nFLY_APP=from-dotenv\n")
    _write(tmp_path, ".env.local", f"DATABASE_URL={urls['local']}\nFLY_APP=from-local\n")

    def inputs(*args, env=None):
        r = run_cli("diagnose", "--json", "--timeout", "0.5", *args, env=env, cwd=str(tmp_path))
        assert PW not in r.stdout + r.stderr
        import json

        return json.loads(r.stdout)["inputs"]

    i = inputs("--database-url", urls["flag"], "--app", "from-flag", env={"DATABASE_URL": urls["env"], "FLY_APP": "from-env"})
    assert i["database_url"] == {"value": f"postgres://u:****@127.0.0.1:{ports['flag']}/db", "source": "flag"}
    assert i["app"] == {"value": "from-flag", "source": "flag"}
    i = inputs(env={"DATABASE_URL": urls["env"], "FLY_APP": "from-env"})
    assert i["database_url"]["source"] == "env:DATABASE_URL" and f":{ports['env']}/" in i["database_url"]["value"]
    assert i["app"] == {"value": "from-env", "source": "env:FLY_APP"}
    i = inputs()
    assert i["database_url"]["source"] == ".env.local:DATABASE_URL" and f":{ports['local']}/" in i["database_url"]["value"]
    assert i["app"] == {"value": "from-local", "source": ".env.local:FLY_APP"}
    (tmp_path / ".env.local").unlink()
    i = inputs()
    assert i["database_url"]["source"] == ".env:DATABASE_URL"
    assert i["app"] == {"value": "from-dotenv", "source": ".env:FLY_APP"}
    _write(tmp_path, ".env", f"POSTGRES_URL={urls['dotenv']}\n")
    i = inputs()
    assert i["database_url"]["source"] == ".env:POSTGRES_URL"
    assert i["app"] == {"value": "from-toml", "source": "fly.toml"}
    (tmp_path / ".env").unlink()
    _write(tmp_path, "fly.toml", f'app = "from-toml"\n[env]\n  DATABASE_URL = "{urls["env"]}"\n')
    i = inputs()
    assert i["database_url"] == {"value": f"postgres://u:****@127.0.0.1:{ports['env']}/db", "source": "fly.toml:DATABASE_URL"}

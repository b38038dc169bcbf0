"""The one redaction rule: every shape a secret travels in is masked, and the
paste-ready placeholders fixes use are left alone."""

from __future__ import annotations

import json

import pytest

from diagnostics.secret import MASK, Secret, redact, redact_obj, remember

LEAKS = [
    # (text, what must not survive)
    ("postgres://user:hunter2x@host:5432/db", "hunter2x"),
    ("postgres://user:hun%40ter2x@host/db", "ter2x"),
    ("postgresql://user:p@ssw0rdtail@host/db", "ssw0rdtail"),  # unescaped '@': the tail must not leak
    ("postgres://user:p#sstail@host/db", "sstail"),
    ("redis://:onlypass@host:6379", "onlypass"),
    ("could not connect: postgres://app:s3cr3tpw@db.internal:5432/app?sslmode=disable", "s3cr3tpw"),
    ("password=secret123 host=x", "secret123"),
    ("host=x password='sec ret' dbname=y", "sec ret"),
    ("PGPASSWORD=abc123xyz psql", "abc123xyz"),
    ("convex-self-hosted|01a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9", "01a2b3c4d5e6f7a8b9c0"),
    ("key: prod:happy-otter-123|eyJ2MiI6ImFiY2RlZjEyMzQ1Njc4OTAifQ==", "eyJ2MiI6ImFiY2RlZjEy"),
    ("preview:team:proj|eyJ2MiI6ImFiY2RlZjEyMzQ1Njc4OTAifQ==", "eyJ2MiI6ImFiY2RlZjEy"),
    ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ("authorization: Convex sometoken123", "sometoken123"),
    ('{"Authorization": "Convex abcdef1234567890"}', "abcdef1234567890"),
    ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    ("INSTANCE_SECRET=4361726e697461732c206c69746572616c6c79", "4361726e6974"),
    ("export CONVEX_SELF_HOSTED_ADMIN_KEY='convex-self-hosted|0123456789abcdef0123'", "0123456789abcdef"),
    ("AWS_SECRET_ACCESS_KEY=abcd1234", "abcd1234"),
    ("DATABASE_URL=postgres://u:pw123456@h/db", "pw123456"),
    ("FLY_API_TOKEN=FlyV1 fm2_lJPECAAAAAAAAbcdef", "lJPECAAAAAAAAbcdef"),
    ("fo1_abcdefghijklmnop", "abcdefghijklmnop"),
    ("SU_PASSWORD: abc123zz", "abc123zz"),
    ('{"password": "hunter2zz", "user": "app"}', "hunter2zz"),
    ('{"api_key":"k-123456789"}', "k-123456789"),
    ("https://x.convex.cloud/api?token=abc123456", "abc123456"),
    ("OPERATOR_PASSWORD=Zx9kq2mN4pL7wR1", "Zx9kq2mN4pL7wR1"),
    ('SECRET_KEY = "unterminatedZz9', "unterminatedZz9"),  # a broken fly.toml line quoted in an error
    ("API_TOKEN = 'half open Zz9", "half open Zz9"),
]


@pytest.mark.parametrize("text,secret", LEAKS)
def test_masked(text, secret):
    out = redact(text)
    assert secret not in out, out
    assert MASK in out
    assert redact(out) == out  # idempotent


KEPT = [
    'fly secrets set DATABASE_URL="postgres://app:${PGPASSWORD}@acme-db.flycast:5432/app?sslmode=disable" -a acme',
    "read -rs PGPASSWORD",
    "fly secrets set OPERATOR_PASSWORD=<password> --app acme-db",
    "postgres://USER:PASSWORD@HOST:5432/DBNAME?sslmode=disable".replace("PASSWORD", "${PGPASSWORD}"),
    "host=acme-db.internal port=5432 dbname=app",
    "Password authentication failed for user app",
    "auth_method: md5",  # lower-case names in prose and evidence are not env dumps
    "postgres://app@acme-db.flycast:5432/app",
]


@pytest.mark.parametrize("text", KEPT)
def test_placeholders_and_plain_text_kept(text):
    assert redact(text) == text


def test_known_secret_scrubbed_in_every_form():
    pw = "Sp3cial/p@ss word+%"
    Secret(pw)
    from urllib.parse import quote, quote_plus

    import re

    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(pw, safe=""))
    for form in (pw, quote(pw, safe=""), quote_plus(pw, safe=""), lower_hex, json.dumps(pw)[1:-1]):
        out = redact(f"server said: {form} !")
        assert pw not in out and form not in out, (form, out)


def test_short_values_only_masked_structurally():
    remember("ab")
    assert redact("about abba") == "about abba"
    assert "ab@" not in redact("postgres://u:ab@h/db")


def test_secret_type_never_prints():
    s = Secret("hunter2-canary")
    assert str(s) == MASK and repr(s) == f"Secret({MASK!r})" and f"{s}" == MASK and f"{s:>8}" == f"{MASK:>8}"
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(s)
    assert redact_obj({"x": s}) == {"x": MASK}


def test_redact_obj_structured():
    got = redact_obj(
        {
            "CONVEX_DEPLOY_KEY": "anything",
            "env": {"DB_PASSWORD": "y", "url": "postgres://a:b1234@c/d", "key": "CONVEX_CLOUD_ORIGIN"},
            "headers": {"Authorization": "Bearer zz"},
            "list": ["password=abcd1234", 3, None, True],
        }
    )
    assert got == {
        "CONVEX_DEPLOY_KEY": MASK,
        "env": {"DB_PASSWORD": MASK, "url": f"postgres://a:{MASK}@c/d", "key": "CONVEX_CLOUD_ORIGIN"},
        "headers": {"Authorization": MASK},
        "list": [f"password={MASK}", 3, None, True],
    }


def test_log_lines_are_redacted():
    """Library log lines (psycopg warns on stderr) go through the same rule."""
    import subprocess
    import sys

    code = (
        "import logging, sys; from tui import cli; from diagnostics.safe_text import install_log_redaction;"
        "install_log_redaction();"
        "logging.getLogger('psycopg').warning('cancel failed: postgres://app:logpw-123456@h/db');"
        "logging.getLogger('x').error('Authorization: Bearer tok-abcdef-99')"
    )
    import os
    from pathlib import Path

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=env, cwd="/")
    assert "logpw-123456" not in r.stderr and "tok-abcdef-99" not in r.stderr
    assert "postgres://app:****@h/db" in r.stderr and "Bearer ****" in r.stderr


def test_command_substitution_in_a_fix_stays_paste_ready():
    from diagnostics.secret import redact

    cmd = 'fly secrets set INSTANCE_SECRET="$(openssl rand -hex 32)" -a acme-convex'
    assert redact(cmd) == cmd
    assert redact("INSTANCE_SECRET=4f1c0e9d8b7a6f5e4d3c2b1a") == "INSTANCE_SECRET=****"

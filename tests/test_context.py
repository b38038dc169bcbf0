"""What a walk knows (diagnostics/context.py): the Postgres URL parsed once,
where to connect, the app names, and the names a fix is written with."""

from diagnostics.context import Context
from diagnostics.inputs import discover

PASSWORD = "ctx-S3cret-pw"


def ctx_of(tmp_path, flags=None, env=None) -> Context:
    return Context(inputs=discover(flags or {}, env=env or {}, cwd=tmp_path))


def test_the_url_is_parsed_and_its_error_kept(tmp_path):
    ok = ctx_of(tmp_path, {"database_url": f"postgres://shop:{PASSWORD}@acme-db.flycast:5433/shop?sslmode=disable"})
    assert (ok.pg_url.host, ok.pg_url.port, ok.pg_url.user, ok.pg_url.sslmode) == ("acme-db.flycast", 5433, "shop", "disable")
    assert ok.pg_url_error is None and ok.host_class.flavour == "flycast"
    bad = ctx_of(tmp_path, {"database_url": f"postgres://shop:{PASSWORD}@x@acme-db.flycast/shop"})
    assert bad.pg_url is None and bad.pg_url_error is not None and bad.host_class is None
    none = ctx_of(tmp_path)
    assert none.pg_url is None and none.pg_url_error is None


def test_where_to_connect_follows_a_reroute(tmp_path):
    ctx = ctx_of(tmp_path, {"database_url": f"postgres://shop:{PASSWORD}@acme-db.internal:5432/shop"})
    assert ctx.pg_target() == ("acme-db.internal", 5432)
    ctx.facts.update(pg_target_host="127.0.0.1", pg_target_port=16380)  # what `fly proxy` reports
    assert ctx.pg_target() == ("127.0.0.1", 16380)
    assert ctx_of(tmp_path).pg_target() == ("", 5432)


def test_the_postgres_app_comes_from_the_flag_else_the_host(tmp_path):
    url = f"postgres://shop:{PASSWORD}@acme-db.flycast:5432/shop"
    assert ctx_of(tmp_path, {"database_url": url}).pg_app == "acme-db"
    assert ctx_of(tmp_path, {"database_url": url, "pg_app": "other-db"}).pg_app == "other-db"
    assert ctx_of(tmp_path, {"database_url": f"postgres://shop:{PASSWORD}@db.example.com/shop"}).pg_app == ""
    assert ctx_of(tmp_path, {"app": "acme-web"}).app == "acme-web"


def test_names_for_fixes(tmp_path):
    ctx = ctx_of(
        tmp_path,
        {"app": "acme-web", "convex_url": "https://happy-otter-123.convex.cloud"},
        env={"POSTGRES_URL": f"postgres://shop:{PASSWORD}@acme-db.flycast:5432/shop?sslmode=disable"},
    )
    ctx.facts.update(fly_user="me@example.com", proxy_port=16380, proxied=True, log_matches=[{"kind": "x"}])
    n = ctx.names()
    assert (n["app"], n["pg_app"], n["host"], n["port"], n["db"], n["user"], n["sslmode"]) == ("acme-web", "acme-db", "acme-db.flycast", 5432, "shop", "shop", "disable")
    assert n["url_var"] == "POSTGRES_URL"  # the fix sets the variable the user has
    assert PASSWORD not in n["url"] and "acme-db.flycast" in n["url"]
    assert n["convex_url"] == "https://happy-otter-123.convex.cloud"
    assert n["fly_user"] == "me@example.com" and n["proxy_port"] == 16380
    assert "proxied" not in n and "log_matches" not in n  # only words and numbers reach a fix's text
    assert n["nothing_known"] == "<NOTHING_KNOWN>"
    assert PASSWORD not in repr(dict(n))


def test_names_without_a_url(tmp_path):
    n = ctx_of(tmp_path).names()
    assert n["url_var"] == "DATABASE_URL" and "host" not in n and n["app"] == "<APP>"

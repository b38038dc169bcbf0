"""Convex fault environments against the Convex stand-ins (tests/convex_standin.py),
side by side with `npx convex network-test --url URL` (the real npm package, its
defaults: no admin key, 30 s overall timeout). The list is empty when the
stand-ins are not in the tree."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

from ..lab import ROOT
from . import Env, Scenario

NT = ("convex network-test",)
HAVE_STANDIN = (ROOT / "tests" / "convex_standin.py").exists()
WRONG_KEY = "convex-self-hosted|" + "ab" * 32


def standin(*args: str, site_url: bool = False, key: str | None = None, **cfg):
    """A stand-in backend with Config(**cfg), started for this scenario only."""

    def build(lab):
        from convex_standin import Config, StandIn

        s = StandIn(Config(**cfg)).start()
        lab.stack.callback(s.stop)
        extra = list(args)
        if site_url:
            extra += ["--convex-site-url", s.url]
        if key is not None:
            extra += ["--admin-key", key if key != "right" else Config().admin_key]
        return Env(["--symptom", "convex-cant-reach-postgres", "--convex-url", s.url, *extra], convex_url=s.url)

    return build


def not_convex(lab):
    from convex_standin import NotConvex

    s = NotConvex()
    lab.stack.callback(s.stop)
    return Env(["--symptom", "convex-cant-reach-postgres", "--convex-url", s.url], convex_url=s.url)


def closed(lab):
    url = f"http://127.0.0.1:{lab.closed_port()}"
    return Env(["--symptom", "convex-cant-reach-postgres", "--convex-url", url], convex_url=url)


def silent(lab):
    url = f"http://127.0.0.1:{lab.hung.port}"
    return Env(["--symptom", "convex-cant-reach-postgres", "--convex-url", url], convex_url=url)


def untrusted_tls(lab):
    from convex_standin import Config, StandIn, self_signed_cert

    s = StandIn(Config(), tls_cert=self_signed_cert(Path(tempfile.mkdtemp(prefix="fcpbench-cx-")))).start()
    lab.stack.callback(s.stop)
    return Env(["--symptom", "convex-cant-reach-postgres", "--convex-url", s.url], convex_url=s.url)


def _scenarios() -> list[Scenario]:
    if not HAVE_STANDIN or importlib.util.find_spec("convex_standin") is None:
        return []
    from convex_standin import text_route, throwing_route

    flycast = "postgres://app:pw@my-pg.flycast:5432/app"
    return [
        Scenario("Convex: HTTP actions not deployed", "convex", "convex.http_actions_not_deployed",
                 standin("--http-action", "/stripe/webhook", http_routes=None), NT, {"convex network-test": r"HTTP actions"}),
        Scenario("Convex: HTTP route not found", "convex", "convex.http_route_not_found",
                 standin("--http-action", "/stripe/webhook", http_routes={"POST /stripe/webhook": text_route(200, "ok")}), NT,
                 {"convex network-test": r"No matching routes"}),
        Scenario("Convex: HTTP action fails (5xx)", "convex", "convex.http_action_failed",
                 standin("--http-action", "/hook", http_routes={"GET /hook": throwing_route("db down")}), NT,
                 {"convex network-test": r"Server Error"}),
        Scenario("Convex: site URL without /http", "convex", "convex.site_url_missing_http_prefix",
                 standin(site_url=True, http_routes={}), NT, {"convex network-test": r"/http"}),
        Scenario("Convex: admin key rejected", "convex", "convex.admin_key_invalid",
                 standin(key=WRONG_KEY), NT, {"convex network-test": r"BadAdminKey|InvalidAdminKey|admin key (is )?(invalid|rejected)"}),
        Scenario("Convex: backend origins empty", "convex", "convex.origin_mismatch",
                 standin(key="right", http_routes={}, cloud_origin="", site_origin=""), NT, {"convex network-test": r"ORIGIN"}),
        Scenario("Convex: Cloud with a Flycast database", "convex", "convex.cloud_private_database_host",
                 standin(key="right", kind="cloud", http_routes={}, env={"DATABASE_URL": flycast}), NT,
                 {"convex network-test": r"flycast|private"}),
        Scenario("Convex: not a Convex backend", "convex", "convex.not_convex", not_convex, NT,
                 {"convex network-test": r"Unexpected status code|not .*Convex"}),
        Scenario("Convex: nothing listening", "convex", "convex.unreachable", closed, NT,
                 {"convex network-test": r"FAIL: TCP connect"}),
        Scenario("Convex: HTTP never answers", "convex", "convex.unreachable", silent, NT,
                 {"convex network-test": r"FAIL: HTTP|timed out"}, slow=True),
        Scenario("Convex: untrusted TLS", "convex", "convex.unreachable", untrusted_tls, NT,
                 {"convex network-test": r"certificate|self[- ]signed"}, slow=True),
    ]  # fmt: skip


SCENARIOS: list[Scenario] = _scenarios()

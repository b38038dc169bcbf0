"""A self-hosted Convex backend's Postgres rules (POSTGRES_URL, DO_NOT_REQUIRE_SSL,
INSTANCE_NAME), given as its environment (--backend-env) against the bench's
real clusters. No other tool checks these: the backend itself only fails at
start-up, and it cannot run here."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..lab import APP_DB, APP_PW, APP_USER, SUPERPASS
from . import Env, Scenario


def backend(lines, cluster: str = "primary", user: str = "postgres", password: str = SUPERPASS, db: str = "", app_url: bool = False):
    def build(lab):
        pg = getattr(lab, cluster)
        url = pg.url(user, password, db).rstrip("/")
        env = {k: v.replace("{url}", url) for k, v in lines.items()}
        f = Path(tempfile.mkdtemp(prefix="fcpbench-backend-")) / "backend.env"
        f.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        extra = ["--database-url", pg.url(APP_USER, APP_PW, APP_DB)] if app_url else []  # the app's own URL, as the tests give it
        return Env(["--symptom", "self-hosted-backend-down", "--backend-env", str(f), *extra])

    return build


OK = {"POSTGRES_URL": "{url}", "INSTANCE_NAME": "convex-bench", "DO_NOT_REQUIRE_SSL": "1"}

SCENARIOS = [
    Scenario("self-hosted: healthy", "convex_self", None, backend(OK, app_url=True)),
    Scenario("self-hosted: POSTGRES_URL has a database", "convex_self", "convex_self.postgres_url_has_database",
             backend({**OK, "POSTGRES_URL": "{url}"}, db="fly-db")),
    Scenario("self-hosted: TLS required, server has none", "convex_self", "convex_self.ssl_required_unsupported",
             backend({"POSTGRES_URL": "{url}", "INSTANCE_NAME": "convex-bench"})),
    Scenario("self-hosted: instance database missing", "convex_self", "convex_self.instance_database_missing",
             backend({"POSTGRES_URL": "{url}", "DO_NOT_REQUIRE_SSL": "1"})),
    Scenario("self-hosted: schema not writable", "convex_self", "convex_self.schema_not_writable",
             backend({**OK, "INSTANCE_NAME": "convex-schema"}, user="convex_limited", password=APP_PW)),
    Scenario("self-hosted: target is a standby", "convex_self", "convex_self.target_read_only", backend(OK, cluster="standby")),
]  # fmt: skip

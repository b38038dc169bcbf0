"""Read-only by construction: a Postgres that logs every statement
(log_statement = 'all', the application name in each line) sees nothing but
reads from fcp-doctor, over a healthy walk and several failing ones, and the
README names every kind of statement sent."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pgcluster import PgCluster

# What fcp-doctor may send: reads and transaction control, nothing else.
ALLOWED = re.compile(
    r"^(SELECT|SHOW|BEGIN|START TRANSACTION|COMMIT|ROLLBACK|SET LOCAL|SET TRANSACTION"
    r"|(PREPARE fcp_doctor_[0-9a-f]+ AS SELECT 1|EXECUTE fcp_doctor_[0-9a-f]+|DEALLOCATE fcp_doctor_[0-9a-f]+)$"  # the pooler check
    r"|SET statement_timeout = \d+$)\b",  # the self-hosted backend check's own session
    re.IGNORECASE,
)
# Functions that change state even inside a SELECT.
WRITING_FUNCS = re.compile(
    r"\b(nextval|setval|set_config|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_switch_wal|"
    r"lo_\w+|pg_advisory\w*|pg_create_\w+|pg_drop_\w+|pg_promote|txid_current|pg_current_xact_id|dblink\w*|pg_notify)\s*\(",
    re.IGNORECASE,
)
ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ \S+ \[\d+\] app=(?P<app>\S*) (?P<rest>.*)$")
STATEMENT = re.compile(r"^LOG:\s+(?:statement|execute [^:]*): (?P<sql>.*)$", re.DOTALL)


@pytest.fixture(scope="module")
def logged():
    c = PgCluster(name="ro", conf={"log_statement": "'all'", "log_line_prefix": "'%m [%p] app=%a '"}).init().start()
    try:
        c.add_role("app", "ro-app-pw-1")
        c.psql('CREATE DATABASE app OWNER "app"')
        c.psql('CREATE DATABASE frozen OWNER "app"')
        c.psql("ALTER DATABASE frozen SET default_transaction_read_only = on")
        yield c
    finally:
        c.destroy()


def statements(cluster: PgCluster) -> list[tuple[str, str]]:
    """(application_name, SQL) of every logged statement."""
    entries: list[list[str]] = []
    for line in cluster.log.read_text(errors="replace").splitlines():
        if ENTRY.match(line):
            entries.append([line])
        elif entries:
            entries[-1].append(line)  # a statement's continuation lines
    out = []
    for e in entries:
        m = ENTRY.match(e[0])
        s = STATEMENT.match("\n".join([m["rest"]] + e[1:]))
        if s:
            out.append((m["app"], s["sql"].strip()))
    return out


WALKS = {
    "healthy": (lambda c: c.url("app", "ro-app-pw-1", "app"), 0, None),
    "read_only_database": (lambda c: c.url("app", "ro-app-pw-1", "frozen"), 1, "pg.read_only_database"),
    "auth_failed": (lambda c: c.url("app", "wrong-pw-1", "app"), 1, "pg.auth_failed"),
    "database_missing": (lambda c: c.url("app", "ro-app-pw-1", "nope"), 1, "pg.database_missing"),
    "superuser": (lambda c: c.url(), 0, None),
}


# each kind of statement a walk sends, and how the README's Safety section names it
README_NAMES = {
    r"SELECT": "`SELECT`s",
    r"SHOW": "`SHOW`s",
    r"BEGIN READ ONLY": "`BEGIN READ ONLY`",
    r"SET LOCAL statement_timeout": "`SET LOCAL statement_timeout`",
    r"COMMIT": "`COMMIT`",
    r"ROLLBACK": "`ROLLBACK`",
    r"PREPARE fcp_doctor_[0-9a-f]+ AS SELECT 1": "`PREPARE fcp_doctor_<hex> AS SELECT 1`",
    r"EXECUTE fcp_doctor_": "`EXECUTE fcp_doctor_<hex>`",
    r"DEALLOCATE fcp_doctor_": "`DEALLOCATE fcp_doctor_<hex>`",
    r"SET statement_timeout = \d+": "`SET statement_timeout = <ms>`",
}


def test_walks_write_nothing(logged, cli, tmp_path):
    for name, (url, code, cause) in WALKS.items():
        r = cli("diagnose", "--json", "--symptom", "app-cant-reach-postgres", "--timeout", "3", "--database-url", url(logged))
        assert r.returncode == code, (name, r.stderr)
        doc = json.loads(r.stdout)
        assert (doc["root_cause"] or {}).get("id") == cause, name
    # the self-hosted backend's checks, on their own connection
    (tmp_path / "backend.env").write_text(f"POSTGRES_URL={logged.url(db='').rstrip('/')}\nINSTANCE_NAME=app\nDO_NOT_REQUIRE_SSL=1\n")
    r = cli("diagnose", "--json", "--symptom", "self-hosted-backend-down", "--timeout", "3", "--backend-env", str(tmp_path / "backend.env"))
    assert next(s for s in json.loads(r.stdout)["steps"] if s["node"] == "convex_self.session")["status"] == "pass", r.stdout[-2000:]
    stmts = statements(logged)
    ours = [sql for app, sql in stmts if app == "fcp-doctor"]
    others = [(app, sql) for app, sql in stmts if app not in ("fcp-doctor", "psql")]
    assert others == [], "a connection without application_name=fcp-doctor"
    # the log really holds the walk's reads, and our own setup's DDL (so the check can fail)
    assert any("pg_is_in_recovery()" in s for s in ours)
    assert any(s.startswith("PREPARE fcp_doctor_") for s in ours)
    assert any(app == "psql" and s.startswith("CREATE DATABASE") for app, s in stmts)
    bad = [s for s in ours if not ALLOWED.match(s) or WRITING_FUNCS.search(s)]
    assert bad == []
    # every transaction fcp-doctor opens is read-only
    begins = [s for s in ours if re.match(r"BEGIN|START TRANSACTION", s, re.IGNORECASE)]
    assert begins and all("READ ONLY" in s.upper() for s in begins)
    # the README says exactly what is sent: every kind seen is named there
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    safety = readme[readme.index("## Safety"): readme.index("\n## ", readme.index("## Safety") + 3)]
    for pattern, named in README_NAMES.items():
        if any(re.match(pattern, s, re.IGNORECASE) for s in ours):
            assert named in safety, f"the README's Safety section does not name {named}"
    unnamed = [s for s in ours if not any(re.match(p, s, re.IGNORECASE) for p in README_NAMES)]
    assert unnamed == [], "statements the README does not name"

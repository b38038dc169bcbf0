"""Writing a patch: diff first, only on yes, atomic, backed up, refused when
the file changed since it was read; live commands run only when asked."""

from __future__ import annotations

import io
import os
import stat
import tomllib
from pathlib import Path

import pytest

from diagnostics import fixes
from diagnostics.model import Diagnosis, Fix, FixStep
from diagnostics.causes import steps

SRC = (Path(__file__).parent / "data" / "fly_toml" / "convex_backend.toml").read_bytes()
ORIGIN = fixes.set_env("CONVEX_CLOUD_ORIGIN", "https://acme-convex.fly.dev")


@pytest.fixture
def toml(tmp_path) -> Path:
    p = tmp_path / "fly.toml"
    p.write_bytes(SRC)
    p.chmod(0o640)
    return p


def leftovers(d: Path) -> list[str]:
    return sorted(x.name for x in d.iterdir() if x.name.endswith(".tmp"))


def test_write_backs_up_and_replaces(toml):
    p = fixes.plan(toml, [ORIGIN])
    assert "+CONVEX_CLOUD_ORIGIN = 'https://acme-convex.fly.dev'" in p.diff()
    bak = fixes.write(p)
    assert bak.parent == toml.parent and bak.read_bytes() == SRC
    assert tomllib.loads(toml.read_text())["env"]["CONVEX_CLOUD_ORIGIN"] == "https://acme-convex.fly.dev"
    assert stat.S_IMODE(toml.stat().st_mode) == 0o640 == stat.S_IMODE(bak.stat().st_mode)
    assert leftovers(toml.parent) == []
    # a second backup never overwrites the first
    p2 = fixes.plan(toml, [fixes.set_env("CONVEX_SITE_ORIGIN", "https://acme-convex.fly.dev/http")])
    bak2 = fixes.write(p2)
    assert bak2 != bak and bak.read_bytes() == SRC


def test_refused_if_changed_since_read(toml):
    p = fixes.plan(toml, [ORIGIN])
    edited = SRC.replace(b"cpus = 4", b"cpus = 2")  # someone edits the file meanwhile
    toml.write_bytes(edited)
    with pytest.raises(fixes.ChangedSinceRead, match="changed since it was read"):
        fixes.write(p)
    assert toml.read_bytes() == edited
    assert [x for x in toml.parent.iterdir() if x.name != "fly.toml"] == []


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_failed_write_leaves_original_intact(toml, monkeypatch, fail_at):
    p = fixes.plan(toml, [ORIGIN])
    real = getattr(os, fail_at)
    calls = []

    def boom(*a, **kw):
        calls.append(a)
        if fail_at == "replace" and len(calls) == 1:  # the backup may land; the file's own replace fails
            return real(*a, **kw)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, fail_at, boom)
    with pytest.raises(fixes.FixError, match="unchanged"):
        fixes.write(p)
    monkeypatch.undo()
    assert toml.read_bytes() == SRC
    assert leftovers(toml.parent) == []


def test_refuses_binary_and_huge_files(tmp_path):
    b = tmp_path / "fly.toml"
    b.write_bytes(b'app = "x"\n\x00\x01')
    with pytest.raises(fixes.FixError, match="binary"):
        fixes.plan(b, [ORIGIN])
    b.write_bytes(b"# " + b"x" * (fixes.MAX_BYTES + 1))
    with pytest.raises(fixes.FixError, match="larger"):
        fixes.plan(b, [ORIGIN])
    b.write_bytes(b'app = "\xff"\n')
    with pytest.raises(fixes.FixError, match="UTF-8"):
        fixes.plan(b, [ORIGIN])


def diag(patch=(), commands=()) -> Diagnosis:
    fix = steps("fix it", *[("do it", c) for c in commands], patch=list(patch))
    return Diagnosis("convex.origin_mismatch", "convex", "t", "e", {}, fix, [])


def test_offer_shows_diff_and_applies_only_on_yes(toml):
    out = io.StringIO()
    asked = []
    res = fixes.offer([diag([ORIGIN])], out, lambda q: asked.append(q) or False, cwd=toml.parent)
    assert toml.read_bytes() == SRC and not res.applied and asked == ["Apply this change to fly.toml?"]
    text = out.getvalue()
    assert "--- a/fly.toml" in text and "+CONVEX_CLOUD_ORIGIN" in text and "Not applied." in text
    assert text.index("+CONVEX_CLOUD_ORIGIN") < text.index("Not applied")

    out = io.StringIO()
    res = fixes.offer([diag([ORIGIN])], out, None, cwd=toml.parent)  # headless, no --yes
    assert toml.read_bytes() == SRC and "pass --yes" in out.getvalue()

    out = io.StringIO()
    res = fixes.offer([diag([ORIGIN])], out, lambda q: True, cwd=toml.parent)
    assert res.applied and res.changed
    assert "CONVEX_CLOUD_ORIGIN" in tomllib.loads(toml.read_text())["env"]
    out = io.StringIO()
    res = fixes.offer([diag([ORIGIN])], out, None, yes=True, cwd=toml.parent)
    assert not res.applied and "already as the fix wants it" in out.getvalue()


def test_offer_with_yes_uses_config_path(tmp_path, toml):
    other = tmp_path / "pg.toml"
    other.write_bytes(SRC)
    out = io.StringIO()
    res = fixes.offer([diag([fixes.ensure_service()])], out, None, yes=True, config=str(other), cwd=tmp_path)
    assert [a[0] for a in res.applied] == [other]
    assert toml.read_bytes() == SRC
    assert tomllib.loads(other.read_text())["services"][0]["ports"][0]["handlers"] == ["pg_tls"]


def test_live_commands_run_only_when_asked(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    fake = tmp_path / "bin"
    fake.mkdir()
    # a stand-in `fly` that records its call and prints a secret it was handed
    (fake / "fly").write_text(f'#!/bin/sh\necho "$@" >> {marker}\necho "DATABASE_URL=postgres://u:hunter2-canary@h/db"\n')
    (fake / "fly").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    cmd = "fly machine start 148e -a acme-db"
    assert fixes.is_live(cmd) and fixes.is_live("fly secrets set X=1 -a a") and not fixes.is_live("fly secrets list -a a")

    out = io.StringIO()
    fixes.offer([diag(commands=[cmd])], out, lambda q: False, run_commands=True, cwd=tmp_path)
    assert not marker.exists() and f"$ {cmd}" in out.getvalue()
    fixes.offer([diag(commands=[cmd])], out, lambda q: True, run_commands=False, cwd=tmp_path)
    fixes.offer([diag(commands=["fly machine start <MACHINE_ID> -a acme-db"])], out, lambda q: True, run_commands=True, cwd=tmp_path)
    assert not marker.exists() and "fill in <MACHINE_ID> first" in out.getvalue()

    out = io.StringIO()
    res = fixes.offer([diag(commands=[cmd])], out, lambda q: True, run_commands=True, cwd=tmp_path)
    # the walk itself also calls fly (logs, platform state): the fix command ran exactly once
    assert marker.read_text().splitlines().count("machine start 148e -a acme-db") == 1
    assert res.ran[0].ok and res.changed
    text = out.getvalue()
    assert f"✓ {cmd} (exit 0" in text
    assert "hunter2-canary" not in text and "postgres://u:****@h/db" in text


def test_run_command_is_bounded():
    r = fixes.run_command("sleep 5", timeout=0.5)
    assert r.returncode is None and "stopped after" in r.output and r.elapsed_ms < 3000
    r = fixes.run_command("exit 3")
    assert r.returncode == 3 and r.line().startswith("✗")


def test_patch_travels_in_the_json():
    from diagnostics.causes import Cause, Names

    c = Cause("convex.origin_mismatch", "convex", "t", "e", lambda n, e: steps("s", patch=[ORIGIN]))
    d = c.diagnose(Names(), {})
    assert d.to_json()["fix"]["patch"] == [
        {"file": "fly.toml", "op": "set_env", "key": "CONVEX_CLOUD_ORIGIN", "value": "https://acme-convex.fly.dev"}
    ]
    assert fixes.Edit.from_json(d.to_json()["fix"]["patch"][0]) == ORIGIN
    assert "patch" not in Fix("s", [FixStep("x")]).to_json()


@pytest.fixture(scope="module")
def app_role(pg):
    pg.add_role("fixes_app", "fixes-pw-1234")
    return pg.url("fixes_app", "fixes-pw-1234")


def test_cli_apply_with_nothing_to_apply(cli, app_role):
    r = cli("diagnose", "--apply", "--yes", "--database-url", app_role, "--timeout", "3")
    assert r.returncode == 0, r.stderr
    assert "--apply: nothing to apply." in r.stdout


def test_cli_replay_never_applies(cli, tmp_path, pg):
    rec = tmp_path / "walk.json"
    r = cli("diagnose", "--record", str(rec), "--database-url", pg.url(), "--timeout", "3")
    r = cli("replay", str(rec), "--plain", "--apply", "--yes", "--speed", "0")
    assert "changes nothing" in r.stdout or "nothing to apply" in r.stdout


def test_cli_apply_yes_applies_then_walks_again(monkeypatch, tmp_path, capsys):
    """The whole CLI flow with a cause whose fix carries a patch: diff, apply
    (--yes), backup, then a second walk to verify."""
    from diagnostics import causes
    from tui import cli as cli_mod

    causes.load_all()
    orig = causes.CATALOG["net.connection_refused"]
    patched = causes.Cause(
        orig.id, orig.layer, orig.title, orig.explanation,
        lambda n, e: steps("fix", ("restart it", "fly machine start 148e -a acme-db"), patch=[fixes.internal_port(5432)]),
    )
    monkeypatch.setitem(causes.CATALOG, orig.id, patched)
    (tmp_path / "fly.toml").write_bytes(SRC)
    monkeypatch.chdir(tmp_path)
    code = cli_mod.main(["diagnose", "--apply", "--yes", "--timeout", "1", "--symptom", "app-cant-reach-postgres", "--database-url", "postgres://u:pw-xyz-1@127.0.0.1:1/db"])
    out = capsys.readouterr().out
    assert code == 1
    assert "-internal_port = 3210" in out and "+internal_port = 5432" in out
    assert out.index("Proposed change") < out.index("Applied to") < out.index("Checking again") < out.index("after the fix")
    assert "$ fly machine start 148e -a acme-db" in out  # shown, not run: no terminal
    assert tomllib.loads((tmp_path / "fly.toml").read_text())["http_service"]["internal_port"] == 5432
    assert len(list(tmp_path.glob("fly.toml.*.bak"))) == 1
    assert out.count("Verdict:") == 2 and "pw-xyz-1" not in out


def test_symlinked_fly_toml_stays_a_symlink(tmp_path):
    real = tmp_path / "configs" / "web.toml"
    real.parent.mkdir()
    real.write_bytes(SRC)
    link = tmp_path / "fly.toml"
    link.symlink_to(real)
    fixes.write(fixes.plan(link, [ORIGIN]))
    assert link.is_symlink() and "CONVEX_CLOUD_ORIGIN" in real.read_text()


def test_owner_kept_when_root_edits_a_users_file(toml):
    if os.geteuid() != 0:
        pytest.skip("needs root to own a file as another user")
    os.chown(toml, 65534, 65534)
    bak = fixes.write(fixes.plan(toml, [ORIGIN]))
    assert (toml.stat().st_uid, toml.stat().st_gid) == (65534, 65534) == (bak.stat().st_uid, bak.stat().st_gid)


def test_change_during_the_write_is_refused(toml, monkeypatch):
    p = fixes.plan(toml, [ORIGIN])
    real = fixes._write_temp
    calls = []

    def racing(path, data, st):
        calls.append(path)
        if len(calls) == 2:  # someone saves the file while the new one is being written
            toml.write_bytes(SRC + b"# edited\n")
        return real(path, data, st)

    monkeypatch.setattr(fixes, "_write_temp", racing)
    with pytest.raises(fixes.ChangedSinceRead, match="while it was being written"):
        fixes.write(p)
    assert toml.read_bytes() == SRC + b"# edited\n"
    assert sorted(x.name for x in toml.parent.iterdir()) == ["fly.toml"]


class FakeTty(io.StringIO):
    def isatty(self):
        return True


def test_cli_apply_on_a_terminal_asks_then_runs_and_rechecks(monkeypatch, tmp_path, capsys):
    """On a terminal: the patch is applied after a yes, the live command runs only
    after its own yes, is echoed with its outcome, and the walk runs again."""
    from diagnostics import causes
    from tui import cli as cli_mod

    causes.load_all()
    orig = causes.CATALOG["net.connection_refused"]
    patched = causes.Cause(
        orig.id, orig.layer, orig.title, orig.explanation,
        lambda n, e: steps("fix", ("start it", "fly machine start 148e -a acme-db"), patch=fixes.disable_metrics()),
    )
    monkeypatch.setitem(causes.CATALOG, orig.id, patched)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "ran"
    (bin_dir / "fly").write_text(f'#!/bin/sh\necho "$@" >> {marker}\necho "Machine 148e started"\n')
    (bin_dir / "fly").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    (tmp_path / "fly.toml").write_bytes(SRC)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", FakeTty("y\ny\n"))
    code = cli_mod.main(["diagnose", "--apply", "--timeout", "1", "--symptom", "app-cant-reach-postgres", "--database-url", "postgres://u:pw-xyz-2@127.0.0.1:1/db"])
    out = capsys.readouterr().out
    assert code == 1
    assert "? Apply this change to fly.toml? [y/N]" in out
    assert "? Run `fly machine start 148e -a acme-db` now? [y/N]" in out
    # the walk itself also calls fly (logs, platform state): the fix command ran exactly once
    assert marker.read_text().splitlines().count("machine start 148e -a acme-db") == 1
    assert "✓ fly machine start 148e -a acme-db (exit 0" in out and "Machine 148e started" in out
    assert tomllib.loads((tmp_path / "fly.toml").read_text())["env"]["DISABLE_METRICS_ENDPOINT"] == "true"
    assert out.index("Machine 148e started") < out.index("Checking again") and out.count("Verdict:") == 2

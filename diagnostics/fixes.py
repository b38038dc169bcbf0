"""Fixes that apply themselves, safely.

Two kinds of change, each shown before anything happens:

- **Patches** to a config file (fly.toml). A cause's fix carries them as
  `Fix.patch`, a list of `Edit`s. They are applied with tomlkit, so comments,
  order and formatting outside the change survive byte for byte; a unified diff
  is shown first; the file is written only on an explicit yes (`--yes` when
  headless), atomically (temp file + os.replace in the same directory), after a
  backup copy, and never if the file changed since it was read.
- **Live commands** (`fly secrets set`, `fly machine start`, ...): shown, run
  only when the user asks, echoed with their outcome; then the walk re-runs.

Nothing here ever writes a secret into a file: a value whose name looks secret
belongs in `fly secrets set`, not in fly.toml's [env].
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import shlex
import subprocess
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import MutableMapping
from typing import Any, Callable, Iterable, TextIO

from .safe_text import shown, visible
from .secret import looks_secret, redact

FLY_TOML = "fly.toml"  # the target meaning "the fly.toml the walk used" (--config or ./fly.toml)
MAX_BYTES = 1 << 20


class FixError(Exception):
    """A patch that cannot or must not be applied. The message is one line."""


class ChangedSinceRead(FixError):
    pass


# ---------------------------------------------------------------- the data shape


@dataclass(frozen=True)
class Edit:
    """One change to a config file. `op` is one of OPS; `args` is plain JSON.

    `file` names the target: "fly.toml" is the file the walk read (--config or
    ./fly.toml); any other value is a path relative to the working directory.
    """

    op: str
    args: tuple[tuple[str, Any], ...] = ()
    file: str = FLY_TOML

    @property
    def a(self) -> dict[str, Any]:
        return dict(self.args)

    def to_json(self) -> dict:
        return {"file": self.file, "op": self.op, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in self.args}}

    @classmethod
    def from_json(cls, d: dict) -> "Edit":
        d = dict(d)
        op, file = d.pop("op"), d.pop("file", FLY_TOML)
        return cls(op, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(d.items())), file)

    def describe(self) -> str:
        a = self.a
        if self.op == "set_env":
            return f"set [env] {a['key']} = {a['value']!r}"
        if self.op == "remove_env":
            return f"remove {a['key']} from [env]"
        if self.op == "ensure_service":
            return f"a [[services]] on port {a['port']} → internal {a['internal_port']} with handlers {list(a['handlers'])}"
        if self.op == "internal_port":
            return f"internal_port {a.get('old', 'any')} → {a['new']}"
        return self.op


def set_env(key: str, value: str, file: str = FLY_TOML) -> Edit:
    """[env] KEY = "value". Refuses names that look secret (those go to `fly secrets set`)."""
    if looks_secret(key):
        raise FixError(f"{key} looks secret: set it with `fly secrets set`, never in fly.toml")
    return Edit("set_env", (("key", key), ("value", str(value))), file)


def remove_env(key: str, file: str = FLY_TOML) -> Edit:
    return Edit("remove_env", (("key", key),), file)


def ensure_service(port: int = 5432, internal_port: int = 5432, handlers: Iterable[str] = ("pg_tls",), protocol: str = "tcp", file: str = FLY_TOML) -> Edit:
    """A public service: for Fly Postgres from outside the 6PN, `pg_tls` on 5432
    (facts/fly.md §4.1 "External access", F6)."""
    return Edit("ensure_service", (("handlers", tuple(handlers)), ("internal_port", int(internal_port)), ("port", int(port)), ("protocol", protocol)), file)


def internal_port(new: int, old: int | None = None, file: str = FLY_TOML) -> Edit:
    """Make [http_service] and [[services]] internal_port `new` (only those at `old`, when given)."""
    args = (("new", int(new)),) + ((("old", int(old)),) if old is not None else ())
    return Edit("internal_port", args, file)


OPS = ("set_env", "remove_env", "ensure_service", "internal_port")


# Ready-made patches for the config fixes the catalog names; a cause's fix builder
# attaches one with `steps(..., patch=fixes.convex_origins(url))`.


def external_pg_tls(file: str = FLY_TOML) -> list[Edit]:
    """Fly Postgres reachable from outside the 6PN: a `pg_tls` service on 5432, in the
    Postgres app's fly.toml (`fly config save -a <pg>`; facts/fly.md §4.1, F6)."""
    return [ensure_service(5432, 5432, ("pg_tls",), "tcp", file)]


def convex_origins(public_url: str, file: str = FLY_TOML) -> list[Edit]:
    """A self-hosted backend's own origins: the API and `<url>/http` for HTTP actions
    behind Fly (facts/convex.md, self-hosting on Fly, step 2)."""
    base = public_url.rstrip("/")
    return [set_env("CONVEX_CLOUD_ORIGIN", base, file), set_env("CONVEX_SITE_ORIGIN", base + "/http", file)]


def disable_metrics(file: str = FLY_TOML) -> list[Edit]:
    """`/metrics` off on a self-hosted backend (facts/convex.md §1.1)."""
    return [set_env("DISABLE_METRICS_ENDPOINT", "true", file)]


def no_scale_to_zero(file: str = FLY_TOML) -> list[Edit]:
    """Fly Postgres that stays up: FLY_SCALE_TO_ZERO out of [env] (facts/fly.md §4.1, F8)."""
    return [remove_env("FLY_SCALE_TO_ZERO", file)]


def match_internal_port(listening: int, configured: int | None = None, file: str = FLY_TOML) -> list[Edit]:
    """internal_port made the port the app really listens on (facts/fly.md F3)."""
    return [internal_port(listening, configured, file)]


# ---------------------------------------------------------------- editing with tomlkit


def _table_indent(table) -> str:
    for k, v in table.value.body:
        if k is not None and hasattr(v, "trivia"):
            return v.trivia.indent
    return ""


def _string_like(value: str, like) -> Any:
    """A string item in the quote style of `like` (a literal '...' stays literal)."""
    import tomlkit
    from tomlkit.items import String, StringType

    if isinstance(like, String) and like.type == StringType.SLL and "'" not in value and "\n" not in value:
        return tomlkit.string(value, literal=True)
    return tomlkit.string(value)


def _sibling_string(table):
    from tomlkit.items import String

    for _, v in table.items():
        if isinstance(v, String):
            return v
    return None


def _add_key(table, key: str, value) -> None:
    """Add key after the table's last key (not after trailing comments), indented like its siblings."""
    from tomlkit.items import Table

    if isinstance(value, str):
        value = _string_like(value, _sibling_string(table))
    if not isinstance(table, Table) or table.is_super_table():  # inline tables, dotted keys
        table[key] = value
        return
    plain = [k for k, v in table.value.body if k is not None and not _is_table(v)]
    if plain:
        value.trivia.indent = _table_indent(table)
        table.value._insert_after(plain[-1].key, key, value)
    elif any(k is not None for k, _ in table.value.body):  # only sub-tables: keys go first
        table.value._insert_at(0, key, value)
    else:
        table[key] = value


def _is_table(v) -> bool:
    from tomlkit.items import AoT, Table

    return isinstance(v, (Table, AoT))


def _env_table(doc, create: bool):
    import tomlkit

    env = doc.get("env")
    if env is None:
        if not create:
            return None
        text = doc.as_string()
        for _ in range(2 - (len(text) - len(text.rstrip("\n")))):
            doc.add(tomlkit.nl())  # a blank line before the new table
        doc.append("env", tomlkit.table())
        return doc["env"]
    if not isinstance(env, MutableMapping):
        raise FixError("[env] in fly.toml is not a table")
    return env


def _apply_one(doc, e: Edit) -> str | None:
    """Apply one edit in place; return a description, or None if already so."""
    import tomlkit

    a = e.a
    if e.op == "set_env":
        env = _env_table(doc, create=True)
        key, value = a["key"], a["value"]
        if key in env:
            if env[key] == value:
                return None
            env[key] = _string_like(value, env.get(key))  # keeps the line's comment and indentation
        else:
            _add_key(env, key, value)
        return e.describe()
    if e.op == "remove_env":
        env = _env_table(doc, create=False)
        if env is None or a["key"] not in env:
            return None
        del env[a["key"]]
        return e.describe()
    if e.op == "internal_port":
        new, old = a["new"], a.get("old")
        changed = False
        hs = doc.get("http_service")
        services = doc.get("services")
        if services is not None and not isinstance(services, list):
            raise FixError("[[services]] in fly.toml is not an array of tables")
        services = [s for s in services or [] if hasattr(s, "get")]
        if old is not None:  # every service on the old port
            targets = ([hs] if hasattr(hs, "get") else []) + services
        elif hasattr(hs, "get"):  # else the http_service, or the only service
            targets = [hs]
        else:
            targets = services if len(services) == 1 else []
        for t in targets:
            cur = t.get("internal_port")
            if cur is None or cur == new or (old is not None and cur != old):
                continue
            t["internal_port"] = new
            changed = True
        return e.describe() if changed else None
    if e.op == "ensure_service":
        port, iport, handlers, proto = a["port"], a["internal_port"], list(a["handlers"]), a["protocol"]
        services = doc.get("services")
        if services is not None and not isinstance(services, list):
            raise FixError("[[services]] in fly.toml is not an array of tables")
        for s in services or []:
            if not hasattr(s, "get") or s.get("internal_port") != iport:
                continue
            ports = s.get("ports")
            if ports is not None and not isinstance(ports, list):
                raise FixError("[[services.ports]] in fly.toml is not an array of tables")
            for p in ports or []:
                if hasattr(p, "get") and p.get("port") == port:
                    have = list(p.get("handlers") or [])
                    if all(h in have for h in handlers):
                        return None
                    p["handlers"] = have + [h for h in handlers if h not in have]
                    return e.describe()
            pt = _entry(ports if ports is not None else s, port=port, handlers=handlers)
            if ports is None:
                _set_array(s, "ports", pt)
            else:
                ports.append(pt)
            return e.describe()
        svc = _entry(services, protocol=proto, internal_port=iport)
        _set_array(svc, "ports", _entry(None if services is None else svc, port=port, handlers=handlers))
        if services is None:
            _set_array(doc, "services", svc)
        else:
            services.append(svc)
        return e.describe()
    raise FixError(f"unknown edit {e.op!r}")


def _inline(container) -> bool:
    """Is `container` written inline ([{...}] or {...}), so new entries must be too?"""
    from tomlkit.items import AoT, Array, InlineTable

    return isinstance(container, (Array, InlineTable)) and not isinstance(container, AoT)


def _entry(container, **values):
    """A table for `container`: inline inside inline arrays/tables, a [[table]] otherwise."""
    import tomlkit

    t = tomlkit.inline_table() if container is not None and _inline(container) else tomlkit.table()
    for k, v in values.items():
        t[k] = v
    return t


def _set_array(parent, key: str, entry) -> None:
    """parent[key] = [entry]: an array of tables, or an inline array for inline entries."""
    import tomlkit
    from tomlkit.items import InlineTable

    if isinstance(entry, InlineTable):
        arr = tomlkit.array()
        arr.append(entry)
        parent[key] = arr
    else:
        aot = tomlkit.aot()
        aot.append(entry)
        if hasattr(parent, "append") and not isinstance(parent, InlineTable):
            parent.append(key, aot)
        else:
            parent[key] = aot


def edit_text(text: str, edits: Iterable[Edit]) -> tuple[str, list[str]]:
    """The new text and what changed. Raises FixError on a file that does not parse."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(text)
    except (TOMLKitError, ValueError) as exc:
        raise FixError(f"not valid TOML, left alone: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    changes = []
    for e in edits:
        try:
            d = _apply_one(doc, e)
        except (TOMLKitError, TypeError, KeyError, AttributeError, ValueError) as exc:
            raise FixError(f"cannot {e.describe()}: {type(exc).__name__}") from None
        if d:
            changes.append(d)
    new = tomlkit.dumps(doc)
    try:  # never write a file that does not read back
        tomllib.loads(new)
    except (tomllib.TOMLDecodeError, ValueError):
        raise FixError("the change would leave fly.toml unreadable; left alone (edit it by hand)") from None
    if "\r\n" in text and not re.search(r"(?<!\r)\n", text):
        new = re.sub(r"(?<!\r)\n", "\r\n", new)  # a CRLF file stays CRLF
    if new == text:  # edits that cancel out (set, then remove) change nothing
        return text, []
    return new, changes


# ---------------------------------------------------------------- plan, show, write


@dataclass
class Plan:
    path: Path
    old_text: str
    old_hash: str
    new_text: str
    changes: list[str]
    edits: list[Edit] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes or self.new_text == self.old_text

    def diff(self) -> str:
        name = self.path.name
        lines = difflib.unified_diff(
            self.old_text.splitlines(keepends=True), self.new_text.splitlines(keepends=True), f"a/{name}", f"b/{name}"
        )
        out = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
        return shown(out)  # the file's own lines: outside text


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_for_edit(path: Path) -> tuple[str, str]:
    try:
        st = path.stat()
        if st.st_size > MAX_BYTES:
            raise FixError(f"{path.name} is larger than {MAX_BYTES} bytes, left alone")
        data = path.read_bytes()
    except OSError as exc:
        raise FixError(f"cannot read {path}: {exc.strerror}") from None
    if b"\x00" in data:
        raise FixError(f"{path.name} has binary content, left alone")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FixError(f"{path.name} is not UTF-8, left alone") from None
    return text, _hash(data)


def plan(path: str | Path, edits: Iterable[Edit]) -> Plan:
    path = Path(path)
    edits = list(edits)
    text, digest = read_for_edit(path)
    new, changes = edit_text(text, edits)
    return Plan(path, text, digest, new, changes, edits)


def backup_path(path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    p = path.with_name(f"{path.name}.{stamp}.bak")
    n = 1
    while p.exists():
        p = path.with_name(f"{path.name}.{stamp}-{n}.bak")
        n += 1
    return p


def _write_temp(path: Path, data: bytes, st: os.stat_result | None) -> str:
    """A fsynced temp file next to `path`, with its mode (and owner, when allowed)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if st is not None:
            os.chmod(tmp, st.st_mode & 0o7777)
            try:
                os.chown(tmp, st.st_uid, st.st_gid)  # root editing a user's file leaves it theirs
            except OSError:
                pass
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write(p: Plan) -> Path:
    """Write the plan: refuse if the file changed since it was read; back it up; replace
    it atomically. Returns the backup's path. On any failure the original is intact.
    A symlinked fly.toml stays a symlink: its target is what gets replaced."""
    target = p.path.resolve()
    try:
        current = target.read_bytes()
        st = target.stat()
    except OSError as exc:
        raise FixError(f"cannot read {p.path}: {exc.strerror}") from None
    if _hash(current) != p.old_hash:
        raise ChangedSinceRead(f"{p.path.name} changed since it was read; nothing written (run the check again)")
    bak = backup_path(p.path)
    tmp = None
    try:
        os.replace(_write_temp(bak, current, st), bak)
        tmp = _write_temp(target, p.new_text.encode("utf-8"), st)
        if _hash(target.read_bytes()) != p.old_hash:  # changed while we wrote: leave it alone
            _unlink(tmp)
            _unlink(bak)
            raise ChangedSinceRead(f"{p.path.name} changed while it was being written; nothing written (run the check again)")
        os.replace(tmp, target)
    except OSError as exc:
        if tmp:
            _unlink(tmp)
        raise FixError(f"cannot write {p.path}: {exc.strerror or exc}; the file is unchanged") from None
    return bak


# ---------------------------------------------------------------- live commands

# fly subcommands that change live state (never run without the user asking)
_LIVE = re.compile(
    r"\b(?:fly|flyctl)\s+(?:secrets\s+(?:set|unset|deploy|import)|machines?\s+(?:start|stop|restart|destroy|update|clone)|"
    r"deploy|scale|ips\s+(?:allocate|release)|volumes?\s+(?:extend|create|destroy)|pg\s+(?:attach|detach|create)|apps\s+(?:create|destroy)|"
    r"wireguard\s+create|config\s+save)\b"
)


def is_live(command: str) -> bool:
    return bool(_LIVE.search(command or ""))


@dataclass
class CommandResult:
    command: str  # as shown (control characters visible)
    returncode: int | None  # None: did not finish in time / could not start
    output: str  # redacted, bounded
    elapsed_ms: int

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def line(self) -> str:
        if self.returncode is None:
            return f"✗ {self.command}: {self.output or 'did not finish'}"
        return f"{'✓' if self.ok else '✗'} {self.command} (exit {self.returncode}, {self.elapsed_ms} ms)"


def run_command(command: str, timeout: float = 120.0, env: dict | None = None, cwd: str | Path | None = None, limit: int = 64 * 1024) -> CommandResult:
    """Run one fix command through the shell (fix commands use `read -rs VAR` and
    "${VAR}"), stdin inherited so `read` can ask. Output is redacted and bounded."""
    cmd_text = visible(command)  # ours: no secret in it (a password is "${PGPASSWORD}")
    t0 = time.monotonic()
    try:
        proc = subprocess.run(
            ["bash", "-c", command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
            env=env,
            cwd=cwd,
        )
    except subprocess.TimeoutExpired:
        return CommandResult(cmd_text, None, f"stopped after {timeout:g} s", int((time.monotonic() - t0) * 1000))
    except OSError as exc:
        return CommandResult(cmd_text, None, f"could not start: {exc.strerror}", 0)
    out = redact(proc.stdout[: 2 * limit].decode("utf-8", errors="replace"))[:limit]  # masked, then cut
    return CommandResult(cmd_text, proc.returncode, visible(out), int((time.monotonic() - t0) * 1000))


# ---------------------------------------------------------------- the flow the CLI (and the wizard) use


Ask = Callable[[str], bool]


def patches_of(diagnoses) -> list[Edit]:
    """Every edit of every diagnosis, in order, without repeats."""
    out: list[Edit] = []
    for d in diagnoses:
        for e in getattr(d.fix, "patch", None) or []:
            if e not in out:
                out.append(e)
    return out


def commands_of(diagnoses) -> list[str]:
    out = []
    for d in diagnoses:
        for s in d.fix.steps:
            if s.command and is_live(s.command) and s.command not in out:
                out.append(s.command)
    return out


def target_path(e: Edit, config: str | Path | None, cwd: Path) -> Path:
    if e.file == FLY_TOML:
        p = Path(config) if config else cwd / FLY_TOML
    else:
        p = Path(e.file)
    return p if p.is_absolute() else cwd / p


@dataclass
class Outcome:
    applied: list[tuple[Path, Path]] = field(default_factory=list)  # (file, backup)
    refused: list[str] = field(default_factory=list)  # one-line reasons
    ran: list[CommandResult] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.applied) or any(r.ok for r in self.ran)


def offer(
    diagnoses,
    out: TextIO,
    ask: Ask | None,
    yes: bool = False,
    config: str | Path | None = None,
    cwd: Path | None = None,
    run_commands: bool = False,
    runner: Callable[[str], CommandResult] = run_command,
) -> Outcome:
    """Show each file patch as a diff and apply it on yes (`yes=True`: headless
    consent). Live commands are shown; with `run_commands` each is run only if
    `ask` says yes, echoed with its outcome. `ask=None` means no one to ask."""
    cwd = Path(cwd or Path.cwd())
    result = Outcome()
    edits = patches_of(diagnoses)
    by_file: dict[Path, list[Edit]] = {}
    for e in edits:
        by_file.setdefault(target_path(e, config, cwd), []).append(e)
    for path, file_edits in by_file.items():
        try:
            p = plan(path, file_edits)
        except FixError as exc:
            result.refused.append(str(exc))
            print(f"Not applied: {exc}", file=out)
            continue
        if p.empty:
            print(f"{path.name}: already as the fix wants it", file=out)
            continue
        print(f"Proposed change to {path}:", file=out)
        for c in p.changes:
            print(f"  - {c}", file=out)
        print(p.diff(), file=out, end="")
        if not yes:
            if ask is None:
                result.refused.append(f"{path.name}: no terminal to ask on")
                print(f"Not applied: no terminal to ask on (pass --yes to apply headless)", file=out)
                continue
            if not ask(f"Apply this change to {path.name}?"):
                result.refused.append(f"{path.name}: declined")
                print("Not applied.", file=out)
                continue
        try:
            bak = write(p)
        except FixError as exc:
            result.refused.append(str(exc))
            print(f"Not applied: {exc}", file=out)
            continue
        result.applied.append((path, bak))
        print(f"Applied to {path} (backup: {bak.name}). Deploy it for the change to take effect.", file=out)
    cmds = commands_of(diagnoses)
    if cmds:
        print("Commands that change live state (run them yourself, or answer yes to run each here):", file=out)
        for c in cmds:
            print(f"  $ {visible(c)}", file=out)
            if not run_commands or ask is None:
                continue
            missing = sorted(set(re.findall(r"<[A-Z][A-Z_]*>", c)))
            if missing:  # a name the walk could not learn: the user fills it in
                print(f"    (not offered: fill in {', '.join(missing)} first)", file=out)
                continue
            if not ask(f"Run `{visible(c).splitlines()[0]}` now?"):
                continue
            r = runner(c)
            result.ran.append(r)
            print(f"  {r.line()}", file=out)
            for line in r.output.splitlines()[-20:]:
                print(f"    {line}", file=out)
    return result

"""Input discovery: flag, environment, `.env.local`, `.env`, `fly.toml` — in that order.

Every value carries its source; secret values are `Secret` from the moment
they are read, and `display` is the only text form the views ever print.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .secret import MASK, Secret, looks_secret, redact, remember
from .urls import UrlError, mask_url_text, parse_pg_url  # noqa: F401 (mask_url_text: used by callers of inputs)

MAX_FILE_BYTES = 1 << 20  # .env / fly.toml bigger than this are not read

# name -> (environment variables in order, secret?)
ENV_NAMES: dict[str, tuple[tuple[str, ...], bool]] = {
    "database_url": (("DATABASE_URL", "POSTGRES_URL"), True),
    "convex_url": (("CONVEX_URL", "CONVEX_SELF_HOSTED_URL", "VITE_CONVEX_URL", "NEXT_PUBLIC_CONVEX_URL"), False),
    "convex_site_url": (("CONVEX_SITE_URL",), False),
    "http_action": ((), False),
    "admin_key": (("CONVEX_SELF_HOSTED_ADMIN_KEY", "CONVEX_DEPLOY_KEY"), True),
    "app": (("FLY_APP_NAME", "FLY_APP"), False),
    "pg_app": ((), False),
    "config": ((), False),
    "backend_env": ((), False),
    "resolver": ((), False),
    "flyctl": ((), False),
    "wireguard_config": ((), False),
}


def searched(name: str) -> list[str]:
    """Every place discovery looks for an input, in order (for "not found" evidence)."""
    env_names = ENV_NAMES.get(name, ((), False))[0]
    places = ["--" + name.replace("_", "-"), *env_names]
    if env_names:
        places += [".env.local", ".env", "fly.toml [env]"]
    return places


@dataclass
class InputValue:
    name: str
    value: Any  # str, or Secret for secrets
    source: str  # "flag", "env:DATABASE_URL", ".env.local:DATABASE_URL", "fly.toml", "derived", "answered"
    secret: bool = False
    display: str = ""

    def text(self) -> str:
        """The real value (reveals a secret: only for probes that connect)."""
        return self.value.reveal() if isinstance(self.value, Secret) else str(self.value)

    def to_json(self) -> dict:
        return {"value": self.display, "source": self.source}


@dataclass
class Inputs:
    values: dict[str, InputValue] = field(default_factory=dict)
    cwd: Path = field(default_factory=Path.cwd)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # raw: may hold secrets
    files_found: list[str] = field(default_factory=list)  # ".env.local", "fly.toml", ...
    problems: list[dict] = field(default_factory=list)  # {"file", "line", "message"}
    fly_toml: dict | None = field(default=None, repr=False)  # raw: [env] may hold a secret by mistake
    fly_toml_error: dict | None = None  # {"path", "line", "column", "message"}
    dotenv: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)  # file -> {KEY: raw}; raw: may hold secrets
    backend_env: dict[str, Any] | None = None  # KEY -> str | Secret

    def get(self, name: str) -> InputValue | None:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        v = self.values.get(name)
        return v.text() if v else None

    def set(self, name: str, value: str, source: str) -> InputValue:
        secret = ENV_NAMES.get(name, ((), False))[1] or looks_secret(name)
        iv = make_value(name, value, source, secret)
        self.values[name] = iv
        return iv

    def to_json(self) -> dict:
        return {k: v.to_json() for k, v in sorted(self.values.items())}


def make_value(name: str, value: str, source: str, secret: bool) -> InputValue:
    value = value.strip()
    if name == "database_url" or "://" in value:
        # the password inside is remembered by mask_url_text (and by the parser); the
        # whole URL is not, or a URL without a password would be blanked wherever it is shown
        display = mask_url_text(value)
        return InputValue(name, Secret(value, remember_value=False), source, True, display)
    if secret:
        return InputValue(name, Secret(value), source, True, MASK)
    return InputValue(name, value, source, False, redact(value))


# ---------------------------------------------------------------- .env files

_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")


def parse_dotenv(text: str, filename: str = ".env") -> tuple[dict[str, str], list[dict]]:
    """Parse KEY=VALUE lines (quotes, `export`, comments). Bad lines are reported, not fatal."""
    values: dict[str, str] = {}
    problems: list[dict] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = _DOTENV_LINE.match(line)
        if not m:
            problems.append({"file": filename, "line": lineno, "message": "not a KEY=VALUE line"})
            continue
        key, val = m.group(1), m.group(2).strip()
        if val[:1] in ("'", '"'):
            q = val[0]
            end = val.find(q, 1)
            if end == -1:
                problems.append({"file": filename, "line": lineno, "message": f"{key}: unterminated {q} quote"})
                continue
            inner = val[1:end]
            if q == '"':
                inner = inner.replace("\\n", "\n").replace('\\"', '"')
            val = inner
        else:
            val = re.split(r"\s+#", val, maxsplit=1)[0].strip()
        values[key] = val
    return values, problems


def _read_text(path: Path, problems: list[dict]) -> str | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append({"file": path.name, "line": 0, "message": f"larger than {MAX_FILE_BYTES} bytes, not read"})
            return None
        data = path.read_bytes()
    except OSError as exc:
        problems.append({"file": path.name, "line": 0, "message": f"cannot read: {exc.strerror}"})
        return None
    if b"\x00" in data:
        problems.append({"file": path.name, "line": 0, "message": "binary content, not read"})
        return None
    return data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- fly.toml


def _may_quote(path: Path) -> bool:
    """Lines of a file are quoted back only from a .toml file the user owns: a fly.toml
    linked to /etc/shadow must not print its lines."""
    try:
        real = path.resolve()
        return real.suffix == ".toml" and real.stat().st_uid == os.getuid()
    except (OSError, RuntimeError):
        return False


def read_fly_toml(path: Path) -> tuple[dict | None, dict | None]:
    """(document, error). error = {"path", "line", "column", "message"}."""
    problems: list[dict] = []
    quote = _may_quote(path)
    text = _read_text(path, problems)
    if text is None:
        msg = problems[0]["message"] if problems else "cannot read"
        return None, {"path": str(path), "line": 0, "column": 0, "message": msg}
    try:
        doc = tomllib.loads(text)
    except RecursionError:  # arrays or tables nested hundreds deep
        return None, {"path": str(path), "line": 0, "column": 0, "message": "values nested too deeply to read", "text": ""}
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line, col = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        bad_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
        return None, {
            "path": str(path),
            "line": line,
            "column": col,
            "message": message,
            "text": redact(bad_line.strip())[:200] if quote else "",
        }
    bad = _type_problem(doc)
    if bad:
        key, message = bad
        return doc, {"path": str(path), "line": _line_of(text, key), "column": 1, "message": message, "text": redact(_line_text(text, key))[:200] if quote else ""}
    app = doc.get("app")
    if app is None:
        return doc, {"path": str(path), "line": 0, "column": 0, "message": "no `app = \"...\"` key", "text": ""}
    if not isinstance(app, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", app):
        return doc, {
            "path": str(path),
            "line": _line_of(text, "app"),
            "column": 1,
            "message": f"`app` must be an app name in lower case letters, digits and '-' (got {type(app).__name__} {str(app)[:40]!r})",
            "text": "",
        }
    return doc, None


def _type_problem(doc: dict) -> tuple[str, str] | None:
    """(key, message) for the first value of the wrong type in the parts fcp-doctor
    reads or fixes ([env], [http_service], [[services]]); fly deploy rejects them too."""

    def port(where: str, key: str, v) -> tuple[str, str] | None:
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 65536):
            return key, f"{where} {key} must be a port number (got {type(v).__name__} {str(v)[:40]!r})"
        return None

    env = doc.get("env")
    if env is not None:
        if not isinstance(env, dict):
            return "env", f"[env] must be a table (got {type(env).__name__})"
        for k, v in env.items():
            if isinstance(v, (dict, list)):
                return k, f"[env] {k} must be a string, number or boolean (got {type(v).__name__})"
    hs = doc.get("http_service")
    if hs is not None:
        if not isinstance(hs, dict):
            return "http_service", f"[http_service] must be a table (got {type(hs).__name__})"
        bad = port("[http_service]", "internal_port", hs.get("internal_port"))
        if bad:
            return bad
    services = doc.get("services")
    if services is not None:
        if not isinstance(services, list) or not all(isinstance(x, dict) for x in services):
            return "services", "[[services]] must be an array of tables"
        for svc in services:
            bad = port("[[services]]", "internal_port", svc.get("internal_port"))
            if bad:
                return bad
            ports = svc.get("ports", [])
            if not isinstance(ports, list) or not all(isinstance(x, dict) for x in ports):
                return "ports", "[[services.ports]] must be an array of tables"
            for pt in ports:
                bad = port("[[services.ports]]", "port", pt.get("port"))
                if bad:
                    return bad
    return None


def _line_text(text: str, key: str) -> str:
    n = _line_of(text, key)
    return text.splitlines()[n - 1].strip() if n else ""


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return i
    return 0


# ---------------------------------------------------------------- discovery


def discover(
    flags: Mapping[str, str | None] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> Inputs:
    flags = {k: v for k, v in (flags or {}).items() if v not in (None, "")}
    env = dict(os.environ if env is None else env)
    cwd = Path(cwd or Path.cwd())
    inputs = Inputs(cwd=cwd, env=env)
    remember_libpq_passwords(env)

    for fname in (".env.local", ".env"):
        p = cwd / fname
        if p.is_file():
            text = _read_text(p, inputs.problems)
            if text is not None:
                values, problems = parse_dotenv(text, fname)
                inputs.dotenv[fname] = values
                inputs.problems.extend(problems)
                inputs.files_found.append(fname)

    config_path = Path(flags["config"]) if "config" in flags else cwd / "fly.toml"
    if not config_path.is_absolute():
        config_path = cwd / config_path
    if config_path.is_symlink():
        try:
            target = config_path.resolve()
            outside = not target.is_relative_to(cwd.resolve())
        except (OSError, RuntimeError):
            target, outside = config_path, True
        if outside:
            inputs.problems.append({"file": config_path.name, "line": 0, "message": f"a link to {target}, outside {cwd}: read from there"})
    if config_path.is_file():
        inputs.files_found.append(config_path.name if config_path.parent == cwd else str(config_path))
        inputs.fly_toml, inputs.fly_toml_error = read_fly_toml(config_path)
        inputs.set("config", str(config_path), "flag" if "config" in flags else "found")
    elif "config" in flags:
        inputs.fly_toml_error = {"path": str(config_path), "line": 0, "column": 0, "message": "file not found"}

    for name, (env_names, _secret) in ENV_NAMES.items():
        if name == "config":
            continue
        if name in flags:
            inputs.set(name, str(flags[name]), "flag")
            continue
        found = False
        for var in env_names:
            if env.get(var):
                inputs.set(name, env[var], f"env:{var}")
                found = True
                break
        if found:
            continue
        for fname in (".env.local", ".env"):
            for var in env_names:
                if inputs.dotenv.get(fname, {}).get(var):
                    inputs.set(name, inputs.dotenv[fname][var], f"{fname}:{var}")
                    found = True
                    break
            if found:
                break
        if found:
            continue
        toml_env = inputs.fly_toml.get("env") if isinstance(inputs.fly_toml, dict) else None
        if isinstance(toml_env, dict):  # fly.toml's [env] is the app's environment too
            for var in env_names:
                if isinstance(toml_env.get(var), str) and toml_env[var]:
                    inputs.set(name, toml_env[var], f"fly.toml:{var}")
                    found = True
                    break
        if found:
            continue
        if name == "app" and inputs.fly_toml and isinstance(inputs.fly_toml.get("app"), str):
            inputs.set("app", inputs.fly_toml["app"], "fly.toml")

    # the rest of the flags (symptom, timeout, ...) are carried as given
    for name, value in flags.items():
        if name not in inputs.values and name not in ENV_NAMES:
            inputs.set(name, str(value), "flag")

    bfile = inputs.text("backend_env")
    if bfile:
        p = Path(bfile) if Path(bfile).is_absolute() else cwd / bfile
        text = _read_text(p, inputs.problems) if p.is_file() else None
        if text is None and not p.is_file():
            inputs.problems.append({"file": str(p), "line": 0, "message": "file not found"})
        if text is not None:
            values, problems = parse_dotenv(text, p.name)
            inputs.problems.extend(problems)
            inputs.backend_env = {k: (Secret(v) if _backend_secret(k) else v) for k, v in values.items()}
    return inputs


def remember_libpq_passwords(env: Mapping[str, str]) -> None:
    """Passwords libpq finds on its own (PGPASSWORD, the password file, the service file)
    are secrets too: a server that echoes one must not show it. Only remembered, never read back."""
    if env.get("PGPASSWORD"):
        remember(env["PGPASSWORD"])
    home = Path(env.get("HOME") or Path.home())
    passfile = Path(env.get("PGPASSFILE") or home / ".pgpass")
    for line in _small_lines(passfile):
        if line.startswith("#"):
            continue
        # host:port:db:user:password, with \: and \\ escaped
        fields = re.findall(r"((?:[^:\\]|\\.)*)(?::|$)", line)
        if len(fields) >= 5:
            remember(re.sub(r"\\(.)", r"\1", ":".join(fields[4:]).rstrip(":")))
    services = [Path(env["PGSERVICEFILE"])] if env.get("PGSERVICEFILE") else [home / ".pg_service.conf"]
    if env.get("PGSYSCONFDIR"):
        services.append(Path(env["PGSYSCONFDIR"]) / "pg_service.conf")
    for path in services:
        for line in _small_lines(path):
            m = re.match(r"\s*password\s*=\s*(.*?)\s*$", line)
            if m:
                remember(m.group(1))


def _small_lines(path: Path) -> list[str]:
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return []
        return path.read_text(errors="replace").splitlines()
    except OSError:
        return []


def _backend_secret(key: str) -> bool:
    return key in ("POSTGRES_URL", "DATABASE_URL", "MYSQL_URL", "INSTANCE_SECRET") or looks_secret(key)


def masked_env(env: Mapping[str, Any]) -> dict[str, str]:
    """A display copy of an environment: secrets masked, URLs with their password masked."""
    out = {}
    for k, v in env.items():
        if isinstance(v, Secret):
            out[k] = mask_url_text(v.reveal()) if "://" in v.reveal() else MASK
        elif looks_secret(k) and "://" not in str(v):
            out[k] = MASK
        else:
            out[k] = redact(str(v))
    return out

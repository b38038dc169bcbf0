"""`fcp-doctor convex-probe init`: write a small Convex module into the user's
convex/ folder that tests Postgres from inside the deployment.

fcpDoctorNode.ts  a "use node" internal action (the `pg` package) returning
                  DNS, TCP, TLS, login, database and latency, errors as codes
fcpDoctorHttp.ts  GET /fcp-doctor/postgres, answered only with the token
http.ts           written only when the project has none

The token goes to .env.local (FCP_DOCTOR_TOKEN); it is never printed. The
walk (probe `convex.pg_from_convex`) calls the route when the token is set.
"""

from __future__ import annotations

import json
import secrets
from importlib import resources
from pathlib import Path
from typing import TextIO

TOKEN_VAR = "FCP_DOCTOR_TOKEN"
MODULES = ("fcpDoctorNode.ts", "fcpDoctorHttp.ts")
HTTP_SNIPPET = 'import { registerFcpDoctorRoutes } from "./fcpDoctorHttp";\n// ...after `const http = httpRouter();`\nregisterFcpDoctorRoutes(http);'


class InitError(Exception):
    pass


def template(name: str) -> str:
    return resources.files(__name__).joinpath("templates", name).read_text(encoding="utf-8")


def _has_dependency(project: Path, name: str) -> bool:
    try:
        pkg = json.loads((project / "package.json").read_text())
    except (OSError, ValueError):
        return False
    return any(name in (pkg.get(k) or {}) for k in ("dependencies", "devDependencies"))


def _ensure_token(project: Path) -> str:
    """Add FCP_DOCTOR_TOKEN to .env.local unless it is already there; returns what was done."""
    env_local = project / ".env.local"
    text = env_local.read_text() if env_local.is_file() else ""
    for line in text.splitlines():
        if line.strip().startswith(f"{TOKEN_VAR}="):
            return "kept the existing FCP_DOCTOR_TOKEN in .env.local"
    token = secrets.token_urlsafe(32)
    sep = "" if not text or text.endswith("\n") else "\n"
    env_local.write_text(f"{text}{sep}# fcp-doctor probe route token (also set on the deployment)\n{TOKEN_VAR}={token}\n")
    env_local.chmod(0o600)
    return "wrote a new FCP_DOCTOR_TOKEN to .env.local"


def init(project: Path, convex_dir: str = "convex", force: bool = False, out: TextIO | None = None) -> list[str]:
    """Write the module; returns the lines to print. Raises InitError for a one-line error."""
    project = Path(project)
    cdir = project / convex_dir
    if not cdir.is_dir():
        raise InitError(f"no {convex_dir}/ folder in {project} (run this in your Convex project, or pass --dir)")
    lines = []
    for name in MODULES:
        target = cdir / name
        text = template(name)
        if target.exists() and target.read_text() != text and not force:
            lines.append(f"kept    {convex_dir}/{name} (it differs from this version; --force replaces it)")
            continue
        action = "same   " if target.exists() and target.read_text() == text else "wrote  "
        target.write_text(text)
        lines.append(f"{action} {convex_dir}/{name}")
    http = cdir / "http.ts"
    if not http.exists() and not (cdir / "http.js").exists():
        http.write_text(template("http.ts"))
        lines.append(f"wrote   {convex_dir}/http.ts")
    elif "registerFcpDoctorRoutes" not in (http.read_text() if http.exists() else ""):
        lines.append(f"{convex_dir}/http.ts exists: add these lines to it, next to your other routes:")
        lines += ["    " + ln for ln in HTTP_SNIPPET.splitlines()]
    lines.append(_ensure_token(project))
    lines.append("")
    lines.append("Next:")
    n = 1
    if not _has_dependency(project, "pg"):
        lines.append(f"  {n}. npm install pg && npm install -D @types/pg")
        n += 1
    lines.append(f"  {n}. npx convex env set {TOKEN_VAR} \"$(sed -n 's/^{TOKEN_VAR}=//p' .env.local)\"   (add --prod for production)")
    lines.append(f"  {n + 1}. npx convex deploy   (or keep `npx convex dev` running)")
    lines.append(f"  {n + 2}. fcp-doctor diagnose --symptom convex-cant-reach-postgres")
    lines.append("The action reads DATABASE_URL (else POSTGRES_URL; FCP_DOCTOR_PG_VAR names another variable).")
    lines.append('If the push fails to bundle pg, add {"node": {"externalPackages": ["pg"]}} to convex.json.')
    return lines

"""The stand-in flyctl: state builders and the environment that puts it first on PATH.

The state file (JSON, named by $FAKE_FLYCTL_STATE):

    {
      "email": "dev@example.com",          # null: not logged in
      "apps": {
        "<name>": {
          "org": "personal", "network": "",
          "machines": [machine(...)],        # `fly machines list --json` entries
          "ips": [ip(...)],                  # `fly ips list --json` entries
          "secrets": [secret(...)],          # `fly secrets list --json` entries
          "proxy_targets": {"5432": "127.0.0.1:54321"},  # where `fly proxy` really forwards
          "logs": "<fly logs --no-tail text>"
        }
      },
      "proxy": {"tunnel_error": false, "dns_wait_s": 240, "bind_port": null},
      "ssh": {"root": "/path/to/debian-root", "sftp": true, "sftp_mode_flag": true},
      "log": "/path/to/invocations.jsonl"    # optional: every argv, one JSON line each
    }

A machine entry with an "ssh" key (netns, env, tmp, hosts, resolv, stuck) is a
test machine that `ssh sftp put` / `ssh console` reach; flyctl's JSON output
leaves that key out. tests/fake_flyctl/machines.py builds them.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

BIN = Path(__file__).resolve().parent / "bin"


def machine(
    id: str, state: str = "started", region: str = "iad", private_ip: str = "fdaa:0:1:a7b:1::2", role: str | None = "primary",
    image: str = "flyio/postgres-flex:15.8",
) -> dict:
    """One `fly machines list --json` entry, snake_case (fly.md §6.2; role check §4.1).
    The defaults describe a postgres-flex machine; `image` names another one."""
    repository, _, tag = image.partition(":")
    flex = repository == "flyio/postgres-flex"
    checks = []
    if role:
        checks.append({"name": "role", "status": "passing", "output": role, "updated_at": "2026-11-01T00:00:00Z"})
    return {
        "id": id,
        "name": f"m-{id[:6]}",
        "state": state,
        "region": region,
        "image_ref": {
            "registry": "registry-1.docker.io",
            "repository": repository,
            "tag": tag or "latest",
            "digest": "sha256:0",
            "labels": {"fly.pg-manager": "repmgr", "fly.version": "v0.0.62"} if flex else {},
        },
        "instance_id": "01J0000000000000000000000",
        "version": "01J0000000000000000000000",
        "private_ip": private_ip,
        "created_at": "2026-11-01T00:00:00Z",
        "updated_at": "2026-11-01T00:00:00Z",
        "config": {
            "env": {"PRIMARY_REGION": region},
            "init": {},
            "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
            "metadata": {"fly_platform_version": "v2", **({"fly-managed-postgres": "false"} if flex else {})},
            "services": [
                {"protocol": "tcp", "internal_port": 5432, "autostart": True, "ports": [{"port": 5432, "handlers": ["pg_tls"]}]},
                {"protocol": "tcp", "internal_port": 5433, "autostart": True, "ports": [{"port": 5433, "handlers": ["pg_tls"]}]},
            ] if flex else [],
            "image": image,
        },
        "events": [],
        "checks": checks,
        "host_status": "ok",
    }


def ip(address: str, type: str = "private_v6", region: str = "global") -> dict:
    """One `fly ips list --json` entry, PascalCase (fly.md §6.2)."""
    return {
        "ID": "ip_" + address.replace(":", "")[-6:],
        "Address": address,
        "Type": type,
        "Region": region,
        "CreatedAt": "2026-11-01T00:00:00Z",
        "ServiceName": "",
        "Network": {"Name": "", "Organization": {"Slug": "personal"}},
    }


def secret(name: str, status: str = "Deployed") -> dict:
    """One `fly secrets list --json` entry (fly.md §6.2, statuses §6.3)."""
    return {"name": name, "digest": "a1b2c3d4e5f60718", "status": status}


class FakeFly:
    """Writes the state file; `env()` puts the stand-in first on PATH."""

    def __init__(self, tmp: Path, email: str | None = "dev@example.com"):
        self.dir = Path(tmp)
        self.state_path = self.dir / "fake-flyctl-state.json"
        self.log_path = self.dir / "fake-flyctl-calls.jsonl"
        self.state: dict = {"email": email, "apps": {}, "proxy": {}, "log": str(self.log_path)}

    def app(self, name: str, org: str = "personal", **fields) -> dict:
        a = {"org": org, "machines": [], "ips": [], "secrets": [], "proxy_targets": {}}
        a.update(fields)
        self.state["apps"][name] = a
        return a

    def write(self) -> "FakeFly":
        self.state_path.write_text(json.dumps(self.state, indent=2))
        return self

    def env(self) -> dict:
        self.write()
        return {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "FAKE_FLYCTL_STATE": str(self.state_path)}

    def executable(self) -> Path:
        """A `fly` in this directory's bin/ that finds the state by itself (for --flyctl PATH)."""
        self.write()
        p = self.dir / "bin" / "fly"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(
            f"#!/bin/sh\nexport FAKE_FLYCTL_STATE={shlex.quote(str(self.state_path))}\n"
            f"exec {shlex.quote(sys.executable)} {shlex.quote(str(BIN / 'fly'))} \"$@\"\n"
        )
        p.chmod(0o755)
        return p

    def calls(self) -> list[list[str]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line.strip()]

"""Start-up: `diagnose` to its first byte and to exit, and the wizard's first
screen under tmux against a minimal Textual app measured the same way."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import measure
from .alternatives import ROOT

RUNS = int(os.environ.get("BENCH_STARTUP_RUNS", "5"))
WIZARD = ROOT / "tui" / "app.py"


def wizard_mode() -> str:
    return "the wizard" if WIZARD.exists() else "plain line mode (tui/app.py is not in this tree)"


def diagnose_startup(lab, env_for, url: str) -> dict:
    """Healthy loopback stack: `diagnose --json` and plain `diagnose`."""
    out = {}
    for label, extra in (("diagnose --json", ["--json"]), ("diagnose (plain)", [])):
        runs = [
            measure.run([sys.executable, "-m", "tui", "diagnose", *extra, "--database-url", url], env=env_for(lab), cwd=lab.home, bound=60)
            for _ in range(RUNS)
        ]
        out[label] = {
            "first_byte": measure.stats([r.first_byte_s for r in runs if r.first_byte_s is not None]),
            "exit": measure.stats([r.wall_s for r in runs]),
            "maxrss_kb": max((r.maxrss_kb for r in runs if r.maxrss_kb is not None), default=None),
            "rc": [r.rc for r in runs],
        }
    return out


class Tmux:
    """A private tmux server (own socket), one 80x24 session."""

    def __init__(self):
        self.sock = f"fcpbench-{os.getpid()}"
        conf = Path(tempfile.mkdtemp(prefix="fcpbench-tmux-")) / "tmux.conf"
        conf.write_text('set -g remain-on-exit on\nset -g default-terminal "xterm-256color"\nset -g status off\n')
        self.tmux("-f", str(conf), "new-session", "-d", "-x", "80", "-y", "24", "-s", "b", "sleep 600")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, check=True).stdout

    def first_screen(self, command: str, bound: float = 30.0) -> dict:
        """Seconds from starting `command` in the pane until capture-pane shows
        anything (the first screen), polled every 10 ms."""
        self.tmux("respawn-pane", "-k", "-t", "b", "sleep 600")
        self.tmux("clear-history", "-t", "b")
        t0 = time.monotonic()
        self.tmux("respawn-pane", "-k", "-t", "b", command)
        while time.monotonic() - t0 < bound:
            screen = self.tmux("capture-pane", "-p", "-t", "b")
            if screen.strip():
                return {"s": round(time.monotonic() - t0, 4), "screen": screen.rstrip()}
            time.sleep(0.01)
        return {"s": None, "screen": ""}

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


def first_screens(lab, env_for, url: str) -> dict:
    env = env_for(lab)
    keep = {k: env[k] for k in ("PYTHONPATH", "HOME", "NO_COLOR", "LC_ALL", "PATH") if k in env}
    prefix = "env -i " + " ".join(f"{k}={shlex.quote(v)}" for k, v in keep.items()) + " TERM=xterm-256color "
    cd = f"cd {shlex.quote(lab.home)} && "
    commands = {
        "fcp-doctor, live walk": cd + prefix + shlex.join([sys.executable, "-m", "tui", "--database-url", url]),
        "minimal Textual app": cd + prefix + shlex.join([sys.executable, str(ROOT / "bench" / "minimal_app.py")]),
    }
    t = Tmux()
    samples: dict[str, list] = {k: [] for k in commands}
    screens = {}
    try:
        for _ in range(RUNS):  # interleaved, so both see the same machine load
            for k, c in commands.items():
                r = t.first_screen(c)
                samples[k].append(r["s"])
                screens[k] = r["screen"]
    finally:
        t.close()
    return {
        "mode": wizard_mode(),
        "method": "tmux 80x24: time from respawn-pane until capture-pane (polled every 10 ms) is not blank",
        "results": {k: {**measure.stats([s for s in v if s is not None]), "misses": v.count(None)} for k, v in samples.items()},
        "screens": screens,
    }

"""`fcp-doctor demo SCENARIO --cast FILE`: an asciinema v2 recording of the
wizard walking a bundled scenario, for onboarding screencasts.

The wizard runs headless at a fixed size; each check waits at a gate until
a virtual clock reaches its recorded duration (at least BEAT, so a viewer can
follow), and each settled screen is written as a full frame. No real time
enters the file: two runs write the same bytes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

from diagnostics.engine import ReplayRunner
from diagnostics.model import SKIPPED, Outcome

SIZE = (80, 24)
BEAT = 0.6  # seconds each check stays on screen at least
HOLD = 4.0  # seconds the last frame stays before the cast ends
START = 1.5  # seconds the first screen stays before the first check ends
STABLE = 3  # idle waits in a row with the same screen: every message processed, every refresh drawn
MAX_WAITS = 200


@dataclass
class _Gate:
    wake: float
    future: asyncio.Future


@dataclass
class GatedReplay(ReplayRunner):
    """The recorded outcomes, each released by the cast's virtual clock."""

    outcomes: dict
    now: float = 0.0
    pending: dict[str, _Gate] = field(default_factory=dict)
    speed: float = 0.0  # the wizard adds no pause of its own

    async def run(self, node, ctx):
        if node.id not in self.outcomes:
            return Outcome("not_recorded", SKIPPED, "this check is not in the recording"), 0
        outcome, elapsed = self.outcomes[node.id]
        gate = _Gate(self.now + max(elapsed / 1000.0, BEAT), asyncio.get_running_loop().create_future())
        self.pending[node.id] = gate
        await gate.future
        return Outcome.from_json(outcome.to_json()), elapsed


async def record_cast(rec, title: str, size: tuple[int, int] = SIZE) -> str:
    """The cast of recording `rec` as asciinema v2 text."""
    from textual.widgets import Input

    from .wizard import VerdictScreen, WizardApp

    Input._toggle_cursor = lambda self: None  # no blinking cursor: frames depend on content only
    runner = GatedReplay(rec.runner().outcomes)
    app = WizardApp(rec.context(), symptom=rec.symptom, runner=runner, title=title, color_system="truecolor")
    width, height = size
    events: list[tuple[float, str]] = []
    last = None

    async with app.run_test(size=size) as pilot:

        def render() -> str:
            update = app.screen._compositor.render_update(full=True)
            return update.render_segments(app.console) if update is not None else ""

        async def settle() -> None:
            """Until the screen reads the same after STABLE idle waits in a row."""
            seen, same = None, 0
            for _ in range(MAX_WAITS):
                await pilot.pause(0.005)  # every message pump drained, then a short sleep
                now = render()
                same = same + 1 if now == seen else 0
                if same >= STABLE:
                    return
                seen = now

        def frame(t: float) -> None:
            nonlocal last
            data = render()
            if data and data != last:
                events.append((round(t, 3), ("\x1b[?25l\x1b[2J" if last is None else "") + "\x1b[H" + data))
                last = data

        await settle()
        frame(0.0)
        runner.now = START
        for _ in range(10_000):  # bounded: a recording has far fewer checks
            await settle()
            if not runner.pending:
                if isinstance(app.screen, VerdictScreen):
                    break
                continue
            node, gate = min(runner.pending.items(), key=lambda kv: (kv[1].wake, kv[0]))
            del runner.pending[node]
            runner.now = max(runner.now, gate.wake)
            gate.future.set_result(None)
            await settle()
            frame(runner.now)
        await settle()
        frame(runner.now + BEAT)
    end = (events[-1][0] if events else 0.0) + HOLD
    header = {"version": 2, "width": width, "height": height, "env": {"TERM": "xterm-256color"}, "title": title}
    lines = [json.dumps(header)] + [json.dumps([t, "o", d]) for t, d in events] + [json.dumps([round(end, 3), "o", "\x1b[?25h"])]
    return "\n".join(lines) + "\n"


def write_cast(rec, title: str, path: str | Path) -> Path:
    text = asyncio.run(record_cast(rec, title))
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out

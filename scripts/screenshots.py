#!/usr/bin/env python3
"""SVG screenshots of every wizard screen from the demo scenarios: `make screenshots`.

Writes screenshots/<screen>.svg at 80x24 (and a 16-colour variant of the verdict),
driving the real wizard headless over the bundled recordings, and one asciinema
screencast per scenario in screenshots/casts/.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.widgets import Input  # noqa: E402

from diagnostics import recording  # noqa: E402
from diagnostics.context import Context  # noqa: E402
from diagnostics.inputs import Inputs  # noqa: E402
from tui.cast import record_cast  # noqa: E402
from tui.wizard import QuestionScreen, VerdictScreen, WizardApp  # noqa: E402

OUT = ROOT / "screenshots"
SIZE = (80, 24)
Input._toggle_cursor = lambda self: None  # no blinking cursor in a still picture


def scenario(name: str):
    rec = recording.load(recording.demo_scenarios()[name])
    return rec, rec.context(), rec.runner(speed=0)


async def until(pilot, cond, timeout: float = 15.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > end:
            raise SystemExit("screenshots: the wizard did not get there in time")
        await pilot.pause(0.02)
    await pilot.pause()


async def shoot(app: WizardApp, name: str, drive) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await drive(pilot)
        app.save_screenshot(f"{name}.svg", str(OUT))
        print(f"screenshots/{name}.svg")


async def main() -> None:
    OUT.mkdir(exist_ok=True)
    at_verdict = lambda p: until(p, lambda: isinstance(p.app.screen, VerdictScreen))  # noqa: E731

    # what discovery finds on a laptop with the app's .env (PATH empty: `where` reads the same everywhere)
    inputs = Inputs(cwd=Path("/home/you/acme-web"), env={"PATH": ""}, files_found=["fly.toml", ".env"])
    inputs.set("app", "acme-web", "fly.toml")
    inputs.set("database_url", "postgres://acme_web:example-password@acme-db.flycast:5432/acme_web?sslmode=require", ".env:DATABASE_URL")
    live = Context(inputs=inputs)
    rec = recording.load(recording.demo_scenarios()["fly-ssl-require"])

    async def start(p):
        await p.app.workers.wait_for_complete()
        await p.pause()

    await shoot(WizardApp(live, symptom=rec.symptom, color_system="truecolor"), "start", start)

    for name in recording.demo_scenarios():
        rec, ctx, runner = scenario(name)
        await shoot(WizardApp(ctx, symptom=rec.symptom, runner=runner, title=f"demo: {rec.title}", color_system="truecolor"), f"verdict-{name}", at_verdict)

    async def walk(p):
        await at_verdict(p)
        await p.press("b")

    async def help_(p):
        await at_verdict(p)
        await p.press("question_mark")

    for shot, drive, colours in (("walk", walk, "truecolor"), ("help", help_, "truecolor"), ("verdict-16-colours", at_verdict, "standard")):
        rec, ctx, runner = scenario("fly-ssl-require")
        await shoot(WizardApp(ctx, symptom=rec.symptom, runner=runner, title=f"demo: {rec.title}", color_system=colours), shot, drive)

    rec, ctx, runner = scenario("healthy")
    del ctx.inputs.values["database_url"]

    async def question(p):
        await until(p, lambda: isinstance(p.app.screen, QuestionScreen))
        walk = p.app.screen_stack[-2]  # the context checks behind the form, finished
        await until(p, lambda: all(n in walk.views and walk.views[n].status != "running" for n in ("context.where", "config.fly_toml")))

    await shoot(WizardApp(ctx, symptom=rec.symptom, runner=runner, title="demo", color_system="truecolor"), "question", question)

    # the screencasts: one asciinema v2 recording per scenario (`fcp-doctor demo NAME --cast FILE`)
    (OUT / "casts").mkdir(exist_ok=True)
    for name, path in recording.demo_scenarios().items():
        rec = recording.load(path)
        cast = OUT / "casts" / f"{name}.cast"
        cast.write_text(await record_cast(rec, f"demo: {rec.title}"), encoding="utf-8")
        print(f"screenshots/casts/{name}.cast")


if __name__ == "__main__":
    asyncio.run(main())

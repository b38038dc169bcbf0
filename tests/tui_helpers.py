"""Shared pieces of the wizard tests: contexts, runners and waiting."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from diagnostics import recording
from diagnostics.context import Context
from diagnostics.engine import Runner
from diagnostics.inputs import Inputs

CANARY = "canary-Pw-7f3e9q"  # must never show on screen, in a snapshot or in an export


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def live_context(tmp: Path, url: str | None = None) -> Context:
    """Inputs as discovery would build them, from a flag only; PATH empty so
    `where` is the same on every machine (no flyctl)."""
    inputs = Inputs(cwd=tmp, env={"PATH": ""})
    if url:
        inputs.set("database_url", url, "flag")
    return Context(inputs=inputs, timeout=2.0)


def canary_url() -> str:
    return f"postgres://acme_web:{CANARY}@127.0.0.1:{closed_port()}/acme_web?sslmode=disable"


def demo(name: str):
    rec = recording.load(recording.demo_scenarios()[name])
    return rec, rec.context(), rec.runner(speed=0)


class HangingRunner(Runner):
    """Replays a recording, except one node whose probe never returns."""

    def __init__(self, inner: Runner, hang: str):
        self.inner, self.hang = inner, hang
        self.started = asyncio.Event()

    async def run(self, node, ctx):
        if node.id == self.hang:
            self.started.set()
            await asyncio.Event().wait()
        return await self.inner.run(node, ctx)


async def wait_until(pilot, cond, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)
    await pilot.pause()

"""Probes: small, async, bounded. One module per layer.

A probe is `async def probe(ctx: Context) -> Outcome`, registered by name with
`@probe("layer.name")`. It never raises on purpose (the engine turns an
exception into a `crashed` step anyway), bounds every wait by `ctx.timeout`,
and returns evidence a human can read. Heavy imports (psycopg, httpx,
dnspython) happen inside the probe that needs them.
"""

from __future__ import annotations

from typing import Awaitable, Callable

from ..registry import lazy_loader

PROBES: dict[str, Callable[..., Awaitable]] = {}
_MODULES = ("context", "net", "pg", "fly", "flyctl", "convex", "convex_self", "logs")


def probe(name: str):
    def deco(fn):
        if name in PROBES:
            raise ValueError(f"probe {name} defined twice")
        PROBES[name] = fn
        return fn

    return deco


_load_modules = lazy_loader(__name__, _MODULES)


def load_all() -> dict[str, Callable[..., Awaitable]]:
    _load_modules()
    return PROBES

"""Registries filled by importing their layer modules, once, on first use
(the tree's nodes, the cause catalog, the probes)."""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_loader(package: str, modules: tuple[str, ...]) -> Callable[[], None]:
    """A function that imports `package.<module>` for each module the first time it is called."""
    loaded = False

    def load() -> None:
        nonlocal loaded
        if not loaded:
            for mod in modules:
                importlib.import_module(f"{package}.{mod}")
            loaded = True

    return load

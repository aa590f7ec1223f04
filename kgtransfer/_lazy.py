"""Lazy re-exports: a package names its public objects, and each module is imported on first use."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict, public: list[str]
) -> tuple[Callable, Callable]:
    """``(__getattr__, __dir__)`` for a package whose ``exports`` map public names to defining modules."""

    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(list(namespace) + public)

    return __getattr__, __dir__

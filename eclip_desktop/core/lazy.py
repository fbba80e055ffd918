"""A module imported on first use, for the few core modules the window needs before torch.

torch and open_clip take seconds to import (23 s on a busy 2-core machine); the window must open
with its sample first. Modules whose torch use is all inside functions bind `torch = lazy("torch")`
and stay importable without it; the real import happens on the worker thread with the first model.
"""
from __future__ import annotations

import importlib


class _Lazy:
    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def lazy(name: str) -> _Lazy:
    return _Lazy(name)

"""The pooling registry: one line per pooling module. Each module declares its `POOLING` (names,
single-image readout, batched training form; see base.py); the CLI's --pooling, the window's pooling
keys, analyses and training read the declarations from here. Importing this package does not import
torch."""
from __future__ import annotations

import importlib

from eclip_desktop.core.model.poolings.base import (  # noqa: F401
    INPUT_SIZE_RANGE,
    TAU_CHOICES,
    TAU_READOUT_CHOICES,
    TAU_TRAINED,
    Pooling,
    PoolingReadout,
    free_attention_mask,
    zero_shot,
)

MODULES = [
    "native",
    "avg",
    "max",
    "masked_max",
]

POOLINGS: dict[str, Pooling] = {}
POOLING_LABELS: dict[str, str] = {}
# Tile titles, pooling keys and batch check boxes: the name without the explanation.
POOLING_SHORT: dict[str, str] = {}


def register(pooling: Pooling) -> Pooling:
    """Adds a pooling (a module's POOLING) to the registry; the CLI, the window and training take it from then on."""
    if pooling.name in POOLINGS and POOLINGS[pooling.name] is not pooling:
        raise ValueError(f"a pooling named '{pooling.name}' is already registered")
    POOLINGS[pooling.name] = pooling
    POOLING_LABELS[pooling.name] = pooling.label
    POOLING_SHORT[pooling.name] = pooling.short
    return pooling


def unregister(name: str) -> None:
    for table in (POOLINGS, POOLING_LABELS, POOLING_SHORT):
        table.pop(name, None)


for _module in MODULES:
    register(importlib.import_module(f"eclip_desktop.core.model.poolings.{_module}").POOLING)


def get_pooling(name: str) -> Pooling:
    if name not in POOLINGS:
        raise ValueError(f"unknown pooling '{name}': choose one of {', '.join(POOLINGS)}")
    return POOLINGS[name]


def short_pooling(pooling: str) -> str:
    return POOLING_SHORT.get(pooling, str(pooling).replace("_", " "))


def pooling_names() -> list[str]:
    return list(POOLINGS)


def expand_poolings(names: list[str] | str) -> list[str]:
    names = [names] if isinstance(names, str) else list(names)
    out: list[str] = []
    for n in names:
        for p in (pooling_names() if n == "all" else [n]):
            if p not in POOLINGS:
                raise ValueError(f"unknown pooling '{p}': choose from {', '.join(pooling_names())} or all")
            if p not in out:
                out.append(p)
    return out

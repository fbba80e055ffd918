"""Method registry. A method maps (analysis, text embeddings) to raw per-token scores (T, N);
normalisation and upsampling are shared (see heatmap.py). A new method is one module + one line."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


def _lazy(module: str, attr: str = "scores") -> Callable:
    """The method's function, imported on first call: method modules import torch, and the window
    reads this registry (names, labels) before torch is loaded so it can open at once."""
    def call(*args, **kwargs):
        return getattr(importlib.import_module(f"eclip_desktop.core.explain.methods.{module}"), attr)(*args, **kwargs)
    return call


@dataclass(frozen=True)
class MethodInfo:
    name: str
    label: str
    description: str
    scores: Callable  # (analysis, texts (T, D), bank, **options) -> torch.Tensor (T, N)


METHODS: dict[str, MethodInfo] = {
    "itsm": MethodInfo("itsm", "ITSM", "raw image-text similarity map of the model (ECLIP)", _lazy("itsm")),
    "surgery": MethodInfo("surgery", "CLIP Surgery", "v-v attention path + feature surgery", _lazy("surgery")),
}


def method_names() -> list[str]:
    return list(METHODS)


def get_method(name: str) -> MethodInfo:
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}': choose one of {', '.join(METHODS)}")
    return METHODS[name]

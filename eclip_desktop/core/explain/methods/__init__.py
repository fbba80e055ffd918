"""Method registry. A method maps (analysis, text embeddings) to raw per-token scores (T, N);
normalisation and upsampling are shared (see heatmap.py). A new method is one module + one line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from eclip_desktop.core.explain.methods import itsm, surgery


@dataclass(frozen=True)
class MethodInfo:
    name: str
    label: str
    description: str
    scores: Callable  # (analysis, texts (T, D), bank, **options) -> torch.Tensor (T, N)


METHODS: dict[str, MethodInfo] = {
    "itsm": MethodInfo("itsm", "ITSM", "raw image-text similarity map of the model (ECLIP)", itsm.scores),
    "surgery": MethodInfo("surgery", "CLIP Surgery", "v-v attention path + feature surgery", surgery.scores),
}


def method_names() -> list[str]:
    return list(METHODS)


def get_method(name: str) -> MethodInfo:
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}': choose one of {', '.join(METHODS)}")
    return METHODS[name]

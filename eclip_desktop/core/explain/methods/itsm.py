"""ITSM (ECLIP, METHODS §1): plain cosine of every dense token with each text."""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.explain.methods.base import Method
from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.kinds import ALL_KINDS

if TYPE_CHECKING:
    import torch
else:
    # Imported on first use: the CLI's parser and the window read this module's constants before torch.
    torch = lazy("torch")

METHOD = Method("itsm", "ITSM", "raw image-text similarity map of the model (ECLIP)", module="itsm",
                kinds=ALL_KINDS,  # it reads the dense tokens only, which every kind has
                raw_label="similarity")


def cosine_map(tokens: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """(..., N, D) tokens x (T, D) normalised texts -> (..., T, N) cosine similarities."""
    return (torch.nn.functional.normalize(tokens, dim=-1) @ texts.T).transpose(-1, -2)


def scores(job, **_) -> torch.Tensor:
    return cosine_map(job.analysis.tokens, job.texts)

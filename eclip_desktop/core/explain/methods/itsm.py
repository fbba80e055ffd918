"""ITSM (ECLIP, METHODS §1): plain cosine of every dense token with each text."""
from __future__ import annotations

import torch


def cosine_map(tokens: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """(..., N, D) tokens x (T, D) normalised texts -> (..., T, N) cosine similarities."""
    return (torch.nn.functional.normalize(tokens, dim=-1) @ texts.T).transpose(-1, -2)


def scores(analysis, texts: torch.Tensor, bank=None, **_) -> torch.Tensor:
    return cosine_map(analysis.tokens, texts)

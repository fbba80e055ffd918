"""CLIP Surgery (METHODS §4): tokens from the v-v attention path, then feature surgery, which
removes what all texts of the label set (or the empty text) share with every token."""
from __future__ import annotations

import torch

from eclip_desktop.core.explain.methods.itsm import cosine_map


def text_weights(pooled: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """w = softmax(2 cos(global, G)) / mean: favours the texts the image as a whole matches."""
    probs = torch.softmax(2.0 * (torch.nn.functional.normalize(pooled, dim=-1) @ texts.T), dim=-1)
    return probs / probs.mean(dim=-1, keepdim=True)


def feature_surgery(tokens: torch.Tensor, pooled: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """Closed form for (B, N, D) tokens, (B, D) pooled, (T, D) texts -> (B, T, N)."""
    weighted = cosine_map(tokens, texts) * text_weights(pooled, texts)[..., :, None]
    return weighted - weighted.mean(dim=-2, keepdim=True)


def feature_surgery_explicit(tokens: torch.Tensor, pooled: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
    """The element-wise form of the paper: (f ⊙ w_t g_t) minus its mean over texts, summed over channels.
    Memory O(B N T D): a reference for tests, not for use."""
    f = torch.nn.functional.normalize(tokens, dim=-1)
    w = text_weights(pooled, texts)
    feats = f[:, :, None, :] * (texts[None, None] * w[:, None, :, None])
    redundant = feats.mean(dim=2, keepdim=True)
    return (feats - redundant).sum(-1).transpose(1, 2)


def scores(analysis, texts: torch.Tensor, bank=None, vv: bool = True, feature: bool = True, **_) -> torch.Tensor:
    tokens = analysis.surgery_tokens() if vv else analysis.tokens
    if not feature:
        return cosine_map(tokens, texts)
    if texts.shape[0] == 1:
        # A single text has no label set to subtract: the empty text stands for what every
        # prompt shares.
        empty = bank.empty_embedding()
        return cosine_map(tokens, texts) - cosine_map(tokens, empty[None])
    return feature_surgery(tokens[None], analysis.pooled[None], texts)[0]

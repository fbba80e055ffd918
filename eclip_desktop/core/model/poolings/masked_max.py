"""Masked max pooling (ECLIP): the channel-wise max over the tokens the free attention keeps
(a >= tau); tokens outside the mask contribute nothing."""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.poolings.base import Pooling, PoolingReadout, channel_wins, free_attention_mask

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")


def readout(tokens, pooled, attention, tau="mean", topk=0.25, **_) -> PoolingReadout:
    mask = free_attention_mask(attention, tau, topk)
    values, share = channel_wins(tokens, mask)
    return PoolingReadout(values, share, mask)


def batched(tokens, pooled, attention, tau="mean", topk=0.25, **_):
    mask = torch.stack([free_attention_mask(a, tau, topk) for a in attention])
    return tokens.masked_fill(~mask[..., None], float("-inf")).max(1).values


POOLING = Pooling("masked_max", "masked max (free attention)", "masked max", readout, batched,
                  uses_free_attention=True)

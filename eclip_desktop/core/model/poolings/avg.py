"""Average pooling: the mean of the dense tokens; every location contributes equally."""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.poolings.base import Pooling, PoolingReadout

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")


def readout(tokens, pooled, attention, **_) -> PoolingReadout:
    n = tokens.shape[0]
    return PoolingReadout(tokens.mean(0), torch.full((n,), 1.0 / n))


def batched(tokens, pooled, attention, **_):
    return tokens.mean(1)


POOLING = Pooling("avg", "average", "avg", readout, batched)

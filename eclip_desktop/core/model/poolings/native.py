"""Native pooling: the model's own class token (ViT) or attention pool (ResNet). Its evidence is
where the pool's query attends (the free attention)."""
from __future__ import annotations

from eclip_desktop.core.model.poolings.base import Pooling, PoolingReadout


def readout(tokens, pooled, attention, **_) -> PoolingReadout:
    return PoolingReadout(pooled, attention / attention.sum().clamp_min(1e-12))


def batched(tokens, pooled, attention, **_):
    return pooled


POOLING = Pooling("native", "native (class token / attention pool)", "native", readout, batched)

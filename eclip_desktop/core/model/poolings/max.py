"""Max pooling: the channel-wise max over the dense tokens; a token's contribution is the share
of channels it wins."""
from __future__ import annotations

from eclip_desktop.core.model.poolings.base import Pooling, PoolingReadout, channel_wins


def readout(tokens, pooled, attention, **_) -> PoolingReadout:
    values, share = channel_wins(tokens)
    return PoolingReadout(values, share)


def batched(tokens, pooled, attention, **_):
    return tokens.max(1).values


POOLING = Pooling("max", "max", "max", readout, batched)

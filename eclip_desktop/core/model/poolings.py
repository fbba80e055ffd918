"""Pooling readouts (METHODS §2): each turns dense tokens into a pooled embedding and a map of
where that pooling takes its evidence. A new pooling is one function plus one registry line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from eclip_desktop.core.lazy import lazy

torch = lazy("torch")  # used inside the functions only: pooling names must not need torch
TAU_CHOICES = ("mean", "topk")
# A readout may ask for "the threshold these weights were trained with" (core/model/trained.py);
# what is recorded anywhere (sidecars, cards) is always the concrete one.
TAU_TRAINED = "trained"
TAU_READOUT_CHOICES = (TAU_TRAINED, *TAU_CHOICES)
# Square input sizes the image encoder accepts: the CLI's --input-size and `reproduce` share these bounds
# (a sidecar asking for 100000 would otherwise allocate tens of GB).
INPUT_SIZE_RANGE = (32, 2048)


@dataclass
class PoolingReadout:
    embedding: torch.Tensor  # (D,) not normalised
    contribution: torch.Tensor  # (N,) non-negative, sums to 1 (or 0 outside a mask)
    mask: torch.Tensor | None = None  # (N,) bool, masked_max only


def free_attention_mask(attention: torch.Tensor, tau: str = "mean", topk: float = 0.25) -> torch.Tensor:
    """m = a >= tau; tau = mean(a), or the top-k fraction of tokens. Never empty."""
    if tau == "mean":
        mask = attention >= attention.mean()
    elif tau == "topk":
        k = max(1, int(round(topk * attention.numel())))
        mask = torch.zeros_like(attention, dtype=torch.bool)
        mask[torch.topk(attention, k).indices] = True
    else:
        raise ValueError(f"unknown threshold '{tau}': choose one of {', '.join(TAU_CHOICES)}")
    if not mask.any():
        mask[attention.argmax()] = True
    return mask


def _channel_wins(tokens: torch.Tensor, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel-wise max and, per token, the share of channels it wins."""
    masked = tokens if keep is None else tokens.masked_fill(~keep[:, None], float("-inf"))
    values, winners = masked.max(dim=0)
    share = torch.bincount(winners, minlength=tokens.shape[0]).float() / tokens.shape[1]
    return values, share


def native(tokens, pooled, attention, **_):
    return PoolingReadout(pooled, attention / attention.sum().clamp_min(1e-12))


def avg(tokens, pooled, attention, **_):
    n = tokens.shape[0]
    return PoolingReadout(tokens.mean(0), torch.full((n,), 1.0 / n))


def max_pool(tokens, pooled, attention, **_):
    values, share = _channel_wins(tokens)
    return PoolingReadout(values, share)


def masked_max(tokens, pooled, attention, tau="mean", topk=0.25, **_):
    mask = free_attention_mask(attention, tau, topk)
    values, share = _channel_wins(tokens, mask)
    return PoolingReadout(values, share, mask)


POOLINGS: dict[str, Callable[..., PoolingReadout]] = {
    "native": native,
    "avg": avg,
    "max": max_pool,
    "masked_max": masked_max,
}
POOLING_LABELS = {"native": "native (class token / attention pool)", "avg": "average",
                  "max": "max", "masked_max": "masked max (free attention)"}
# Tile titles, pooling keys and batch check boxes: the name without the explanation.
POOLING_SHORT = {"native": "native", "avg": "avg", "max": "max", "masked_max": "masked max"}


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


def zero_shot(embedding: torch.Tensor, texts: torch.Tensor, logit_scale: float) -> dict:
    """Cosine of the pooled embedding with each text and the softmax over the given texts."""
    cos = torch.nn.functional.normalize(embedding, dim=-1) @ texts.T
    prob = torch.softmax(logit_scale * cos, dim=-1)
    return {"cosine": cos.tolist(), "probability": prob.tolist()}

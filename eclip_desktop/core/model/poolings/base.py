"""What a pooling declares about itself (METHODS §2): its names and the two forms of its maths.

The single-image readout explains an analysed image (embedding, contribution map, mask); the batched
form is what training optimises. Both live in the pooling's own module, side by side, and
tests/test_pooling_units.py checks that they agree. Nothing here imports torch at import time: the
window reads pooling names before torch is loaded.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from eclip_desktop.core.lazy import lazy

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")

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
    mask: torch.Tensor | None = None  # (N,) bool, for poolings that keep part of the tokens


# readout(tokens (N, D), pooled (D,), free attention (N,), tau=..., topk=...) -> PoolingReadout
Readout = Callable[..., PoolingReadout]
# batched(tokens (B, N, D), pooled (B, D), free attention (B, N), tau=..., topk=...) -> (B, D) embeddings
Batched = Callable[..., "torch.Tensor"]


@dataclass(frozen=True)
class Pooling:
    name: str  # the registry key: --pooling, file stems of a family folder, sidecars
    label: str  # menus and figure captions
    short: str  # tile titles, pooling keys, batch check boxes
    readout: Readout
    batched: Batched
    # Its batched form keeps tokens by free attention: a fine-tune then takes that attention from a
    # frozen guide (the weights before tuning), not from the tower being changed.
    uses_free_attention: bool = False

    def __post_init__(self):
        if not (callable(self.readout) and callable(self.batched)):
            raise TypeError(f"pooling {self.name}: needs both a single-image readout and a batched form")


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


def channel_wins(tokens: torch.Tensor, keep: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel-wise max over (N, D) tokens and, per token, the share of channels it wins."""
    masked = tokens if keep is None else tokens.masked_fill(~keep[:, None], float("-inf"))
    values, winners = masked.max(dim=0)
    share = torch.bincount(winners, minlength=tokens.shape[0]).float() / tokens.shape[1]
    return values, share


def zero_shot(embedding: torch.Tensor, texts: torch.Tensor, logit_scale: float) -> dict:
    """Cosine of the pooled embedding with each text and the softmax over the given texts."""
    cos = torch.nn.functional.normalize(embedding, dim=-1) @ texts.T
    prob = torch.softmax(logit_scale * cos, dim=-1)
    return {"cosine": cos.tolist(), "probability": prob.tolist()}

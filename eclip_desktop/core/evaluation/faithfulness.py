"""Deletion and insertion (RISE's causal metrics, METHODS §Faithfulness): does the image-text similarity
follow the map when the pixels it ranks highest go first?

On the preprocessed input (S x S, normalised): pixels are ranked by the map (resized to S x S, highest
first; ties in raster order) and changed in `steps` equal steps of ceil(S² / steps) pixels (RISE changes
224 px per step; 32 steps of 1568 px at 224 px here), every one of the S² pixels by the last step. After
each step (and before the first) the model's cosine of the image embedding with the text is taken:
steps + 1 points at x = share of pixels changed, in [0, 1]; the score is the area under that curve
(trapezoid). Substrates as in the authors' evaluation: deletion replaces pixels with 0 in the
normalised space (the normalisation mean colour; RISE's `torch.zeros_like`), insertion starts from the
image blurred with an 11 x 11 Gaussian of sigma 5 px, zero-padded (RISE's `gkern(11, 5)` convolution)
and puts the image's pixels back. A faithful map gives a low deletion and a high insertion area.
(Grad-ECLIP's ImageNet variant deletes half the image with random colours and reads top-k accuracy;
the project follows RISE's whole-image curves with the similarity itself.)

Everything runs on an `embed(pixels (B, 3, S, S)) -> (B, D)` callable (or (B, K, D): K readouts of
one forward, e.g. one per pooling, giving K curves), so a toy model can stand in for CLIP.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

DEFAULT_STEPS = 32
BLUR_SIZE, BLUR_SIGMA = 11, 5.0
BATCH = 32


@dataclass
class CausalCurves:
    fraction: np.ndarray  # (steps + 1,) share of pixels changed
    deletion: np.ndarray  # (..., steps + 1) cosine after each step; leading axes: the embed's readouts
    insertion: np.ndarray

    @property
    def deletion_auc(self) -> np.ndarray | float:
        return area(self.fraction, self.deletion)

    @property
    def insertion_auc(self) -> np.ndarray | float:
        return area(self.fraction, self.insertion)


def area(x: np.ndarray, y: np.ndarray) -> np.ndarray | float:
    """Trapezoid area under y over x (last axis)."""
    a = ((y[..., 1:] + y[..., :-1]) * 0.5 * np.diff(x)).sum(-1)
    return float(a) if np.ndim(a) == 0 else a


def blur(pixels: torch.Tensor, size: int = BLUR_SIZE, sigma: float = BLUR_SIGMA) -> torch.Tensor:
    """Per-channel Gaussian blur of (B, C, S, S), zero padding (0 is the mean colour in the normalised space)."""
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-x ** 2 / (2 * sigma ** 2))
    kernel = torch.outer(g, g)
    kernel = (kernel / kernel.sum()).to(device=pixels.device, dtype=pixels.dtype)
    c = pixels.shape[1]
    return F.conv2d(pixels, kernel.expand(c, 1, size, size), padding=size // 2, groups=c)


def pixel_order(saliency, size: int) -> np.ndarray:
    """Indices of the S x S input's pixels, highest saliency first; the map resized (bilinear) to S x S."""
    m = torch.as_tensor(np.asarray(saliency, dtype=np.float32))
    if m.dim() != 2 or m.numel() == 0:
        raise ValueError(f"a saliency map must be a non-empty 2-D array, got shape {tuple(m.shape)}")
    if not torch.isfinite(m).all():
        raise ValueError("a saliency map must hold finite values")
    if tuple(m.shape) != (size, size):
        shrink = m.shape[0] > size or m.shape[1] > size
        m = F.interpolate(m[None, None], size=(size, size), mode="bilinear", align_corners=False,
                          antialias=shrink)[0, 0]
    return np.argsort(-m.reshape(-1).numpy(), kind="stable")


def step_counts(n_pixels: int, steps: int) -> np.ndarray:
    """Pixels changed after each of the steps + 1 points (0 first, all last)."""
    per = -(-n_pixels // steps)
    return np.minimum(np.arange(steps + 1) * per, n_pixels)


def deletion_insertion(embed: Callable, pixels: torch.Tensor, saliency, text: torch.Tensor,
                       steps: int = DEFAULT_STEPS, batch: int = BATCH) -> CausalCurves:
    """Both curves for one (image, map, text). pixels: (1, 3, S, S) or (3, S, S) preprocessed input;
    saliency: the map at any size; text: (D,) embedding."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    pixels = pixels if pixels.dim() == 4 else pixels[None]
    size = pixels.shape[-1]
    if pixels.shape[-2] != size:
        raise ValueError(f"the input must be square, got {tuple(pixels.shape[-2:])}")
    rank = np.empty(size * size, np.int64)
    rank[pixel_order(saliency, size)] = np.arange(size * size)
    rank = torch.from_numpy(rank).reshape(1, 1, size, size).to(pixels.device)
    counts = step_counts(size * size, steps)
    # (start, finish) per curve: the image at step k is `finish` where rank < counts[k], `start` elsewhere.
    zero, blurred = torch.zeros_like(pixels), blur(pixels)
    plan = [(pixels, zero, int(k)) for k in counts] + [(blurred, pixels, int(k)) for k in counts]
    text = F.normalize(text.float().reshape(-1), dim=0).cpu()
    cos = []
    with torch.no_grad():
        for i in range(0, len(plan), batch):
            images = torch.cat([torch.where(rank < k, finish, start) for start, finish, k in plan[i:i + batch]])
            cos.append(F.normalize(embed(images).float().cpu(), dim=-1) @ text)
    cos = torch.cat(cos).numpy()  # (2 (steps + 1), *K)
    curves = np.moveaxis(cos.reshape(2, steps + 1, *cos.shape[1:]), 1, -1)
    return CausalCurves(fraction=counts / (size * size), deletion=curves[0], insertion=curves[1])


def readout_embedder(handle, poolings: list[str], tau: str) -> Callable:
    """embed(pixels) -> (B, len(poolings), D): each pooling's readout of one dense pass of the model,
    so every pooling row of an evaluation scores the image as its zero-shot classifier reads it."""
    from eclip_desktop.core.model.features import encode_dense
    from eclip_desktop.core.model.poolings import get_pooling

    def embed(batch: torch.Tensor) -> torch.Tensor:
        with handle.lock:
            f = encode_dense(handle.visual, handle.kind, batch)
        return torch.stack([get_pooling(p).batched(f.tokens, f.pooled, f.free_attention, tau=tau) for p in poolings], 1)

    return embed


class FaithfulnessMeter:
    """Means of the deletion and insertion areas over maps, per readout (pooling)."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.deletion: list[np.ndarray] = []
        self.insertion: list[np.ndarray] = []

    def add(self, curves: CausalCurves) -> None:
        self.deletion.append(np.atleast_1d(curves.deletion_auc))
        self.insertion.append(np.atleast_1d(curves.insertion_auc))

    def summary(self) -> dict[str, dict]:
        if not self.deletion:
            return {n: {"deletion_auc": float("nan"), "insertion_auc": float("nan")} for n in self.names}
        d, i = np.mean(self.deletion, axis=0), np.mean(self.insertion, axis=0)
        return {n: {"deletion_auc": float(d[k]), "insertion_auc": float(i[k])} for k, n in enumerate(self.names)}

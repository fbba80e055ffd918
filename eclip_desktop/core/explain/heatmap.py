"""The Heatmap: a float32 map in [0, 1] at the image's size, plus what it is a map of."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

EPS = 1e-6
NORMALISATION = "min-max per image and text over tokens (eps 1e-6), bilinear upsample to the image size"


def minmax(scores: np.ndarray, axis=None) -> np.ndarray:
    """Min-max to [0, 1]; a constant map becomes all zeros instead of NaN."""
    lo = np.min(scores, axis=axis, keepdims=True)
    hi = np.max(scores, axis=axis, keepdims=True)
    return ((scores - lo) / (hi - lo + EPS)).astype(np.float32)


def upsample(grid_map: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of an h x w map to the image size, clipped back into [0, 1]."""
    out = cv2.resize(grid_map.astype(np.float32), (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


@dataclass
class Heatmap:
    values: np.ndarray  # float32 H x W in [0, 1]
    method: str
    model: str
    pretrained: str
    pooling: str
    text: str
    raw_range: tuple[float, float]  # min/max of the raw scores before normalisation
    grid: np.ndarray | None = None  # the h x w map before upsampling
    meta: dict = field(default_factory=dict)
    normalisation: str = NORMALISATION

"""What a token grid of a given size can score at best: the "ideal map" ceiling.

The ideal map of an h x w token grid puts in each cell the fraction of that cell covered by the
object's mask, then goes through exactly the display path of every real map (min-max, bilinear
upsampling to the image). No model can do better than its grid allows on pointing and IoU, so
this bounds the Shapes World targets for a given architecture before any training is spent on it.
"""
from __future__ import annotations

import cv2
import numpy as np

from eclip_desktop.core.evaluation.evaluate import HELD_OUT_SEED, shapes_items
from eclip_desktop.core.evaluation.metrics import ExplainabilityMeter
from eclip_desktop.core.explain.heatmap import minmax, upsample


def ideal_grid_map(mask: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(h, w) map: the area fraction of the mask inside each token cell."""
    if mask.ndim != 2 or not mask.size:
        raise ValueError(f"mask must be a non-empty 2-D array, got shape {mask.shape}")
    h, w = grid
    if h < 1 or w < 1:
        raise ValueError(f"grid must be at least 1 x 1, got {grid}")
    return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)


def grid_ceiling(grid: int, count: int, size: int, seed: int = HELD_OUT_SEED, n_objects=(1, 3)) -> dict:
    """The Shapes World scores (ExplainabilityMeter.summary) of ideal maps on a grid x grid model."""
    meter = ExplainabilityMeter()
    for item in shapes_items(count, seed, size, n_objects=n_objects):
        for mask in item.masks.values():
            ideal = minmax(ideal_grid_map(mask, (grid, grid)))
            meter.add(upsample(ideal, item.image.width, item.image.height), mask)
    return meter.summary()

"""Display maths shared by the views and the exported figure: levels, thresholds, outlines.

numpy/OpenCV only, so what the window shows and what Copy/Export renders agree by construction.
"""
from __future__ import annotations

import cv2
import numpy as np

from eclip_desktop.core.figures import panel as figure_panel
from eclip_desktop.core.figures.outline import region_outlines
from eclip_desktop.core.figures.panel import sample_pixels
from eclip_desktop.viewer.state import DisplayState


def clip_levels(values: np.ndarray, percentile: float) -> tuple[float, float]:
    """Colour range keeping the central `percentile` % of values (glue's convention)."""
    if percentile >= 100.0 or values.size == 0:
        return 0.0, 1.0
    tail = (100.0 - percentile) / 2.0
    lo, hi = (float(v) for v in np.percentile(sample_pixels(values), [tail, 100.0 - tail]))
    if not hi > lo:
        # A flat map would give an empty range; widen it so the colour table stays defined.
        return lo, lo + 1e-6
    return lo, hi


def threshold_level(values: np.ndarray, display: DisplayState) -> float | None:
    """The map value at which the mask starts, or None when no threshold is set."""
    return figure_panel.threshold_level(values, display.threshold, display.fixed_level,
                                        display.threshold_percentile)


def threshold_mask(values: np.ndarray, display: DisplayState) -> np.ndarray | None:
    return figure_panel.threshold_mask(values, display.threshold, display.fixed_level,
                                       display.threshold_percentile)


def outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Polylines (x, y in pixel-corner coordinates) around the regions of the mask, without the
    stretches along the image border (core's region_outlines, shared with exported figures)."""
    if mask is None:
        return []
    # findContours gives pixel centres; +0.5 puts the line on the pixels drawn by ImageItem.
    return [line.astype(np.float64) + 0.5 for line in region_outlines(mask)]


def preview(array: np.ndarray, max_side: int) -> np.ndarray:
    """A copy at most `max_side` pixels on its long side; small arrays come back unchanged."""
    h, w = array.shape[:2]
    if max(h, w) <= max_side:
        return array
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA)

"""Display maths shared by the views and the exported figure: levels, thresholds, outlines.

numpy/OpenCV only, so what the window shows and what Copy/Export renders agree by construction.
"""
from __future__ import annotations

import cv2
import numpy as np

from eclip_desktop.app.state import DisplayState
from eclip_desktop.core.figures import panel as figure_panel
from eclip_desktop.core.figures.panel import sample_pixels


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
    """Polylines (x, y in pixel-corner coordinates) around the regions of the mask.

    Stretches along the image border are left out, as the core's contour_mask does: the edge of
    the picture is not an edge of the region.
    """
    if mask is None or not mask.any():
        return []
    h, w = mask.shape
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    lines = []
    for c in contours:
        pts = c.reshape(-1, 2)
        if len(pts) < 2:
            continue
        closed = np.vstack([pts, pts[:1]])
        a, b = closed[:-1], closed[1:]
        on_border = (((a[:, 0] == 0) & (b[:, 0] == 0)) | ((a[:, 0] == w - 1) & (b[:, 0] == w - 1))
                     | ((a[:, 1] == 0) & (b[:, 1] == 0)) | ((a[:, 1] == h - 1) & (b[:, 1] == h - 1)))
        run = []
        for i, border in enumerate(on_border):
            if border:
                if len(run) >= 2:
                    lines.append(np.array(run, np.float64) + 0.5)
                run = []
                continue
            if not run:
                run.append(a[i])
            run.append(b[i])
        if len(run) >= 2:
            lines.append(np.array(run, np.float64) + 0.5)
    # findContours gives pixel centres; +0.5 puts the line on the pixels drawn by ImageItem.
    return lines


def preview(array: np.ndarray, max_side: int) -> np.ndarray:
    """A copy at most `max_side` pixels on its long side; small arrays come back unchanged."""
    h, w = array.shape[:2]
    if max(h, w) <= max_side:
        return array
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA)

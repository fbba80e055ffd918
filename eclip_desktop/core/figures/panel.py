"""The picture part of an exported figure, shared by the window's Export Map and the CLI's export:
the overlay, an optional threshold outline, an optional width, and the optional image | overlay
layout. Title block and colorbar are added after (render.annotate or svg_figure.figure_svg)."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from eclip_desktop.core.figures.outline import draw_contour
from eclip_desktop.core.figures.render import overlay, side_by_side

LAYOUTS = {"overlay": "overlay only", "side": "image | overlay"}
THRESHOLDS = ("none", "fixed", "otsu", "percentile")
# A percentile over a few hundred thousand samples is as good as over all pixels and keeps
# dragging controls on a 12-megapixel photo smooth.
_SAMPLE_PIXELS = 250_000


def sample_pixels(values: np.ndarray) -> np.ndarray:
    step = int(np.ceil(np.sqrt(values.size / _SAMPLE_PIXELS))) if values.size > _SAMPLE_PIXELS else 1
    return values[::step, ::step]


def threshold_level(values: np.ndarray, mode: str, fixed_level: float = 0.5, percentile: float = 90.0) -> float | None:
    """The map value at which the mask starts, or None for mode 'none'."""
    if mode == "fixed":
        return float(fixed_level)
    if mode == "percentile":
        return float(np.percentile(sample_pixels(values), percentile))
    if mode == "otsu":
        u8 = np.clip(np.rint(sample_pixels(values) * 255.0), 0, 255).astype(np.uint8)
        level, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        return float(level) / 255.0
    if mode == "none":
        return None
    raise ValueError(f"unknown threshold {mode!r}; choose {', '.join(THRESHOLDS)}")


def threshold_mask(values: np.ndarray, mode: str, fixed_level: float = 0.5,
                   percentile: float = 90.0) -> np.ndarray | None:
    level = threshold_level(values, mode, fixed_level, percentile)
    if level is None:
        return None
    # Otsu's level is the last value of the low class, so the object is strictly above it.
    return values > level if mode == "otsu" else values >= level


def parse_contour(text: str) -> tuple[str, float]:
    """'none' | 'otsu' | 'fixed:L' (0..1) | 'percentile:P' (0..100) -> (mode, parameter)."""
    mode, _, arg = str(text).strip().partition(":")
    if mode in ("none", "otsu") and not arg:
        return mode, 0.0
    if mode in ("fixed", "percentile"):
        top = 1.0 if mode == "fixed" else 100.0
        try:
            value = float(arg)
        except ValueError:
            value = -1.0
        if 0.0 <= value <= top:
            return mode, value
        raise ValueError(f"--contour {text}: {mode} needs a level within 0..{top:g}, e.g. {mode}:{top * 0.9:g}")
    raise ValueError(f"--contour {text}: use none, otsu, fixed:LEVEL or percentile:P")


def compose_panel(rgb: np.ndarray, values: np.ndarray, cmap: str, alpha: float,
                  levels: Sequence[float] = (0.0, 1.0), mask: np.ndarray | None = None, width: int = 0,
                  layout: str = "overlay", mode: str = "blend", hatch: bool = False) -> np.ndarray:
    """uint8 RGB: the overlay (with the mask's outline), resized to `width` px (0: as is), alone or
    to the right of the plain image. hatch: white diagonal stripes over the mask, so the side of the
    outline that is above the threshold is visible (an outline alone looks the same around a hole)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown figure layout {layout!r}; choose {', '.join(LAYOUTS)}")
    panel = overlay(rgb, values, cmap=cmap, alpha=alpha, levels=levels, mode=mode)
    if mask is not None and hatch:
        h, w = mask.shape
        yy, xx = np.mgrid[0:h, 0:w]
        step = max(4, round(max(h, w) / 60))
        stripes = (((xx + yy) % step) < max(1, step // 4)) & mask
        panel = panel.copy()
        panel[stripes] = (0.4 * panel[stripes] + 0.6 * 255).astype(np.uint8)
    if mask is not None:
        h, w = mask.shape
        panel = draw_contour(panel, mask, thickness=max(1, round(min(h, w) / 250)))
    image = rgb
    if width and width != panel.shape[1]:
        h = max(1, round(panel.shape[0] * width / panel.shape[1]))
        interp = cv2.INTER_AREA if width < panel.shape[1] else cv2.INTER_CUBIC
        panel = cv2.resize(np.ascontiguousarray(panel), (width, h), interpolation=interp)
        image = cv2.resize(np.ascontiguousarray(rgb), (width, h), interpolation=interp)
    if layout == "side":
        panel = side_by_side([image, panel], ["image", "map"])
    return panel

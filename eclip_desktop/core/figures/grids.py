"""Comparison grids: several maps of one image side by side with ONE shared colorbar.

Every map is min-max normalised to [0, 1], so a single colorbar is honest for all tiles; the tiles
are render.side_by_side and the title block and colorbar are render.annotate, so a grid looks like
the single-map figures.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from eclip_desktop.core.figures.render import (
    DEFAULT_COLORBAR_LABEL,
    DEFAULT_COLORMAP,
    annotate,
    overlay,
    side_by_side,
    upscale_for_text,
)
from eclip_desktop.core.model.poolings import short_pooling

GRID_KINDS = ("pooling", "method", "prompt", "concept")
CLIP_GRIDS = ("pooling", "method", "prompt")  # these compare prompt maps; "concept" compares ConVis maps


def grid_figure(
    image_rgb: np.ndarray,
    tiles: Sequence[tuple[np.ndarray, Sequence[str] | str]],
    cmap: str = DEFAULT_COLORMAP,
    alpha: float = 0.5,
    title_lines: Sequence[str] = (),
    colorbar_label: str = DEFAULT_COLORBAR_LABEL,
) -> np.ndarray:
    """uint8 RGB: one annotated overlay per (values H x W, caption lines) tile, left to right."""
    if not tiles:
        raise ValueError("grid_figure needs at least one tile")
    # Tiles are enlarged like a single figure's panel first, so captions stay readable on small maps.
    panels = [upscale_for_text(overlay(image_rgb, np.asarray(values), cmap=cmap, alpha=alpha))
              for values, _ in tiles]
    # One caption row per line; side_by_side wraps a line wider than its tile rather than cutting it.
    captions = [c if isinstance(c, str) else "\n".join(str(x) for x in c) for _, c in tiles]
    strip = side_by_side(panels, captions)
    return annotate(strip, list(title_lines), cmap=cmap, colorbar_label=colorbar_label)


def score_caption(scores: Mapping | None) -> str:
    if not scores:
        return ""
    return f"p = {float(scores['probability']):.3f}, cos = {float(scores['cosine']):.3f}"


def pooling_grid(
    image_rgb: np.ndarray,
    explanation_by_pooling: Mapping[str, tuple[np.ndarray, Mapping | None]],
    cmap: str = DEFAULT_COLORMAP,
    alpha: float = 0.5,
    title_lines: Sequence[str] = (),
) -> np.ndarray:
    """One tile per pooling: its map and the text's zero-shot scores under that pooling
    ({'cosine': c, 'probability': p} for the text, or None)."""
    # Short names: the long POOLING_LABELS would be cut off under a tile.
    tiles = [(values, [short_pooling(p), score_caption(scores)])
             for p, (values, scores) in explanation_by_pooling.items()]
    return grid_figure(image_rgb, tiles, cmap=cmap, alpha=alpha, title_lines=title_lines)

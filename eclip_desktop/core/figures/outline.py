"""Threshold outlines around the regions of a mask, for figures and the window alike."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from eclip_desktop.core.figures.checks import check_mask, check_rgb


def contour_mask(mask: np.ndarray) -> np.ndarray:
    """Pixels of the mask that touch a pixel outside it (8-neighbourhood); the image edge does not count."""
    m = check_mask(mask)
    if not m.any():
        return np.zeros_like(m)
    # cv2.erode pads with the maximum, so regions touching the image edge are not outlined there.
    eroded = cv2.erode(m.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return m & ~eroded


def region_outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Polylines (N, 2) of integer (x, y) pixel centres around the regions of ``mask``.

    Stretches along the image border are left out: the edge of the picture is not an edge of the
    region, and outlining it would frame every region that touches it (e.g. a lit background).
    """
    m = check_mask(mask)
    if not m.any():
        return []
    h, w = m.shape
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    lines: list[np.ndarray] = []
    for c in contours:
        pts = c.reshape(-1, 2)
        if len(pts) < 2:
            continue
        a, b = pts, np.roll(pts, -1, axis=0)  # segment i runs from point i to point i+1 (closed)
        on_border = (((a[:, 0] == 0) & (b[:, 0] == 0)) | ((a[:, 0] == w - 1) & (b[:, 0] == w - 1))
                     | ((a[:, 1] == 0) & (b[:, 1] == 0)) | ((a[:, 1] == h - 1) & (b[:, 1] == h - 1)))
        if not on_border.any():
            lines.append(np.vstack([pts, pts[:1]]))
            continue
        # Start just after a border segment so no inner run is split where the contour wraps.
        start = (int(np.flatnonzero(on_border)[0]) + 1) % len(pts)
        order = np.roll(np.arange(len(pts)), -start)
        run: list[np.ndarray] = []
        for i in order:
            if on_border[i]:
                if len(run) >= 2:
                    lines.append(np.array(run))
                run = []
                continue
            if not run:
                run.append(a[i])
            run.append(b[i])
        if len(run) >= 2:
            lines.append(np.array(run))
    return lines


def draw_contour(
    rgb: np.ndarray,
    mask: np.ndarray,
    color: Sequence[int] = (255, 255, 255),
    thickness: int = 2,
) -> np.ndarray:
    """A copy of ``rgb`` with the outline of every region of ``mask`` drawn in ``color`` (the image
    border is not drawn as an outline; see region_outlines)."""
    img = check_rgb(rgb)
    m = check_mask(mask, img.shape[:2])
    if int(thickness) < 1:
        raise ValueError(f"thickness must be at least 1, got {thickness}")
    out = np.ascontiguousarray(img).copy()
    lines = [line.astype(np.int32).reshape(-1, 1, 2) for line in region_outlines(m)]
    if lines:
        fill = tuple(int(c) for c in color)
        cv2.polylines(out, lines, False, fill, int(thickness), lineType=cv2.LINE_8)
    return out



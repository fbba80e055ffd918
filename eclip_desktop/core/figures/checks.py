"""Argument checks shared by the figure code: fail with a plain message, not deep in OpenCV."""
from __future__ import annotations

import numpy as np


def check_rgb(rgb: np.ndarray, what: str = "image") -> np.ndarray:
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{what} must be an H×W×3 RGB array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8, got {arr.dtype}")
    return arr


def check_mask(mask: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be a 2-D array, got shape {m.shape}")
    if shape is not None and m.shape != shape:
        raise ValueError(f"mask shape {m.shape} does not match image size {shape}")
    return m.astype(bool)

"""Drawing Shapes World: the figures' outlines, rasterised masks, and the backgrounds."""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

_STAR_INNER = 0.45  # inner/outer radius; the regular pentagram's 0.38 is too spiky to read at 64 px


# ----------------------------------------------------------------------------- geometry


def _polygon_unit(shape: str) -> np.ndarray:
    """Vertices on (or inside) the unit circle, before rotation."""
    if shape == "square":
        t = np.deg2rad(45 + 90 * np.arange(4))
    elif shape == "triangle":
        t = np.deg2rad(-90 + 120 * np.arange(3))
    elif shape == "pentagon":
        t = np.deg2rad(-90 + 72 * np.arange(5))
    elif shape == "hexagon":
        t = np.deg2rad(60 * np.arange(6))
    elif shape == "star":
        t = np.deg2rad(-90 + 36 * np.arange(10))
        r = np.where(np.arange(10) % 2 == 0, 1.0, _STAR_INNER)
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    else:
        raise ValueError(f"no polygon for {shape!r}")
    return np.stack([np.cos(t), np.sin(t)], 1)


def _fill_polygon(points: np.ndarray, size: int) -> np.ndarray:
    canvas = np.zeros((size, size), np.uint8)
    # 4 fractional bits keep small shapes regular without antialiasing.
    pts = np.round(points * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(canvas, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


def _fill_ellipse(cx: float, cy: float, a: float, b: float, angle: float, size: int) -> np.ndarray:
    # Tested at pixel centres, the same convention cv2.fillPoly uses for polygons.
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - cx, yy - cy
    c, s = np.cos(angle), np.sin(angle)
    u = (dx * c + dy * s) / a
    v = (-dx * s + dy * c) / b
    return u * u + v * v <= 1.0


def rasterise(shape: str, cx: float, cy: float, radius: float, angle: float,
               aspect: float, size: int) -> np.ndarray:
    if shape == "circle":
        return _fill_ellipse(cx, cy, radius, radius, 0.0, size)
    if shape == "ellipse":
        return _fill_ellipse(cx, cy, radius, radius * aspect, angle, size)
    if shape == "rectangle":
        unit = np.array([[-1, -aspect], [1, -aspect], [1, aspect], [-1, aspect]], float)
    else:
        unit = _polygon_unit(shape)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return _fill_polygon(unit @ rot.T * radius + (cx, cy), size)


# ----------------------------------------------------------------------------- backgrounds


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """RGB in 0..255 (float32) of a hue (wrapping), saturation and value (clipped to 0..1)."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1))), np.float32) * 255


def _muted(rng: np.random.Generator) -> np.ndarray:
    return hsv(rng.random(), rng.uniform(0.04, 0.3), rng.uniform(0.35, 0.75))


def _random_color(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(x) for x in hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.3, 0.95)))
    return r, g, b


def _smooth_field(rng: np.random.Generator, size: int, lum: float, chroma: float) -> np.ndarray:
    g = int(rng.integers(3, 8))
    coarse = rng.normal(0, 1, (g, g, 1)) * lum + rng.normal(0, 1, (g, g, 3)) * chroma
    return cv2.resize(coarse.astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC)


def _projection(rng: np.random.Generator, size: int) -> np.ndarray:
    """Coordinates along a random direction, spanning about 0..1 across the image."""
    theta = rng.uniform(0, np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    return xx * np.cos(theta) + yy * np.sin(theta)


def _bg_plain(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.broadcast_to(_muted(rng), (size, size, 3)).copy()


def _bg_textured(rng: np.random.Generator, size: int) -> np.ndarray:
    style = rng.integers(3)
    if style == 0:  # smooth blotches
        return _muted(rng) + _smooth_field(rng, size, rng.uniform(12, 28), rng.uniform(4, 10))
    if style == 1:  # gradient between two muted colours
        t = _projection(rng, size)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        c1, c2 = _muted(rng), _muted(rng)
        img = c1 * (1 - t[..., None]) + c2 * t[..., None]
        return img + _smooth_field(rng, size, 5, 3)
    # soft stripes: low contrast so they cannot be mistaken for rectangles
    period = rng.uniform(0.08, 0.2)
    w = 0.5 + 0.5 * np.sin(2 * np.pi * _projection(rng, size) / period + rng.uniform(0, 2 * np.pi))
    c1 = _muted(rng)
    c2 = np.clip(c1 + rng.uniform(-35, 35, 3).astype(np.float32), 0, 255)
    return c1 * (1 - w[..., None]) + c2 * w[..., None] + _smooth_field(rng, size, 4, 2)


def _bg_cluttered(rng: np.random.Generator, size: int) -> np.ndarray:
    img = _bg_plain(rng, size) if rng.random() < 0.5 else _bg_textured(rng, size)
    img = np.clip(img, 0, 255).astype(np.uint8)
    # Counts are fixed and sizes scale with the side, so a 224 px scene carries the
    # same clutter as a 64 px one, only sharper. Distractors stay well below the
    # smallest object (3-8 % of the side against at least 22 %) and are
    # irregular, so none of them reads as a vocabulary shape.
    for _ in range(int(rng.integers(8, 16))):
        r = max(1.0, rng.uniform(0.015, 0.04) * size)
        cx, cy = rng.uniform(0, size, 2)
        k = int(rng.integers(4, 8))
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        rr = r * rng.uniform(0.5, 1.0, k)
        pts = np.stack([cx + rr * np.cos(t), cy + rr * np.sin(t)], 1)
        pts = np.round(pts * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(img, [pts], _random_color(rng), lineType=cv2.LINE_8, shift=4)
    thickness = max(1, int(round(size / 96)))
    for _ in range(int(rng.integers(3, 7))):
        # Bent polylines rather than straight bars, so no line looks like a thin rectangle.
        n = int(rng.integers(2, 4))
        p0 = rng.uniform(0, size, 2)
        steps = rng.normal(0, 1, (n, 2))
        steps *= (rng.uniform(0.08, 0.2) * size) / np.linalg.norm(steps, axis=1, keepdims=True)
        pts = np.round(np.vstack([p0, p0 + np.cumsum(steps, 0)])).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], False, _random_color(rng), thickness, lineType=cv2.LINE_8)
    speck = max(1, int(round(size / 64)))
    for _ in range(int(rng.integers(20, 50))):
        x, y = rng.integers(0, size - speck + 1, 2)
        img[y:y + speck, x:x + speck] = _random_color(rng)
    return img.astype(np.float32)


BACKGROUND_FN = {"plain": _bg_plain, "textured": _bg_textured, "cluttered": _bg_cluttered}



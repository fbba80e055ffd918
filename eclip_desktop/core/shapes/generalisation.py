"""The generalisation suite (`eval --dataset gen[:N[:SEED[:OBJECTS]]]`): the eight Shapes World
classes drawn by a DIFFERENT renderer on backgrounds Shapes World never makes, for judging models
on scenes they were never trained on. Nothing here is used for training, and the training world
must not be tuned to it.

What differs from Shapes World (world.py), per scene:
- Size: 96-320 px (Shapes World trains at one size per model).
- Renderer: every figure is drawn at 4x and box-filtered down, so edges are anti-aliased; the mask
  is the pixels at least half covered. Fills: flat, a two-tone gradient, a noise texture, stripes,
  or an outline of darker border around a lighter body. Colours are any saturated hue, not the
  six vocabulary colours (prompts are colour-free).
- Object sizes: 0.16-0.55 of the side (Shapes World: 0.22-0.45); aspect ratios of ellipse and
  rectangle drawn from wider ranges.
- Backgrounds: high-contrast stripes, a checkerboard, per-pixel colour noise, a saturated
  gradient, or clutter of non-vocabulary blobs (smooth random outlines, crescents) and arcs
  larger than Shapes World's distractors.
- Distractors in front: thin lines may cross an object; they are cut out of its mask.
- Artefacts: JPEG at quality 15-85 (half the scenes), a slight blur (a quarter), sensor noise.

Masks are exact for the pixels as drawn: the union of a class's visible (>= 50 % covered, not
occluded) pixels, before the JPEG/blur/noise stage that only changes colours. A scene is a pure
function of (seed, index, n_objects); the streams are tagged apart from Shapes World's so the
same seed gives unrelated scenes.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from eclip_desktop.core.shapes.raster import hsv
from eclip_desktop.core.shapes.world import MAX_OBJECTS, class_names

SIZE_RANGE = (96, 320)
SCALE_RANGE = (0.16, 0.55)
SUPERSAMPLE = 4
GEN_BACKGROUNDS = ("stripes", "checker", "noise", "gradient", "blobs")
FILLS = ("flat", "gradient", "texture", "stripes", "outline")
DEFAULT_SEED = 2000  # Shapes World training uses seeds < 1000, its held-out sets 1000-1002
_STREAM_TAG = 0x6E11  # not world.py's tag: the same (seed, index) draws an unrelated scene


def class_masks_of(objects) -> dict[str, np.ndarray]:
    """shape name -> the union of the visible masks of every object of that shape."""
    out: dict[str, np.ndarray] = {}
    for o in objects:
        out[o.shape] = out.get(o.shape, np.zeros_like(o.mask)) | o.mask
    return out


@dataclass(eq=False)
class GenObject:
    shape: str
    mask: np.ndarray  # bool H x W, visible pixels
    fill: str


@dataclass(eq=False)
class GenScene:
    image: np.ndarray  # uint8 H x W x 3
    objects: list[GenObject]
    background: str
    jpeg_quality: int | None
    seed: int
    index: int

    def class_masks(self) -> dict[str, np.ndarray]:
        return class_masks_of(self.objects)


def _unit_outline(shape: str, rng: np.random.Generator) -> np.ndarray:
    """Vertices of the figure around the origin, circumscribed radius about 1 (before rotation)."""
    if shape in ("circle", "ellipse"):
        t = np.linspace(0, 2 * np.pi, 96, endpoint=False)
        b = 1.0 if shape == "circle" else rng.uniform(0.4, 0.7)
        return np.stack([np.cos(t), b * np.sin(t)], 1)
    if shape == "rectangle":
        b = rng.uniform(0.38, 0.62)
        return np.array([[-1, -b], [1, -b], [1, b], [-1, b]], float) / np.hypot(1, b)
    if shape == "square":
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float) / np.sqrt(2)
    if shape == "star":
        t = -np.pi / 2 + np.pi / 5 * np.arange(10)
        inner = rng.uniform(0.4, 0.5)
        r = np.where(np.arange(10) % 2 == 0, 1.0, inner)
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    n = {"triangle": 3, "pentagon": 5, "hexagon": 6}[shape]
    t = -np.pi / 2 + 2 * np.pi / n * np.arange(n)
    return np.stack([np.cos(t), np.sin(t)], 1)


def _coverage(points: np.ndarray, size: int) -> np.ndarray:
    """Fraction of each pixel covered by the polygon (points in pixel units), by 4x supersampling."""
    big = np.zeros((size * SUPERSAMPLE, size * SUPERSAMPLE), np.uint8)
    pts = np.round(points * SUPERSAMPLE * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(big, [pts], 1, lineType=cv2.LINE_8, shift=4)
    return big.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean((1, 3), dtype=np.float32)


def _blob_outline(rng: np.random.Generator) -> np.ndarray:
    """A smooth random closed outline (a few low harmonics of the radius): no vocabulary shape."""
    t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    r = np.ones_like(t)
    for k in (2, 3, 4):
        r += rng.uniform(0.1, 0.3) * np.cos(k * t + rng.uniform(0, 2 * np.pi))
    return np.stack([r * np.cos(t), r * np.sin(t)], 1) / r.max()


def _background(kind: str, rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    theta = rng.uniform(0, np.pi)
    proj = xx * np.cos(theta) + yy * np.sin(theta)
    c1 = hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.3, 0.95))
    c2 = hsv(rng.random(), rng.uniform(0.1, 0.8), rng.uniform(0.3, 0.95))
    if kind == "stripes":
        period = rng.uniform(0.05, 0.18)
        w = (np.sin(2 * np.pi * proj / period + rng.uniform(0, 2 * np.pi)) > 0).astype(np.float32)
    elif kind == "checker":
        cell = rng.uniform(0.06, 0.16)
        w = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(np.float32)
    elif kind == "noise":
        img = rng.uniform(0, 255, (size, size, 3)).astype(np.float32)
        k = int(rng.integers(1, 4))  # 1 = per-pixel noise, else a few pixels' grain
        small = cv2.resize(img, (max(1, size // k),) * 2, interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST)
    elif kind == "gradient":
        w = (proj - proj.min()) / max(float(proj.max() - proj.min()), 1e-6)
    else:  # blobs: a soft base under non-vocabulary blobs and arcs larger than Shapes World's distractors
        w = (proj - proj.min()) / max(float(proj.max() - proj.min()), 1e-6)
        img = c1 * (1 - w[..., None]) + c2 * w[..., None]
        for _ in range(int(rng.integers(5, 11))):
            radius = rng.uniform(0.04, 0.11) * size
            pts = _blob_outline(rng) * radius + rng.uniform(0, size, 2)
            cov = _coverage(pts, size)[..., None]
            img = img * (1 - cov) + hsv(rng.random(), rng.uniform(0.3, 1), rng.uniform(0.3, 1)) * cov
        for _ in range(int(rng.integers(2, 5))):  # arcs (crescent-like strokes)
            centre = tuple(int(v) for v in rng.uniform(0, size, 2))
            axes = tuple(int(v) for v in rng.uniform(0.05, 0.15, 2) * size)
            start = float(rng.uniform(0, 360))
            colour = tuple(float(v) for v in hsv(rng.random(), rng.uniform(0.3, 1), rng.uniform(0.3, 1)))
            cv2.ellipse(img, centre, axes, 0, start, start + rng.uniform(90, 240), colour,
                        max(1, size // 60), lineType=cv2.LINE_AA)
        return img
    return c1 * (1 - w[..., None]) + c2 * w[..., None]


def _fill(kind: str, rng: np.random.Generator, size: int, centre, radius: float) -> np.ndarray:
    """An H x W x 3 paint layer for one object (only its covered pixels are used)."""
    hue = rng.random()
    base = hsv(hue, rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0))
    other = hsv(hue + rng.uniform(-0.08, 0.08), rng.uniform(0.4, 1.0), rng.uniform(0.25, 0.6))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == "flat":
        return np.broadcast_to(base, (size, size, 3)).astype(np.float32)
    if kind == "gradient":
        theta = rng.uniform(0, 2 * np.pi)
        t = ((xx - centre[0]) * np.cos(theta) + (yy - centre[1]) * np.sin(theta)) / (2 * radius) + 0.5
        t = np.clip(t, 0, 1)[..., None]
        return base * (1 - t) + other * t
    if kind == "texture":
        g = int(rng.integers(4, 10))
        field = cv2.resize(rng.normal(0, 1, (g, g)).astype(np.float32), (size, size),
                           interpolation=cv2.INTER_CUBIC)[..., None]
        return base + field * rng.uniform(15, 35)
    if kind == "stripes":
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(0.15, 0.35) * radius * 2
        w = (np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period) > 0)[..., None]
        return np.where(w, base, other)
    # outline: a darker rim around the body, drawn by the caller as two layers
    return np.broadcast_to(base, (size, size, 3)).astype(np.float32)


def check_scene_args(seed, index, n_objects) -> tuple[int, int, tuple[int, int]]:
    """seed, index and n_objects checked and normalised (n_objects to a (MIN, MAX) pair); shared by both suites."""
    for name, v in (("seed", seed), ("index", index)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {v!r}")
    lo, hi = (n_objects, n_objects) if isinstance(n_objects, (int, np.integer)) else tuple(n_objects)
    if not 1 <= lo <= hi <= MAX_OBJECTS:
        raise ValueError(f"n_objects must be K or (MIN, MAX) within 1..{MAX_OBJECTS}, got {n_objects!r}")
    return int(seed), int(index), (int(lo), int(hi))


def generate_gen_scene(seed: int, index: int, n_objects: int | tuple[int, int] = (1, 3),
                       size: int | None = None) -> GenScene:
    """One scene of the suite; `size` fixes the side (default: drawn from SIZE_RANGE)."""
    seed, index, (lo, hi) = check_scene_args(seed, index, n_objects)
    streams = np.random.SeedSequence([_STREAM_TAG, seed, index]).spawn(4)
    rng_obj, rng_bg, rng_post, rng_size = (np.random.default_rng(s) for s in streams)
    side = int(size) if size is not None else int(rng_size.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1))
    background = GEN_BACKGROUNDS[int(rng_bg.integers(len(GEN_BACKGROUNDS)))]
    img = _background(background, rng_bg, side).astype(np.float32)

    names = class_names()
    n = int(rng_obj.integers(lo, hi + 1))
    occupied = np.zeros((side, side), bool)
    objects: list[GenObject] = []
    for _ in range(n):
        for _attempt in range(60):
            shape = names[int(rng_obj.integers(len(names)))]
            radius = rng_obj.uniform(*SCALE_RANGE) * side / 2
            if n > 1:
                radius *= 0.85  # several objects must fit without overlapping
            centre = rng_obj.uniform(radius + 1, side - 2 - radius, 2)
            angle = rng_obj.uniform(0, 2 * np.pi)
            c, s = np.cos(angle), np.sin(angle)
            pts = _unit_outline(shape, rng_obj) @ np.array([[c, s], [-s, c]]) * radius + centre
            cov = _coverage(pts, side)
            mask = cov >= 0.5
            # Objects never touch: an exact class mask must not be shared by two figures.
            grown = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            if mask.sum() >= 16 and not (grown & occupied).any():
                break
        else:
            break  # crowded: keep what fits
        fill = FILLS[int(rng_obj.integers(len(FILLS)))]
        paint = _fill(fill, rng_obj, side, centre, radius)
        if fill == "outline":
            body = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8),
                             iterations=max(1, side // 80)).astype(bool)
            paint = np.where(body[..., None], paint, paint * rng_obj.uniform(0.25, 0.5))
        a = cov[..., None]
        img = img * (1 - a) + paint * a
        occupied |= mask
        objects.append(GenObject(shape, mask, fill))
    if not objects:
        raise ValueError(f"no object fits a {side} px scene")  # cannot happen for SIZE_RANGE; kept as a guard

    # Lines in front of everything: they cut through objects, and their pixels leave the masks.
    for _ in range(int(rng_obj.integers(0, 4))):
        layer = np.zeros((side, side), np.uint8)
        p = rng_obj.uniform(0, side, (2, 2)).astype(int)
        cv2.line(layer, tuple(int(v) for v in p[0]), tuple(int(v) for v in p[1]), 1, max(1, side // 96))
        line = layer.astype(bool)
        img[line] = hsv(rng_obj.random(), rng_obj.uniform(0, 1), rng_obj.uniform(0.1, 1))
        for o in objects:
            o.mask &= ~line  # a line 1-3 px wide never removes a whole object (>= 100 px here)

    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    if rng_post.random() < 0.25:
        image = cv2.GaussianBlur(image, (3, 3), rng_post.uniform(0.5, 1.0))
    sigma = rng_post.uniform(0, 8)
    image = np.clip(np.rint(image + rng_post.normal(0, sigma, image.shape)), 0, 255).astype(np.uint8)
    quality = int(rng_post.integers(15, 86)) if rng_post.random() < 0.5 else None
    if quality is not None:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=quality)
        image = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()
    return GenScene(image, objects, background, quality, seed, index)

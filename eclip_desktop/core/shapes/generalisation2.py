"""The second generalisation suite (`eval --dataset gen2[:N[:SEED[:OBJECTS]]]`): the eight Shapes
World classes drawn as if by hand, with natural-looking textures, on photograph-like backgrounds
with figures that belong to no class. It is independent of both the training world (world.py,
raster.py) and the first suite (generalisation.py): nothing here is shared with them but the class
names and the argument checks. Nothing trains on it, and it was written before any model was judged
on it.

What each scene draws (paint in generalisation2_paint.py):
- Size: a square side of 80-400 px. Square because the engine resizes the whole image to the model's
  square input without cropping: a non-square scene would squash a square into a rectangle.
- A background like a photograph's: sky over ground (wavy horizon, fractal clouds, textured ground),
  a wall over a floor (plaster, a lamp's light pool, floor grain converging in perspective), a close
  view of stone, or a draped cloth; soft large-scale shading over all of it.
- 1-3 named figures, 0.2-0.5 of the side, in one hand-made medium per scene: "ink" (wobbly edges,
  jittered corners and a visible stroke of another colour), "cut" (cut paper: straight scissor cuts
  with small kinks, curves cut as 28-40 short straight cuts, a pale paper rim, paper grain) or
  "brush" (wobbly edges, no stroke, pigment pooled at the rim). Fills: procedural marble, wood,
  fabric weave or watercolour wash, tinted in any hue. Each figure is mildly sheared (at most 0.12,
  about 7 degrees off square; circles 0.04) and put in mild perspective, so a square keeps four
  nearly equal sides and nearly right angles. Every figure casts a soft drop shadow away from one
  light per scene.
- 0-3 distractors in the same medium, 0.12-0.3 of the side: crescents, crosses, arrows, hearts and
  lightning bolts, none of them one of the eight classes (rings are left out: WordNet's circle is also
  "a plane curve", so a ring is arguably a circle). They are never in a class mask.
- Partial occlusion: figures and distractors may overlap in any order, but a named figure keeps at
  least MIN_VISIBLE of its own area, in one piece without holes, the neighbourhood of every corner
  (a circle's or an ellipse's axis ends) at least 90 % visible, and two figures of one class never touch.
- Finish over the whole image: a lighting gradient, vignette or spot; a white-balance colour cast; a
  gamma; lens softness on half the scenes; film grain. No JPEG (the first suite has it).

Masks: every figure is rasterised at 3x and box-filtered, giving its coverage of each pixel; the
layers are composited in order, and a pixel belongs to the figure that makes at least half of its
colour (at most one can, and with coverages in ninths none makes exactly half). A class mask is
the union of its figures' pixels, so masks are exact for the image as drawn (before the finish,
which only changes colours) and no pixel is in two class masks. A scene is a pure function of
(seed, index, n_objects); its random streams are tagged apart from Shapes World's and the first
suite's.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from eclip_desktop.core.shapes import generalisation2_paint as paint
from eclip_desktop.core.shapes.generalisation import check_scene_args, class_masks_of
from eclip_desktop.core.shapes.world import MIN_SIZE, check_int, class_names

SIZE_RANGE = (80, 400)
SCALE_RANGE = (0.2, 0.5)  # diameter of a named figure's circumscribed circle / side
DISTRACTOR_SCALE = (0.12, 0.3)
MAX_DISTRACTORS = 3
STYLES = ("ink", "cut", "brush")
DISTRACTORS = ("crescent", "cross", "arrow", "heart", "bolt")
MIN_VISIBLE = 0.8  # a named figure keeps this fraction of its own area visible
MIN_DISTRACTOR_VISIBLE = 0.6
MIN_AREA = 40  # px, visible, per named figure
MIN_CONTRAST = 35.0  # CIELAB distance between a figure's mean fill and the mean of what surrounds it
CORNER_REACH = 0.25  # of the radius: the neighbourhood of each corner that stays visible
MAX_SHEAR = 0.12
MAX_PERSPECTIVE = 0.06
SUPERSAMPLE = 3
DEFAULT_SEED = 3000  # Shapes World trains on seeds < 1000; the first suite uses 2000/2001
_STREAM_TAG = 0x6E22  # neither world.py's nor generalisation.py's tag
_TRIES = 60
_SIZE_FACTOR = {"triangle": 1.12, "star": 1.08}  # they cover little of their circumscribed circle


@dataclass(eq=False)
class Gen2Object:
    shape: str
    mask: np.ndarray  # bool H x W, visible pixels
    texture: str
    visible_fraction: float  # visible area / the figure's own area


@dataclass(eq=False)
class Gen2Distractor:
    kind: str  # one of DISTRACTORS, never a class name
    mask: np.ndarray  # bool H x W, visible pixels


@dataclass(eq=False)
class Gen2Scene:
    image: np.ndarray  # uint8 H x W x 3
    objects: list[Gen2Object]
    distractors: list[Gen2Distractor]
    background: str
    style: str
    lighting: str
    cast: tuple[float, float, float]  # the colour cast's R, G, B gains
    seed: int
    index: int

    def class_masks(self) -> dict[str, np.ndarray]:
        return class_masks_of(self.objects)


@dataclass(eq=False)
class _Layer:
    name: str
    named: bool
    cov: np.ndarray  # float coverage 0..1 of the whole figure (fill and stroke)
    edge: np.ndarray  # float coverage of its stroke (ink) or rim (cut paper)
    area: int  # pixels at least half covered
    centre: tuple[float, float]
    radius: float
    angle: float
    texture: str
    hue: float
    keys: np.ndarray  # (K, 2) x, y of the corners (a circle's or an ellipse's axis ends), in pixels


# ----------------------------------------------------------------------------- outlines


def _regular(n: int, r=1.0) -> np.ndarray:
    t = -np.pi / 2 + 2 * np.pi / n * np.arange(n)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1)


def _arc(cx, cy, r, t0, t1, n) -> np.ndarray:
    t = np.linspace(t0, t1, n)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], 1)


def outline(name: str, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """(vertices around the origin with circumradius about 1, whether they sample a curve)."""
    if name in ("circle", "ellipse"):
        b = 1.0 if name == "circle" else rng.uniform(0.4, 0.65)
        t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
        return np.stack([np.cos(t), b * np.sin(t)], 1), True
    if name == "rectangle":
        b = rng.uniform(0.4, 0.62)
        return np.array([[-1, -b], [1, -b], [1, b], [-1, b]]) / np.hypot(1, b), False
    if name == "square":
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) / np.sqrt(2), False
    if name == "star":
        r = np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.42, 0.5))
        return _regular(10) * r[:, None], False
    if name in ("triangle", "pentagon", "hexagon"):
        return _regular({"triangle": 3, "pentagon": 5, "hexagon": 6}[name]), False
    # distractors: no class's shape
    if name == "crescent":  # the outer circle less an offset inner one
        d, r2 = rng.uniform(0.35, 0.5), rng.uniform(0.75, 0.85)
        x = (1 - r2 ** 2 + d ** 2) / (2 * d)
        y = np.sqrt(max(1 - x ** 2, 1e-6))
        a0, g = np.arctan2(y, x), np.arctan2(y, x - d)
        pts = np.vstack([_arc(0, 0, 1, a0, 2 * np.pi - a0, 60), _arc(d, 0, r2, 2 * np.pi - g, g, 50)])
        return pts, True
    if name == "cross":
        w = rng.uniform(0.28, 0.36)
        q = np.array([[w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1]])
        return np.vstack([q, -q]) / np.hypot(1, w), False
    if name == "arrow":
        s, h, k = rng.uniform(0.14, 0.22), rng.uniform(0.45, 0.6), rng.uniform(0.1, 0.3)
        return np.array([[-1, -s], [k, -s], [k, -h], [1, 0], [k, h], [k, s], [-1, s]]), False
    if name == "heart":
        t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        pts = np.stack([x, y + 3], 1)
        return pts / np.linalg.norm(pts, axis=1).max(), True
    if name == "bolt":
        pts = np.array([[-0.2, -1], [0.45, -1], [0.1, -0.2], [0.55, -0.2], [-0.3, 1], [-0.05, 0.1], [-0.5, 0.1]])
        return pts - pts.mean(0), False
    raise ValueError(f"no outline for {name!r}")


def key_points(name: str, pts: np.ndarray) -> np.ndarray:
    """The points that make a class what it is: a polygon's corners (a star's tips), a circle's or an
    ellipse's four axis ends. Occlusion may hide some of a figure but never one of these."""
    if name in ("circle", "ellipse"):
        return pts[::len(pts) // 4][:4]
    return pts[::2] if name == "star" else pts


def _densify(pts: np.ndarray, per_edge: int) -> np.ndarray:
    nxt = np.roll(pts, -1, 0)
    t = np.arange(per_edge)[None, :, None] / per_edge
    return (pts[:, None] * (1 - t) + nxt[:, None] * t).reshape(-1, 2)


def hand_drawn(pts: np.ndarray, curve: bool, style: str, rng: np.random.Generator) -> np.ndarray:
    """The outline as a hand would make it: scissor cuts (cut) or wobbly strokes (ink, brush)."""
    if style == "cut":
        if curve:  # a curve cut as 28-40 short straight cuts, each a little off
            keep = np.linspace(0, len(pts), int(rng.integers(28, 41)), endpoint=False).astype(int)
            pts = pts[keep] * (1 + np.clip(rng.normal(0, 0.008, len(keep)), -0.02, 0.02))[:, None]
            return pts
        pts = pts + np.clip(rng.normal(0, 0.012, pts.shape), -0.025, 0.025)
        nxt = np.roll(pts, -1, 0)  # one kink per side: the scissors re-aimed halfway
        t = rng.uniform(0.35, 0.65, (len(pts), 1))
        mid = pts * (1 - t) + nxt * t
        normal = np.stack([nxt[:, 1] - pts[:, 1], pts[:, 0] - nxt[:, 0]], 1)
        normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
        mid += normal * np.clip(rng.normal(0, 0.01, (len(pts), 1)), -0.02, 0.02)
        return np.stack([pts, mid], 1).reshape(-1, 2)
    if not curve:
        pts = _densify(pts + np.clip(rng.normal(0, 0.02, pts.shape), -0.04, 0.04), 16)
    seg = np.linalg.norm(np.diff(np.vstack([pts, pts[:1]]), axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)[:-1]]) / seg.sum()  # arc length 0..1 around the outline
    wobble = np.zeros(len(pts))
    amp = 0.5 if curve else 1.0  # a curve shows a wobble more than a straight side does
    for k in rng.choice(np.arange(2, 10), 3, replace=False):
        wobble += amp * rng.uniform(0.004, 0.01) * np.sin(2 * np.pi * (k * s + rng.random()))
    wobble += amp * rng.uniform(0.001, 0.003) * np.sin(2 * np.pi * (int(rng.integers(15, 25)) * s + rng.random()))
    return pts * (1 + wobble)[:, None]


def pose(pts: np.ndarray, rng: np.random.Generator, gentle: bool) -> np.ndarray:
    """A mild shear along the figure's own axis, then mild perspective; `gentle` (circles): a third of
    the shear and half the perspective, so a circle stays round."""
    k = 1 / 3 if gentle else 1.0
    shear = rng.uniform(-MAX_SHEAR, MAX_SHEAR) * k
    out = pts @ np.array([[1.0, 0.0], [shear, 1.0]])
    tilt = rng.uniform(0, MAX_PERSPECTIVE * (0.5 if gentle else 1.0))
    towards = rng.uniform(0, 2 * np.pi)
    return out / (1 + out @ (tilt * np.array([np.cos(towards), np.sin(towards)])))[:, None]


# ----------------------------------------------------------------------------- rasterising and layers


def raster(pts: np.ndarray, side: int, edge_width: float = 0.0, inside: bool = False):
    """Coverage (0..1 per pixel) of the polygon with a stroke of edge_width px centred on its outline
    (or, `inside`, a rim within it), and of that stroke or rim alone. pts in pixel coordinates."""
    pad = edge_width / 2 + 2
    x0, y0 = (max(0, int(np.floor(v - pad))) for v in pts.min(0))
    x1, y1 = (min(side, int(np.ceil(v + pad)) + 1) for v in pts.max(0))
    cov, edge = np.zeros((side, side), np.float32), np.zeros((side, side), np.float32)
    if x1 <= x0 or y1 <= y0:
        return cov, edge
    h, w = y1 - y0, x1 - x0
    q = np.round(((pts - (x0, y0) + 0.5) * SUPERSAMPLE - 0.5) * 16).astype(np.int32).reshape(-1, 1, 2)
    fill = np.zeros((h * SUPERSAMPLE, w * SUPERSAMPLE), np.uint8)
    cv2.fillPoly(fill, [q], 1, lineType=cv2.LINE_8, shift=4)
    stroke = np.zeros_like(fill)
    if edge_width > 0:
        cv2.polylines(stroke, [q], True, 1, max(1, int(round(edge_width * SUPERSAMPLE))), cv2.LINE_8, shift=4)
        if inside:
            stroke &= fill
    cov[y0:y1, x0:x1] = (fill | stroke).reshape(h, SUPERSAMPLE, w, SUPERSAMPLE).mean((1, 3))
    edge[y0:y1, x0:x1] = stroke.reshape(h, SUPERSAMPLE, w, SUPERSAMPLE).mean((1, 3))
    return cov, edge


def owners(covs: list[np.ndarray]) -> np.ndarray:
    """int H x W: the index of the layer (bottom first) that makes at least half of each pixel's
    colour when composited in order, -1 where none does (visible weights sum to at most 1)."""
    rem = np.ones_like(covs[0])
    weights = []
    for c in reversed(covs):
        weights.append(c * rem)
        rem = rem * (1 - c)
    w = np.stack(weights[::-1])
    best = w.argmax(0)
    return np.where(np.take_along_axis(w, best[None], 0)[0] >= 0.5, best, -1)


def _one_piece(mask: np.ndarray) -> bool:
    """In one piece and without holes: an occluder may cut into a figure from its edge, but neither
    cut it in two nor sit wholly inside it (a sticker on a square reads as part of the square)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n < 2 or stats[1:, cv2.CC_STAT_AREA].max() < 0.97 * mask.sum():
        return False
    outside = np.pad(~mask, 1, constant_values=True).astype(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)
    return int((outside == 1).sum()) <= max(2, 0.005 * mask.sum())  # not reached from outside: holes


def _corners_visible(L: _Layer, vis: np.ndarray) -> bool:
    """Each corner's neighbourhood (the figure's pixels within CORNER_REACH of the radius) at least 90 % visible."""
    reach = max(3.0, CORNER_REACH * L.radius)
    side = vis.shape[0]
    for x, y in L.keys:
        x0, y0 = max(0, int(x - reach)), max(0, int(y - reach))
        x1, y1 = min(side, int(x + reach) + 2), min(side, int(y + reach) + 2)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        near = ((xx - x) ** 2 + (yy - y) ** 2 <= reach ** 2) & (L.cov[y0:y1, x0:x1] >= 0.5)
        if near.any() and vis[y0:y1, x0:x1][near].sum() < 0.9 * near.sum():
            return False
    return True


def _acceptable(layers: list[_Layer]) -> bool:
    own = owners([L.cov for L in layers])
    for k, L in enumerate(layers):
        vis = own == k
        n = int(vis.sum())
        if L.named and (n < MIN_AREA or n < MIN_VISIBLE * L.area or not _one_piece(vis)
                        or not _corners_visible(L, vis)):
            return False
        if not L.named and n < MIN_DISTRACTOR_VISIBLE * L.area:
            return False
    return True


def _figure(name: str, named: bool, rng: np.random.Generator, side: int, style: str, scale, hue: float):
    """One figure somewhere wholly inside the frame, or None when it does not fit."""
    radius = rng.uniform(*scale) * side / 2 * (_SIZE_FACTOR.get(name, 1.0) if named else 1.0)
    angle = rng.uniform(0, 2 * np.pi)
    base, curve = outline(name, rng)
    keys = key_points(name, base) if named else np.zeros((0, 2))
    drawn = hand_drawn(base, curve, style, rng)
    posed = pose(np.vstack([drawn, keys]), rng, gentle=name == "circle")  # one transform for both
    c, s = np.cos(angle), np.sin(angle)
    local = posed[:len(drawn)] @ np.array([[c, s], [-s, c]]) * radius
    corners = posed[len(drawn):] @ np.array([[c, s], [-s, c]]) * radius
    width = {"ink": max(1.2, rng.uniform(0.05, 0.1) * radius), "cut": max(1.0, rng.uniform(0.03, 0.05) * radius),
             "brush": 0.0}[style]
    lo, hi = -local.min(0) + width + 1, side - 2 - local.max(0) - width
    if np.any(lo >= hi):
        return None
    centre = rng.uniform(lo, hi)
    cov, edge = raster(local + centre, side, width, inside=style == "cut")
    area = int((cov >= 0.5).sum())
    if area < MIN_AREA / MIN_VISIBLE:
        return None
    texture = paint.TEXTURES[int(rng.integers(len(paint.TEXTURES)))]
    return _Layer(name, named, cov, edge, area, (float(centre[0]), float(centre[1])), radius, angle, texture, hue,
                  corners + centre)


def _touches(a: _Layer, b: _Layer) -> bool:
    grown = cv2.dilate((a.cov >= 0.5).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    return bool((grown & (b.cov >= 0.5)).any())


def place(rng_obj, rng_dis, side: int, n: int, style: str) -> list[_Layer]:
    """Named figures (each on top of the last), then distractors slipped in at random depths."""
    names = class_names()
    hue0 = rng_obj.random()
    hues = iter(hue0 + 0.618 * np.arange(n + MAX_DISTRACTORS) + rng_obj.uniform(-0.04, 0.04, n + MAX_DISTRACTORS))
    shrink = (0.85 if n > 1 else 1.0) * (np.sqrt(3 / n) if n > 3 else 1.0)
    scale = (SCALE_RANGE[0] * shrink, SCALE_RANGE[1] * shrink)
    layers: list[_Layer] = []
    for _ in range(n):
        hue = next(hues)
        for _attempt in range(_TRIES):
            shape = names[int(rng_obj.integers(len(names)))]
            new = _figure(shape, True, rng_obj, side, style, scale, hue)
            if new is None or any(L.named and L.name == shape and _touches(new, L) for L in layers):
                continue
            if _acceptable(layers + [new]):
                layers.append(new)
                break
        # crowded: keep what fits (never the case for the first figure at these sizes)
    for _ in range(int(rng_dis.integers(0, MAX_DISTRACTORS + 1))):
        hue = next(hues)
        for _attempt in range(_TRIES // 2):
            kind = DISTRACTORS[int(rng_dis.integers(len(DISTRACTORS)))]
            new = _figure(kind, False, rng_dis, side, style, DISTRACTOR_SCALE, hue)
            if new is None:
                continue
            trial = list(layers)
            trial.insert(int(rng_dis.integers(len(layers) + 1)), new)
            if _acceptable(trial):
                layers = trial
                break
    return layers


# ----------------------------------------------------------------------------- scenes


def _colour(L: _Layer, style: str, below: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The figure's paint (generalisation2_paint.figure_colour), kept clear of what lies around it."""
    return paint.figure_colour(style, L.texture, rng, below, L.cov, L.edge, L.centre, L.radius, L.angle, L.hue,
                               MIN_CONTRAST)


def generate_gen2_scene(seed: int, index: int, n_objects: int | tuple[int, int] = (1, 3),
                        size: int | None = None) -> Gen2Scene:
    """One scene of the second suite; `size` fixes the side (default: drawn from SIZE_RANGE)."""
    seed, index, (lo, hi) = check_scene_args(seed, index, n_objects)
    streams = np.random.SeedSequence([_STREAM_TAG, seed, index]).spawn(6)
    rng_obj, rng_dis, rng_bg, rng_paint, rng_post, rng_size = (np.random.default_rng(s) for s in streams)
    side = check_int("size", size, MIN_SIZE) if size is not None else int(
        rng_size.integers(SIZE_RANGE[0], SIZE_RANGE[1] + 1))
    style = STYLES[int(rng_obj.integers(len(STYLES)))]
    layers = place(rng_obj, rng_dis, side, int(rng_obj.integers(lo, hi + 1)), style)
    if not any(L.named for L in layers):
        raise ValueError(f"no figure fits a {side} px scene")  # cannot happen for SIZE_RANGE; kept as a guard

    kind = paint.BACKGROUNDS2[int(rng_bg.integers(len(paint.BACKGROUNDS2)))]
    img = paint.background(kind, rng_bg, side)
    light = rng_paint.uniform(0, 2 * np.pi)  # one light per scene: every shadow falls the same way
    reach = rng_paint.uniform(0.012, 0.03) * side * (1.6 if style == "cut" else 1.0)
    offset = (reach * np.cos(light), reach * np.sin(light))
    blur, opacity = rng_paint.uniform(0.008, 0.02) * side, rng_paint.uniform(0.3, 0.55)
    for L in layers:
        img = img * (1 - opacity * paint.shadow(L.cov, offset, blur))[..., None]
        colour = _colour(L, style, img, rng_paint)
        img = img * (1 - L.cov[..., None]) + colour * L.cov[..., None]
    image, lighting, cast = paint.finish(img, rng_post)

    own = owners([L.cov for L in layers])
    objects, distractors = [], []
    for k, L in enumerate(layers):
        vis = own == k
        if L.named:
            objects.append(Gen2Object(L.name, vis, L.texture, float(vis.sum()) / L.area))
        else:
            distractors.append(Gen2Distractor(L.name, vis))
    return Gen2Scene(image, objects, distractors, kind, style, lighting, cast, seed, index)

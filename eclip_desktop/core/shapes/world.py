"""Shapes World: synthetic scenes of coloured plane figures with exact masks and WordNet captions.

Every object is rasterised into a boolean mask first (no antialiasing) and the
image is painted from those masks, so the masks are ground truth to the pixel:
the point of this world is to score explanation heatmaps against them.

A scene is a pure function of (seed, index) and the keyword arguments. Objects,
background, caption and noise draw from separate random streams, so asking for
a different caption kind or background leaves the rest of the scene unchanged.

The WordNet facts (glosses, hypernym paths) come from resources/shapes/concepts.json,
written by packaging/scripts/make_shapes_concepts.py; WordNet is not needed here.
"""
from __future__ import annotations

import colorsys
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from eclip_desktop.core.io.paths import RESOURCES

MIN_SIZE = 32
# Beyond this the generator would mostly fail to place objects without heavy occlusion.
MAX_OBJECTS = 6
MAX_SIZE = 4096

BACKGROUNDS = ("plain", "textured", "cluttered", "mixed")
# "name": the shape alone ("a photo of a circle."), so colour cannot explain the caption.
CAPTION_KINDS = ("template", "short", "name", "gloss", "hypernym_gloss")
DEFAULT_CAPTION_WEIGHTS = {"template": 0.4, "short": 0.2, "gloss": 0.2, "hypernym_gloss": 0.2}

# Saturated, well separated hues; backgrounds are kept muted so these stand out.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 35),
    "green": (35, 165, 55),
    "blue": (35, 75, 220),
    "yellow": (240, 215, 30),
    "orange": (245, 130, 20),
    "purple": (135, 45, 185),
}
COLOR_JITTER = 12

# Diameter of the shape's circumscribed circle as a fraction of the image side.
DEFAULT_SCALE = (0.22, 0.45)
# An object hidden below this fraction of its own area by later objects is re-drawn.
MIN_VISIBLE = 0.4
_PLACEMENT_TRIES = 60

# Triangles and stars cover little of their circumscribed circle; enlarging
# them a little keeps their apparent size in line with the other shapes.
_SIZE_FACTOR = {"triangle": 1.12, "star": 1.08}
_STAR_INNER = 0.45  # inner/outer radius; the regular pentagram's 0.38 is too spiky to read at 64 px

CONCEPTS_ENV = "ECLIP_SHAPES_CONCEPTS"
# Separates this generator's streams from any other user of the same (seed, index).
_STREAM_TAG = 0x5A9E5


# ----------------------------------------------------------------------------- concepts


@dataclass(frozen=True)
class _Concepts:
    shapes: tuple[dict, ...]
    synsets: Mapping[str, dict]
    by_name: Mapping[str, dict]
    # synset -> itself plus every hypernym on any path, for "is a" tests
    ancestors: Mapping[str, frozenset]


def concepts_path() -> Path:
    """Where concepts.json is read from: $ECLIP_SHAPES_CONCEPTS, else the source tree's resources/."""
    env = os.environ.get(CONCEPTS_ENV)
    if env:
        return Path(env)
    return RESOURCES / "shapes" / "concepts.json"


@functools.lru_cache(maxsize=4)
def _load(path: str) -> _Concepts:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"Shapes World concepts not found at {path}; "
            "run packaging/scripts/make_shapes_concepts.py or set " + CONCEPTS_ENV
        ) from None
    shapes = tuple(data["shapes"])
    synsets = data["synsets"]
    ancestors = {
        name: frozenset([name, *(h for p in info["hypernym_paths"] for h in p)])
        for name, info in synsets.items()
    }
    return _Concepts(shapes, synsets, {s["name"]: s for s in shapes}, ancestors)


def _concepts() -> _Concepts:
    return _load(str(concepts_path()))


def class_names() -> list[str]:
    """Shape names in class-index order: class i+1 of a segmentation map is class_names()[i]."""
    return [s["name"] for s in _concepts().shapes]


def color_names() -> list[str]:
    return list(COLORS)


def _shape_info(shape: str) -> dict:
    try:
        return _concepts().by_name[shape]
    except KeyError:
        raise ValueError(f"unknown shape {shape!r}; known: {', '.join(class_names())}") from None


def synset_for(shape: str) -> str:
    return _shape_info(shape)["synset"]


def _synset_info(synset: str) -> dict:
    try:
        return _concepts().synsets[synset]
    except KeyError:
        raise ValueError(f"synset {synset!r} is not in the Shapes World concepts") from None


def gloss_for(synset: str) -> str:
    """The WordNet 3.0 gloss, verbatim (domain labels such as "(geometry)" included)."""
    return _synset_info(synset)["gloss"]


def hypernym_paths(synset: str) -> list[list[str]]:
    """Every hypernym path of synset, nearest hypernym first, each ending at entity.n.01."""
    return [list(p) for p in _synset_info(synset)["hypernym_paths"]]


def is_a(synset: str, ancestor: str) -> bool:
    """True when synset is ancestor or one of its hyponyms (a circle is an ellipse)."""
    _synset_info(synset)
    _synset_info(ancestor)
    return ancestor in _concepts().ancestors[synset]


def describes(synset: str, shape: str) -> bool:
    """Whether the gloss of synset is true of shape as drawn: WordNet's is-a, plus the
    few concepts a drawn shape satisfies outside WordNet's hierarchy (a star is a polygon)."""
    info = _shape_info(shape)
    return is_a(info["synset"], synset) or synset in info.get("also_satisfies", ())


def caption_hypernyms(shape: str) -> list[str]:
    """Hypernyms whose glosses serve as captions: those below plane_figure.n.01 whose
    glosses are true of exactly the shapes WordNet files under them."""
    return list(_shape_info(shape)["caption_hypernyms"])


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def prompt_for(shape: str, color: str | None = None) -> str:
    """The evaluation prompt: "a photo of a red circle." or, without colour, "a photo of a circle."."""
    _shape_info(shape)
    if color is not None and color not in COLORS:
        raise ValueError(f"unknown colour {color!r}; known: {', '.join(COLORS)}")
    phrase = f"{color} {shape}" if color else shape
    return f"a photo of {_article(phrase)} {phrase}."


def caption_gloss(synset: str) -> str:
    """A gloss as a caption: WordNet's leading domain label ("(geometry) ") is not part of the description."""
    return re.sub(r"^\([^)]*\)\s*", "", gloss_for(synset))


# ----------------------------------------------------------------------------- data classes


# eq=False: field-wise == would compare numpy arrays and raise; compare masks explicitly.
@dataclass(eq=False)
class ShapeObject:
    shape: str
    synset: str
    color: str
    mask: np.ndarray  # bool H x W, the visible part after occlusion
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the visible mask; x1, y1 exclusive
    rgb: tuple[int, int, int] = (0, 0, 0)  # the exact fill colour, before global noise
    visible_fraction: float = 1.0  # visible area / unoccluded area

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass(eq=False)
class Scene:
    image: np.ndarray  # uint8 H x W x 3, RGB
    objects: list[ShapeObject]  # in painting order: later objects occlude earlier ones
    caption: str
    caption_target: int  # index into objects of the object the caption was written for
    seed: int
    index: int
    caption_kind: str = "template"
    caption_synset: str = ""  # the synset the caption describes (the target's or a hypernym)
    # Every object the caption truly describes: the target plus any other object
    # of the same shape and colour (or, for a gloss, any hyponym of the synset).
    caption_objects: tuple[int, ...] = ()
    background: str = ""

    @property
    def size(self) -> int:
        return int(self.image.shape[0])

    def class_mask(self) -> np.ndarray:
        """uint8 H x W: 0 background, i+1 for class_names()[i]."""
        index = {name: i + 1 for i, name in enumerate(class_names())}
        out = np.zeros(self.image.shape[:2], np.uint8)
        for obj in self.objects:
            out[obj.mask] = index[obj.shape]
        return out

    def instance_mask(self) -> np.ndarray:
        """uint8 H x W: 0 background, k+1 for objects[k]."""
        out = np.zeros(self.image.shape[:2], np.uint8)
        for k, obj in enumerate(self.objects):
            out[obj.mask] = k + 1
        return out

    def caption_mask(self) -> np.ndarray:
        """bool H x W: the pixels the caption refers to (union over caption_objects)."""
        out = np.zeros(self.image.shape[:2], bool)
        for k in self.caption_objects:
            out |= self.objects[k].mask
        return out


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


def _rasterise(shape: str, cx: float, cy: float, radius: float, angle: float,
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


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32) * 255


def _muted(rng: np.random.Generator) -> np.ndarray:
    return _hsv(rng.random(), rng.uniform(0.04, 0.3), rng.uniform(0.35, 0.75))


def _random_color(rng: np.random.Generator) -> tuple[int, int, int]:
    c = _hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.3, 0.95))
    return tuple(int(x) for x in c)


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


_BACKGROUND_FN = {"plain": _bg_plain, "textured": _bg_textured, "cluttered": _bg_cluttered}


# ----------------------------------------------------------------------------- arguments


def check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_n_objects(n_objects) -> tuple[int, int]:
    if isinstance(n_objects, tuple) or isinstance(n_objects, list):
        if len(n_objects) != 2:
            raise ValueError(f"n_objects must be an int or a (min, max) pair, got {n_objects!r}")
        lo, hi = (check_int("n_objects", v, 1) for v in n_objects)
    else:
        lo = hi = check_int("n_objects", n_objects, 1)
    if lo > hi:
        raise ValueError(f"n_objects range is empty: min {lo} > max {hi}")
    if hi > MAX_OBJECTS:
        raise ValueError(f"n_objects must be at most {MAX_OBJECTS}, got {hi}")
    return lo, hi


def _check_caption_kinds(caption_kinds) -> dict[str, float]:
    if caption_kinds is None:
        weights = dict(DEFAULT_CAPTION_WEIGHTS)
    elif isinstance(caption_kinds, str):
        weights = {caption_kinds: 1.0}
    elif isinstance(caption_kinds, Mapping):
        weights = {k: float(v) for k, v in caption_kinds.items()}
    else:
        weights = {k: 1.0 for k in caption_kinds}
    unknown = [k for k in weights if k not in CAPTION_KINDS]
    if unknown:
        raise ValueError(f"unknown caption kind(s) {unknown}; known: {', '.join(CAPTION_KINDS)}")
    if not weights or any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError(f"caption_kinds needs at least one kind with positive weight, got {caption_kinds!r}")
    return weights


def _check_scale(scale) -> tuple[float, float]:
    lo, hi = (float(v) for v in scale)
    if not 0.1 <= lo <= hi <= 0.8:
        raise ValueError(f"scale must be a (min, max) fraction of the image side within 0.1..0.8, got {scale!r}")
    return lo, hi


def scene_options(size=64, n_objects=(1, 3), background="mixed", caption_kinds=None,
             noise=3.0, scale=DEFAULT_SCALE):
    size = check_int("size", size, MIN_SIZE)
    if size > MAX_SIZE:
        raise ValueError(f"size must be at most {MAX_SIZE}, got {size}")
    n_range = _check_n_objects(n_objects)
    if background not in BACKGROUNDS:
        raise ValueError(f"unknown background {background!r}; choose one of {', '.join(BACKGROUNDS)}")
    weights = _check_caption_kinds(caption_kinds)
    try:
        noise = float(noise)
    except (TypeError, ValueError):
        raise ValueError(f"noise must be a number, got {noise!r}") from None
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    return size, n_range, background, weights, noise, _check_scale(scale)


# ----------------------------------------------------------------------------- scenes


def _place_objects(rng: np.random.Generator, size: int, n: int, scale: tuple[float, float]):
    names = class_names()
    colors = list(COLORS)
    placed: list[dict] = []
    for _ in range(n):
        for _attempt in range(_PLACEMENT_TRIES):
            shape = names[int(rng.integers(len(names)))]
            color = colors[int(rng.integers(len(colors)))]
            radius = rng.uniform(*scale) * size / 2 * _SIZE_FACTOR.get(shape, 1.0)
            # Pixel centres run 0..size-1; keeping the circumscribed circle inside
            # means no object is ever cut by the image border.
            cx, cy = rng.uniform(radius, size - 1 - radius, 2)
            angle = rng.uniform(0, 2 * np.pi)
            if shape == "ellipse":
                aspect = rng.uniform(0.45, 0.65)
            elif shape == "rectangle":
                aspect = 1 / rng.uniform(1.7, 2.3)
            else:
                aspect = 1.0
            full = _rasterise(shape, cx, cy, radius, angle, aspect, size)
            area = int(full.sum())
            if area < 8:
                continue
            if any(not _compatible(p, full, color) for p in placed):
                continue
            break
        else:
            # Crowded scene: keep what fits rather than loop forever.
            break
        for p in placed:
            p["visible"] &= ~full
        jitter = rng.integers(-COLOR_JITTER, COLOR_JITTER + 1, 3)
        rgb = tuple(int(v) for v in np.clip(np.array(COLORS[color]) + jitter, 0, 255))
        placed.append({"shape": shape, "color": color, "rgb": rgb, "full": full,
                       "area": area, "visible": full.copy()})
    return placed


def _compatible(earlier: dict, new_full: np.ndarray, new_color: str) -> bool:
    remaining = int((earlier["visible"] & ~new_full).sum())
    if remaining < MIN_VISIBLE * earlier["area"]:
        return False
    if earlier["color"] == new_color:
        # Touching objects of one colour would merge into a single blob.
        grown = cv2.dilate(new_full.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        if (grown & earlier["visible"]).any():
            return False
    return True


def _box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _make_caption(rng: np.random.Generator, objects: list[ShapeObject], weights: dict[str, float]):
    kinds = list(weights)
    p = np.array([weights[k] for k in kinds], float)
    kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
    candidates = list(range(len(objects)))
    if kind == "hypernym_gloss":
        # A star has no hypernym more specific than "plane figure"; prefer
        # an object that has one, and fall back to its own gloss otherwise.
        candidates = [i for i, o in enumerate(objects) if caption_hypernyms(o.shape)] or candidates
    target = candidates[int(rng.integers(len(candidates)))]
    obj = objects[target]

    if kind == "hypernym_gloss" and caption_hypernyms(obj.shape):
        options = caption_hypernyms(obj.shape)
        synset = options[int(rng.integers(len(options)))]
    else:
        kind = "gloss" if kind == "hypernym_gloss" else kind
        synset = obj.synset

    if kind in ("gloss", "hypernym_gloss"):
        caption = caption_gloss(synset)
        matches = [i for i, o in enumerate(objects) if describes(synset, o.shape)]
        return caption, kind, synset, target, matches

    with_color = True
    if kind == "template":
        caption = prompt_for(obj.shape, obj.color)
    elif kind == "name":
        with_color = False
        form = int(rng.integers(3))
        caption = (prompt_for(obj.shape), f"{_article(obj.shape)} {obj.shape}.", f"the {obj.shape}")[form]
    else:
        form = int(rng.integers(3))
        with_color = form != 0
        if form == 0:
            caption = f"{_article(obj.shape)} {obj.shape}"
        elif form == 1:
            caption = f"{obj.color} {obj.shape}"
        else:
            caption = f"{_article(obj.color)} {obj.color} {obj.shape}"
    # Names are taken literally: "a rectangle" means the rectangle class, not a
    # square, even though WordNet files square under rectangle.
    matches = [i for i, o in enumerate(objects)
               if o.shape == obj.shape and (not with_color or o.color == obj.color)]
    return caption, kind, synset, target, matches


def generate_scene(
    seed: int,
    index: int,
    size: int = 64,
    n_objects: int | tuple[int, int] = (1, 3),
    background: str = "mixed",
    *,
    caption_kinds: str | Sequence[str] | Mapping[str, float] | None = None,
    noise: float = 3.0,
    scale: tuple[float, float] = DEFAULT_SCALE,
) -> Scene:
    """One scene, a pure function of its arguments.

    n_objects: an exact count or an inclusive (min, max) range, 1..MAX_OBJECTS.
    A very crowded request may yield fewer objects when no placement keeps every
    object at least MIN_VISIBLE visible.
    background: 'plain', 'textured', 'cluttered' or 'mixed' (textured or cluttered).
    caption_kinds: one kind, a list (equal odds) or {kind: weight}; default DEFAULT_CAPTION_WEIGHTS.
    noise: standard deviation of Gaussian noise added to the finished image (0 for none);
    masks and ShapeObject.rgb describe the image before noise.
    """
    seed = check_int("seed", seed, 0)
    index = check_int("index", index, 0)
    size, (lo, hi), background, weights, noise, scale = scene_options(
        size, n_objects, background, caption_kinds, noise, scale)

    streams = np.random.SeedSequence([_STREAM_TAG, seed, index]).spawn(4)
    rng_obj, rng_bg, rng_cap, rng_noise = (np.random.default_rng(s) for s in streams)

    n = int(rng_obj.integers(lo, hi + 1))
    placed = _place_objects(rng_obj, size, n, scale)
    if not placed:
        raise ValueError(f"no object of scale {scale} fits a {size} px image; use a larger scale or size")

    kind = background
    if kind == "mixed":
        kind = ("textured", "cluttered")[int(rng_bg.integers(2))]
    image = np.clip(np.rint(_BACKGROUND_FN[kind](rng_bg, size)), 0, 255).astype(np.uint8)

    objects = []
    for p in placed:
        image[p["visible"]] = p["rgb"]
        objects.append(ShapeObject(
            shape=p["shape"], synset=synset_for(p["shape"]), color=p["color"],
            mask=p["visible"], box=_box(p["visible"]), rgb=p["rgb"],
            visible_fraction=float(p["visible"].sum()) / p["area"],
        ))

    if noise > 0:
        noisy = image.astype(np.float32) + rng_noise.normal(0, noise, image.shape).astype(np.float32)
        image = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)

    caption, ckind, csynset, target, matches = _make_caption(rng_cap, objects, weights)
    return Scene(image=image, objects=objects, caption=caption, caption_target=target,
                 seed=seed, index=index, caption_kind=ckind, caption_synset=csynset,
                 caption_objects=tuple(matches), background=kind)


def iter_scenes(seed: int, start: int, count: int, **kw) -> Iterator[Scene]:
    """Scenes start, start+1, ... start+count-1 of the given seed; kw as for generate_scene."""
    # Checked here, not on the first next(), so a bad call fails where it is made.
    check_int("seed", seed, 0)
    start = check_int("start", start, 0)
    count = check_int("count", count, 0)
    scene_options(**kw)
    return (generate_scene(seed, index, **kw) for index in range(start, start + count))

"""Shapes World: synthetic scenes of coloured plane figures with exact masks and WordNet captions.

Every object is rasterised into a boolean mask first (no antialiasing) and the
image is painted from those masks, so the masks are ground truth to the pixel:
the point of this world is to score explanation heatmaps against them.

A scene is a pure function of (seed, index) and the keyword arguments. Objects,
background, caption and noise draw from separate random streams, so asking for
a different caption kind or background leaves the rest of the scene unchanged.

The WordNet facts (glosses, hypernym paths) come from resources/shapes/concepts.json,
written by scripts/make_shapes_concepts.py; WordNet is not needed here.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from eclip_desktop.core.shapes.raster import BACKGROUND_FN, rasterise
from eclip_desktop.core.shapes.vocabulary import (  # noqa: F401  (re-exported: world is the package's front door)
    COLORS,
    CONCEPTS_ENV,
    article,
    caption_gloss,
    caption_hypernyms,
    class_names,
    color_names,
    concepts_path,
    describes,
    gloss_for,
    hypernym_paths,
    is_a,
    prompt_for,
    synset_for,
)

MIN_SIZE = 32
# Beyond this the generator would mostly fail to place objects without heavy occlusion.
MAX_OBJECTS = 6
MAX_SIZE = 4096

BACKGROUNDS = ("plain", "textured", "cluttered", "mixed")
# "name": the shape alone ("a photo of a circle."), so colour cannot explain the caption.
# "list": every object of the scene by name ("a photo of a circle and a square."), as captions of real
# photographs name what is in them; off unless asked for (--captions), so existing datasets stay as they were.
CAPTION_KINDS = ("template", "short", "name", "gloss", "hypernym_gloss", "list")
DEFAULT_CAPTION_WEIGHTS = {"template": 0.4, "short": 0.2, "gloss": 0.2, "hypernym_gloss": 0.2}

COLOR_JITTER = 12
_NUMBERS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}

# Diameter of the shape's circumscribed circle as a fraction of the image side.
DEFAULT_SCALE = (0.22, 0.45)
# An object hidden below this fraction of its own area by later objects is re-drawn.
MIN_VISIBLE = 0.4
_PLACEMENT_TRIES = 60

# Triangles and stars cover little of their circumscribed circle; enlarging
# them a little keeps their apparent size in line with the other shapes.
_SIZE_FACTOR = {"triangle": 1.12, "star": 1.08}

# Separates this generator's streams from any other user of the same (seed, index).
_STREAM_TAG = 0x5A9E5


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
            full = rasterise(shape, cx, cy, radius, angle, aspect, size)
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

    if kind == "list":
        counts: dict[str, int] = {}
        for i in rng.permutation(len(objects)):
            counts[objects[int(i)].shape] = counts.get(objects[int(i)].shape, 0) + 1
        # Every class name here is a regular English noun ("ellipses", "stars").
        names = [f"{article(n)} {n}" if c == 1 else f"{_NUMBERS.get(c, str(c))} {n}s" for n, c in counts.items()]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return f"a photo of {listed}.", kind, obj.synset, target, list(range(len(objects)))

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
        caption = (prompt_for(obj.shape), f"{article(obj.shape)} {obj.shape}.", f"the {obj.shape}")[form]
    else:
        form = int(rng.integers(3))
        with_color = form != 0
        if form == 0:
            caption = f"{article(obj.shape)} {obj.shape}"
        elif form == 1:
            caption = f"{obj.color} {obj.shape}"
        else:
            caption = f"{article(obj.color)} {obj.color} {obj.shape}"
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
    image = np.clip(np.rint(BACKGROUND_FN[kind](rng_bg, size)), 0, 255).astype(np.uint8)

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

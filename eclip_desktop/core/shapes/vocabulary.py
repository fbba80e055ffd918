"""The Shapes World vocabulary: shape and colour names, their WordNet synsets, glosses and hypernym paths
(from resources/shapes/concepts.json), and the prompts and captions built from them."""
from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from eclip_desktop.core.io.paths import RESOURCES

# Saturated, well separated hues; backgrounds are kept muted so these stand out.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 35),
    "green": (35, 165, 55),
    "blue": (35, 75, 220),
    "yellow": (240, 215, 30),
    "orange": (245, 130, 20),
    "purple": (135, 45, 185),
}

CONCEPTS_ENV = "ECLIP_SHAPES_CONCEPTS"
# Separates this generator's streams from any other user of the same (seed, index).

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
            "run scripts/make_shapes_concepts.py or set " + CONCEPTS_ENV
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


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def prompt_for(shape: str, color: str | None = None) -> str:
    """The evaluation prompt: "a photo of a red circle." or, without colour, "a photo of a circle."."""
    _shape_info(shape)
    if color is not None and color not in COLORS:
        raise ValueError(f"unknown colour {color!r}; known: {', '.join(COLORS)}")
    phrase = f"{color} {shape}" if color else shape
    return f"a photo of {article(phrase)} {phrase}."


def caption_gloss(synset: str) -> str:
    """A gloss as a caption: WordNet's leading domain label ("(geometry) ") is not part of the description."""
    return re.sub(r"^\([^)]*\)\s*", "", gloss_for(synset))



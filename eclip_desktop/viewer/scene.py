"""What a render shows, free of Qt: the scene (picture, maps, states, notes), tile contents, captions
and the maps each layout needs.

Titles name the map's own text (from the Heatmap), never the editor's current lines, so a label
can not drift from the picture it describes while new maps are being computed.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass

import numpy as np

from eclip_desktop.core.explain.methods import METHODS
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.viewer.jobs.compute import ImageView, MapSet
from eclip_desktop.viewer.state import AnalysisState, DisplayState, ModelChoice

FLAT_SPAN = 0.01  # raw cosine spans below this are stretched noise, and the caption says so
SINGLE_MODEL_NOTE = ("One model: its similarity map (ITSM) is the same under every pooling readout; the "
                     "readout changes the zero-shot scores and where the pooled embedding takes its "
                     "evidence. The ITSM itself needs a model trained with that pooling.")


def layout_poolings(model: ModelChoice | None) -> list[str]:
    return model.poolings() if model is not None else pooling_names()


def raw_caption(raw_range, method: str | None = None) -> str:
    lo, hi = raw_range
    label = METHODS[method].raw_label if method in METHODS else "similarity"
    text = f"raw {label} [{lo:.3f}, {hi:.3f}]"
    if hi - lo < FLAT_SPAN:
        text += " \u2014 near-constant: the colours stretch a tiny difference"
    return text


def contribution_caption(values) -> str:
    if float(values.max()) - float(values.min()) < 1e-6:
        return "uniform: every location contributes equally"
    return "share of the pooled embedding's evidence per location"


def tile_bars(ms: MapSet, shown: int, title: str) -> dict:
    """A tile's bars: the shown prompt and the best other one. Two rows keep a 2x2 grid on one
    screen at 1000x700; the side-by-side view lists every prompt."""
    p = ms.scores["probability"]
    others = [i for i in range(len(p)) if i != shown]
    keep = sorted([shown] + ([max(others, key=lambda i: p[i])] if others else []))
    bars = all_bars(ms, shown, title)
    for key in ("labels", "probabilities", "cosines"):
        bars[key] = [bars[key][i] for i in keep]
    bars["shown"] = keep.index(shown)
    if len(p) > len(keep):
        # Short enough for a grid tile: the shown row is bold, the other is the best of the rest, and
        # the tooltip lists every prompt's scores.
        bars["title"] = f"{title} ({len(keep)} of {len(p)} prompts)"
    return bars


def shift_tags(model: ModelChoice | None) -> dict:
    """pooling -> a word for its tile title, from the family's measured cards (see views/guide.py)."""
    from eclip_desktop.viewer.guide import measured_shift
    summary = measured_shift(model.architecture) if model is not None and model.family else None
    if summary is None:
        return {}
    # Short: a tile title wraps, and at 1000x700 every line costs map height.
    tags = {e.pooling: f"shifted ({e.bg_preferred:.0%} on background)" for e in summary.shifted}
    tags.setdefault(summary.best.pooling, "most on the object")
    return tags


def all_bars(ms: MapSet, shown: int, title: str) -> dict:
    return {"labels": [h.text for h in ms.heatmaps], "probabilities": ms.scores["probability"],
            "cosines": ms.scores["cosine"], "shown": shown, "title": title}


@dataclass
class ConVisPane:
    """A WordNet synset's ConVis map for the side-by-side map pane (instead of the prompt's map)."""

    title: str
    preview: np.ndarray | None = None  # None: not computed yet, `note` says why
    values: np.ndarray | None = None
    caption: str = ""
    note: str = ""


@dataclass
class Scene:
    """Everything one render needs."""

    image: ImageView | None
    maps: dict
    analysis: AnalysisState
    display: DisplayState
    model: ModelChoice | None
    note: str  # what a pane without a map says
    image_note: str = ""  # what the image pane says while there is no picture
    convis: ConVisPane | None = None  # set while the side-by-side view shows a ConVis map
    difference: bool = False  # the pooling grid adds a tile: shifted pooling's map minus the best one's
    ground_truth: np.ndarray | None = None  # bool mask at the image size, loaded by the user
    compare: object = None  # views.compare.ComparePane: the model comparison's second model
    refused: dict = field(default_factory=dict)  # (method, pooling) -> why that method does not apply
    pending: ModelChoice | None = None  # the model being loaded while `model` is None


def scene_key(value):
    """A cheap fingerprint of what a render draws: arrays and the worker's results by identity (they
    are never changed in place: a new result is a new object), containers and dataclasses by content. Two scenes with the
    same key draw the same picture, so the window renders a change once however many paths ask."""
    if isinstance(value, np.ndarray) or getattr(type(value), "scene_by_identity", False):
        return ("id", id(value))
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__,) + tuple(scene_key(getattr(value, f.name)) for f in fields(value))
    if isinstance(value, dict):
        return ("dict",) + tuple((k, scene_key(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ("seq",) + tuple(scene_key(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return ("object", id(value))
    return value


def ground_truth_text(values, mask) -> str:
    """Live evidence against a ground-truth mask: score contrast (mean inside − outside, as mSC
    reports it, in %) and whether the map's maximum points inside."""
    if values is None or mask is None or values.shape != mask.shape:
        return ""
    from eclip_desktop.core.evaluation.metrics import pointing_hit, score_contrast
    sc = score_contrast(values, mask)
    if sc != sc:  # NaN: the mask is empty or covers everything
        return "ground truth: mask is empty or covers the whole image"
    hit = "hit" if pointing_hit(values, mask) else "miss"
    side = "object" if sc >= 0 else "background"
    return f"ground truth: SC {100 * sc:+.1f} % (favours the {side}), pointing {hit}"



@dataclass
class TileContent:
    title: str
    preview: np.ndarray | None  # None: the tile says `note` instead of a map
    full: np.ndarray | None = None
    raw_range: tuple[float, float] | None = None
    caption: str = ""
    note: str = ""
    bars: dict | None = None  # {"labels", "probabilities", "cosines", "shown", "title"}
    highlight: bool = False
    tooltip: str = ""
    extra: dict = field(default_factory=dict)
    compact_title: str = ""  # the title of a small tile, without what the header says; "": the title

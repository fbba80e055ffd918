"""The current map as a publishable figure (clipboard, export), drawn by the core's renderer.

Uses the same colour tables, levels and threshold as the window, so what was on screen is what
lands in the paper; the raw similarity range is in the title as the CLI prints it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from eclip_desktop import __version__
from eclip_desktop.app.state import DisplayState
from eclip_desktop.app.views.display import clip_levels, threshold_level, threshold_mask
from eclip_desktop.core.errors import OutputError
from eclip_desktop.core.explain.heatmap import Heatmap
from eclip_desktop.core.explain.methods import get_method
from eclip_desktop.core.export.explain_job import map_stem, title_lines
from eclip_desktop.core.figures.panel import LAYOUTS as FIGURE_LAYOUTS
from eclip_desktop.core.figures.panel import compose_panel
from eclip_desktop.core.figures.render import annotate
from eclip_desktop.core.io.atomic import (
    atomic_save_image,
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_json,
    ensure_writable_dir,
)
from eclip_desktop.core.io.imageio import LoadedImage
from eclip_desktop.core.model.poolings import POOLING_LABELS

FIGURE_FORMATS = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "svg": ".svg"}


@dataclass(frozen=True)
class FigureOptions:
    """How Export Map draws the figure; the .npy and sidecar do not depend on it."""

    format: str = "png"
    layout: str = "overlay"
    width: int = 0  # of the image panel(s) in px before the title and colorbar; 0: the image's own

    def __post_init__(self):
        if self.format not in FIGURE_FORMATS:
            raise ValueError(f"unknown figure format {self.format!r}; choose {', '.join(FIGURE_FORMATS)}")
        if self.layout not in FIGURE_LAYOUTS:
            raise ValueError(f"unknown figure layout {self.layout!r}; choose {', '.join(FIGURE_LAYOUTS)}")
        if not 0 <= int(self.width) <= 16384:
            raise ValueError(f"figure width must be 0 (the image's own) to 16384 px, got {self.width}")


@dataclass
class FigureSpec:
    """One map to draw: either a method's heatmap for a text, or a pooling's contribution."""

    rgb: np.ndarray
    values: np.ndarray
    lines: list[str]
    colorbar_label: str


def map_figure(image_rgb: np.ndarray, heatmap: Heatmap, pooling: str, scores: dict | None, index: int,
               trained_with_pooling: bool) -> FigureSpec:
    lines = title_lines(heatmap, pooling, scores, index, get_method(heatmap.method).label)
    if not trained_with_pooling:
        lines.append("single model: the pooling changes the scores, not this map")
    return FigureSpec(image_rgb, heatmap.values, lines, "similarity (min\u2013max normalised)")


def contribution_figure(image_rgb: np.ndarray, values: np.ndarray, pooling: str, model: str) -> FigureSpec:
    lines = [f"contribution of each location to the {POOLING_LABELS.get(pooling, pooling)} pooled embedding",
             model]
    return FigureSpec(image_rgb, values, lines, "share of pooling evidence")


def convis_figure(image_rgb: np.ndarray, result, model: str) -> FigureSpec:
    """The ConVis map on screen (a ConVisResult) as the `concepts` command draws its figure."""
    from eclip_desktop.core.export.concepts_job import COLORBAR
    lines = [f"ConVis \u00b7 {result.synset}: {result.gloss}",
             f"{model} \u00b7 concept set \u2018{result.set_name}\u2019 \u00b7 {result.windows} windows"]
    return FigureSpec(image_rgb, result.values, lines, COLORBAR)


def _panel(fig: FigureSpec, display: DisplayState, options: FigureOptions) -> tuple[np.ndarray, list[str], tuple]:
    levels = clip_levels(fig.values, display.percentile)
    mask = threshold_mask(fig.values, display)
    lines = list(fig.lines)
    if mask is not None:
        lines.append(f"outline: {display.threshold} threshold at {threshold_level(fig.values, display):.3f}")
    panel = compose_panel(fig.rgb, fig.values, display.colormap, display.opacity, levels, mask, options.width,
                          options.layout)
    return panel, lines, levels


def render(fig: FigureSpec, display: DisplayState, options: FigureOptions = FigureOptions()) -> np.ndarray:
    """The raster figure (uint8 RGB): panel(s), title block and colorbar."""
    panel, lines, levels = _panel(fig, display, options)
    return annotate(panel, lines, display.colormap, levels=levels, colorbar_label=fig.colorbar_label)


def render_svg(fig: FigureSpec, display: DisplayState, options: FigureOptions) -> bytes:
    """The same figure with vector title and colorbar (the panel embedded as PNG)."""
    from eclip_desktop.core.figures.svg import figure_svg
    panel, lines, levels = _panel(fig, display, options)
    return figure_svg(panel, lines, display.colormap, levels=levels, colorbar_label=fig.colorbar_label).encode()


def _write_figure(target: Path, fig: FigureSpec, display: DisplayState, options: FigureOptions,
                  overwrite: bool) -> None:
    if options.format == "svg":
        atomic_write_bytes(target, render_svg(fig, display, options), overwrite=overwrite)
    else:
        atomic_save_image(target, render(fig, display, options), overwrite=overwrite)


def _write_triple(targets: list[Path], values: np.ndarray, fig: FigureSpec, sidecar: dict, display: DisplayState,
                  options: FigureOptions, overwrite: bool) -> list[Path]:
    """Figure, float32 map and sidecar (last: a sidecar says the export is complete)."""
    sidecar = {**sidecar, "display": display.to_dict(), "figure_options": asdict(options),
               "files": {"figure": targets[0].name, "npy": targets[1].name}, "version": __version__,
               "written_by": "eclip-desktop GUI"}
    json.dumps(sidecar)  # fail before writing anything if a value cannot be stored
    atomic_save_npy(targets[1], values.astype(np.float32), overwrite=overwrite)
    _write_figure(targets[0], fig, display, options, overwrite)
    atomic_write_json(targets[2], sidecar, overwrite=overwrite)
    return targets


def _targets(out: Path, stem: str, options: FigureOptions, overwrite: bool) -> list[Path]:
    targets = [out / f"{stem}{ext}" for ext in (FIGURE_FORMATS[options.format], ".npy", ".json")]
    if not overwrite:
        for t in targets:
            if t.exists():
                raise OutputError(f"{t} exists; choose another folder or allow replacing")
    return targets


def export_map(out_dir: str | Path, image: LoadedImage, heatmap: Heatmap, pooling: str, scores: dict,
               labels: list[str], index: int, display: DisplayState, trained_with_pooling: bool,
               model_info: dict, method_options: dict, overwrite: bool = False,
               options: FigureOptions = FigureOptions()) -> list[Path]:
    """Figure (options.format), raw map (.npy, float32 at the image size) and sidecar (.json), as the
    CLI names them."""
    from eclip_desktop.core.export.explain_job import text_slugs
    out = ensure_writable_dir(out_dir)
    stem = map_stem(Path(image.path).stem or "image", heatmap.method, pooling, text_slugs(labels)[heatmap.text])
    targets = _targets(out, stem, options, overwrite)
    fig = map_figure(image.rgb, heatmap, pooling, scores, index, trained_with_pooling)
    sidecar = {"image": image.path, "image_sha256": image.sha256, "image_size": [image.width, image.height],
               **model_info, "method": heatmap.method, "method_options": method_options, "pooling": pooling,
               "pooling_trained": trained_with_pooling, "text": heatmap.text, "text_index": index,
               "labels": labels, "scores": {"cosine": scores["cosine"][index],
                                            "probability": scores["probability"][index]},
               "label_scores": scores, "raw_range": list(heatmap.raw_range),
               "normalisation": heatmap.normalisation}
    return _write_triple(targets, heatmap.values, fig, sidecar, display, options, overwrite)


def export_convis(out_dir: str | Path, image: LoadedImage, result, display: DisplayState, model_info: dict,
                  overwrite: bool = False, options: FigureOptions = FigureOptions()) -> list[Path]:
    """The ConVis map on screen as `concepts` names it: <stem>__convis__<synset>.{png,npy,json}."""
    from eclip_desktop.core.export.concepts_job import map_stem as convis_stem
    out = ensure_writable_dir(out_dir)
    stem = convis_stem(Path(image.path).stem or "image", result.synset)
    targets = _targets(out, stem, options, overwrite)
    model = f"{model_info.get('model', '')} ({model_info.get('pretrained', '')})"
    fig = convis_figure(image.rgb, result, model)
    sidecar = {"image": image.path, "image_sha256": image.sha256, "image_size": [image.width, image.height],
               **model_info, "method": "convis", "synset": result.synset, "gloss": result.gloss,
               "concept_set": {"name": result.set_name, "key": result.request.set_key},
               "windows": result.windows, "top_concepts": result.concepts or [],
               "normalisation": "rank map, min-max to [0, 1]"}
    return _write_triple(targets, result.values, fig, sidecar, display, options, overwrite)


def _same_image(path: str, sha256: str) -> LoadedImage:
    from eclip_desktop.core.errors import ImageLoadError
    from eclip_desktop.core.io.imageio import load_image
    image = load_image(path)
    if image.sha256 != sha256:
        raise ImageLoadError(f"{path} changed on disk since it was analysed; select it again to refresh the maps")
    return image


def figure_job(path: str, sha256: str, build, display: DisplayState):
    """Worker job: the annotated figure (uint8 RGB) of `build(image_rgb) -> FigureSpec`."""
    def run(ctx):
        image = _same_image(path, sha256)
        ctx.check()
        fig = build(image.rgb)
        return fig if isinstance(fig, np.ndarray) else render(fig, display)
    return run


def grid_tiles(maps: dict, pairs: list, layout: str, shown: int) -> list[tuple[np.ndarray, list[str]]]:
    """(values, caption lines) per tile of a grid layout, from the map sets on screen."""
    from eclip_desktop.core.figures.grids import score_caption
    from eclip_desktop.core.model.poolings import short_pooling
    tiles = []
    if layout == "prompts":
        ms = maps[pairs[0]]
        for t, hm in enumerate(ms.heatmaps):
            scores = {"cosine": ms.scores["cosine"][t], "probability": ms.scores["probability"][t]}
            tiles.append((hm.values, [f"\u201c{hm.text}\u201d", score_caption(scores)]))
        return tiles
    for method, pooling in pairs:
        ms = maps.get((method, pooling))
        if ms is None:
            continue
        t = min(shown, len(ms.heatmaps) - 1)
        scores = {"cosine": ms.scores["cosine"][t], "probability": ms.scores["probability"][t]}
        name = short_pooling(pooling) if layout == "poolings" else get_method(method).label
        tiles.append((ms.heatmaps[t].values, [name, score_caption(scores)]))
    return tiles


def grid_picture(image_rgb: np.ndarray, tiles, title: list[str], display: DisplayState) -> np.ndarray:
    from eclip_desktop.core.figures.grids import grid_figure
    return grid_figure(image_rgb, tiles, cmap=display.colormap, alpha=display.opacity, title_lines=title)


def export_grid(out_dir: str | Path, image: LoadedImage, kind: str, tiles, title: list[str], display: DisplayState,
                model_info: dict, overwrite: bool = False, **_ignored) -> list[Path]:
    """A grid layout as `export --grid` names it: <stem>__grid-<kind>.png and a JSON sidecar."""
    out = ensure_writable_dir(out_dir)
    stem = f"{Path(image.path).stem or 'image'}__grid-{kind}"
    targets = [out / f"{stem}.png", out / f"{stem}.json"]
    if not overwrite:
        for t in targets:
            if t.exists():
                raise OutputError(f"{t} exists; choose another folder or allow replacing")
    sidecar = {"image": image.path, "image_sha256": image.sha256, **model_info, "grid": kind, "title": title,
               "tiles": [" \u00b7 ".join(c for c in caption if c) for _, caption in tiles],
               "display": display.to_dict(), "files": {"figure": targets[0].name}, "version": __version__,
               "written_by": "eclip-desktop GUI"}
    atomic_save_image(targets[0], grid_picture(image.rgb, tiles, title, display), overwrite=overwrite)
    atomic_write_json(targets[1], sidecar, overwrite=overwrite)
    return targets


def export_job(path: str, sha256: str, out_dir: str, overwrite: bool, writer=None, **kw):
    """writer: export_map (default) or export_convis, called with the reloaded image and kw."""
    def run(ctx):
        image = _same_image(path, sha256)
        ctx.check()
        return (writer or export_map)(out_dir, image, overwrite=overwrite, **kw)
    return run

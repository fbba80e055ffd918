"""The current map as a publishable figure (clipboard, export), drawn by the core's renderer.

Uses the same colour tables, levels and threshold as the window, so what was on screen is what
lands in the paper; the raw similarity range is in the title as the CLI prints it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from eclip_desktop.core.explain.heatmap import Heatmap
from eclip_desktop.core.explain.methods import get_method
from eclip_desktop.core.export import artifacts
from eclip_desktop.core.export.explain_job import title_lines
from eclip_desktop.core.figures.panel import LAYOUTS as FIGURE_LAYOUTS
from eclip_desktop.core.figures.panel import compose_panel
from eclip_desktop.core.figures.render import annotate, short_model_name
from eclip_desktop.core.io.atomic import ensure_writable_dir
from eclip_desktop.core.io.imageio import LoadedImage
from eclip_desktop.core.model.poolings import POOLING_LABELS
from eclip_desktop.viewer.display import clip_levels, threshold_level, threshold_mask
from eclip_desktop.viewer.state import DisplayState

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
    if values.size and float(values.max()) == float(values.min()):
        lines.append("uniform: every location contributes equally (the map is flat)")
    return FigureSpec(image_rgb, values, lines, "share of pooling evidence")


def convis_figure(image_rgb: np.ndarray, result, model: str, concepts: list[dict] | None = None) -> FigureSpec:
    """The ConVis map on screen (a ConVisResult) as the `concepts` command draws its figure. concepts:
    the dock's listing when the result carries none (the window lists them once per image)."""
    from eclip_desktop.core.export.concepts_job import COLORBAR, top_concepts_line
    lines = [f"ConVis \u00b7 {result.synset}: {result.gloss}",
             f"{model} \u00b7 concept set \u2018{result.set_name}\u2019 \u00b7 {result.windows} windows"]
    if result.support is not None:
        lines.append(f"support: {result.support.verdict()}")
    listing = top_concepts_line({"unknown_set": result.unknown_set} if getattr(result, "unknown_set", "")
                                else {"by_mass": result.concepts or concepts or []})
    if listing:
        lines.append(listing)
    return FigureSpec(image_rgb, result.values, lines, COLORBAR)


def _panel(fig: FigureSpec, display: DisplayState, options: FigureOptions) -> tuple[np.ndarray, list[str], tuple]:
    levels = clip_levels(fig.values, display.percentile)
    mask = threshold_mask(fig.values, display)
    lines = list(fig.lines)
    if mask is not None:
        lines.append(f"outline: {display.threshold} threshold at {threshold_level(fig.values, display):.3f}; "
                     "the hatched side is above it")
    panel = compose_panel(fig.rgb, fig.values, display.colormap, display.opacity, levels, mask, options.width,
                          options.layout, mode=display.overlay, hatch=True)
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


def _figure(fig: FigureSpec, display: DisplayState, options: FigureOptions):
    return render_svg(fig, display, options) if options.format == "svg" else render(fig, display, options)


def _window_fields(display: DisplayState, options: FigureOptions, targets: list[Path]) -> dict:
    return {"display": display.to_dict(), "figure_options": asdict(options),
            "files": {"figure": targets[0].name, "npy": targets[1].name}, "written_by": "eclip-desktop GUI"}


def _targets(out: Path, stem: str, options: FigureOptions, overwrite: bool) -> list[Path]:
    targets = artifacts.triple_targets(stem, out, FIGURE_FORMATS[options.format])
    artifacts.check_name_lengths(t.name for t in targets)
    artifacts.refuse_existing(targets, overwrite, "choose another folder or allow replacing")
    return targets


def export_map(out_dir: str | Path, image: LoadedImage, heatmap: Heatmap, pooling: str, scores: dict,
               labels: list[str], index: int, display: DisplayState, trained_with_pooling: bool,
               model_info: dict, method_options: dict, overwrite: bool = False,
               options: FigureOptions = FigureOptions(), ensemble: bool = False, tau: str = "mean",
               input_size: int | None = None) -> list[Path]:
    """Figure (options.format), raw map (.npy, float32 at the image size) and sidecar (.json), as the
    CLI names them; the sidecar is the CLI's recipe (ensemble, tau, input size included), so
    `reproduce --check` recomputes it. model_info: the model that made this map (for a family, the
    pooling's own sibling)."""
    out = ensure_writable_dir(out_dir)
    stem = artifacts.map_stem(Path(image.path).stem or "image", heatmap.method, pooling,
                              artifacts.text_slugs(labels)[heatmap.text])
    targets = _targets(out, stem, options, overwrite)
    fig = map_figure(image.rgb, heatmap, pooling, scores, index, trained_with_pooling)
    sidecar = artifacts.map_sidecar(
        image.path, image, model_info, method=heatmap.method, method_options=method_options, pooling=pooling,
        tau=tau, text=heatmap.text, index=index, labels=labels, ensemble=ensemble,
        input_size=input_size or model_info.get("model_input_size"), raw_range=heatmap.raw_range,
        normalisation=heatmap.normalisation, scores=scores,
        extra={"pooling_trained": trained_with_pooling, **_window_fields(display, options, targets),
               **heatmap.meta})
    fig = replace(fig, lines=artifacts.with_domain_line(fig.lines, sidecar))
    artifacts.write_artifacts(*targets, heatmap.values, _figure(fig, display, options), sidecar, overwrite)
    return targets


def _window_params() -> dict:
    # Imported here: core.convis imports torch, which the window must not wait for at start-up.
    from eclip_desktop.core.convis.windows import WindowParams
    return WindowParams().as_dict()


def export_convis(out_dir: str | Path, image: LoadedImage, result, display: DisplayState, model_info: dict,
                  overwrite: bool = False, options: FigureOptions = FigureOptions(),
                  concepts: list[dict] | None = None) -> list[Path]:
    """The ConVis map on screen as `concepts` names it: <stem>__convis__<synset>.{png,npy,json}.
    concepts: the dock's "concepts in this image" when the result has no listing of its own."""
    out = ensure_writable_dir(out_dir)
    stem = artifacts.convis_stem(Path(image.path).stem or "image", result.synset)
    targets = _targets(out, stem, options, overwrite)
    model = short_model_name(model_info.get("model", ""), model_info.get("pretrained", ""))
    fig = convis_figure(image.rgb, result, model, concepts)
    unknown = getattr(result, "unknown_set", "")
    sidecar = {**artifacts.base_sidecar(image.path, image, model_info, "convis"), "synset": result.synset,
               "gloss": result.gloss, "concept_set": {"name": result.set_name, "key": result.request.set_key,
                                                      "spec": result.request.set_key,
                                                      **({"hash": result.set_hash} if result.set_hash else {})},
               "algorithm": _window_params(),  # the window always runs the default geometry
               "windows": result.windows,
               "top_concepts": {"unknown_set": unknown} if unknown else (result.concepts or concepts or []),
               "support": result.support.as_json() if result.support is not None else None,
               "normalisation": "rank map, min-max to [0, 1]", **_window_fields(display, options, targets)}
    fig = replace(fig, lines=artifacts.with_domain_line(fig.lines, sidecar))
    artifacts.write_artifacts(*targets, result.values, _figure(fig, display, options), sidecar, overwrite)
    return targets


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


def tile_entry(ms, t: int, caption: list[str], values: np.ndarray | None = None) -> tuple[np.ndarray, list[str], dict]:
    """(values, caption lines, source) of one grid tile from a map set on screen; the source names the
    tile's model, weights, method, pooling and text for the grid's sidecar. values: what the tile
    draws when it is not the heatmap itself (a comparison on a shared scale)."""
    # No weights hash here (this runs on the UI thread); export_grid adds it on the I/O worker.
    meta = {**(ms.model_info or {}), "method": ms.method, "pooling": ms.pooling, "text": ms.heatmaps[t].text,
            "raw_range": [float(v) for v in ms.heatmaps[t].raw_range]}
    source = artifacts.tile_source(" \u00b7 ".join(c for c in caption if c), meta)
    return (ms.heatmaps[t].values if values is None else values), caption, source


def tile_caption(name: str, ms, t: int) -> list[str]:
    """A grid tile's caption lines, as `export --grid` writes them: what the tile is, its zero-shot
    scores, its raw range."""
    from eclip_desktop.core.export.grid_lines import raw_range_line
    from eclip_desktop.core.figures.grids import score_caption
    scores = {"cosine": ms.scores["cosine"][t], "probability": ms.scores["probability"][t]}
    return [name, score_caption(scores), raw_range_line(ms.heatmaps[t].raw_range)]


def grid_picture(image_rgb: np.ndarray, tiles, title: list[str], display: DisplayState,
                 colorbar_label: str | None = None) -> np.ndarray:
    from eclip_desktop.core.figures.grids import grid_figure
    label = {"colorbar_label": colorbar_label} if colorbar_label else {}
    return grid_figure(image_rgb, [tile[:2] for tile in tiles], cmap=display.colormap, alpha=display.opacity,
                       title_lines=title, **label)


def export_grid(out_dir: str | Path, image: LoadedImage, kind: str, tiles, title: list[str], display: DisplayState,
                model_info: dict, overwrite: bool = False, colorbar_label: str | None = None,
                colour_scale: dict | None = None, **_ignored) -> list[Path]:
    """A grid layout as `export --grid` names it: <stem>__grid-<kind>.png and a JSON sidecar naming
    every tile's model, weights, pooling, method and text (and, for the model comparison, whether
    the tiles share one colour scale)."""
    out = ensure_writable_dir(out_dir)
    stem = artifacts.grid_stem(Path(image.path).stem or "image", kind)
    targets = [out / f"{stem}.png", out / f"{stem}.json"]
    artifacts.check_name_lengths(t.name for t in targets)
    artifacts.refuse_existing(targets, overwrite, "choose another folder or allow replacing")
    sources = [tile[2] if len(tile) > 2 else artifacts.tile_source(" \u00b7 ".join(c for c in tile[1] if c),
                                                                   model_info) for tile in tiles]
    sources = [artifacts.tile_source(src["caption"], artifacts.model_provenance(src)) for src in sources]
    extra = {"display": display.to_dict(), "files": {"figure": targets[0].name}, "written_by": "eclip-desktop GUI"}
    if colour_scale:
        extra["colour_scale"] = colour_scale
    extra.update(artifacts.domain_fields(image.path, model_info))
    from eclip_desktop.core.export.grid_lines import model_line
    named = model_line([src if src.get("model") else model_info for src in sources])
    title = artifacts.with_domain_line(list(title) if named in title else [*title, named], extra)
    sidecar = artifacts.grid_sidecar(image.path, image, kind=kind, tiles=sources, title=title, extra=extra)
    artifacts.write_figure_only(targets[0], targets[1], grid_picture(image.rgb, tiles, title, display,
                                                                     colorbar_label), sidecar, overwrite)
    return targets


def export_job(path: str, sha256: str, out_dir: str, overwrite: bool, writer=None, **kw):
    """writer: export_map (default) or export_convis, called with the reloaded image and kw."""
    def run(ctx):
        image = _same_image(path, sha256)
        ctx.check()
        return (writer or export_map)(out_dir, image, overwrite=overwrite, **kw)
    return run

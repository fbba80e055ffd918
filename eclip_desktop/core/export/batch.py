"""The `export` job: many images x (texts x poolings x methods) and x synsets, resumable, indexed.

Names are those of `explain` and `concepts` (the figure's suffix follows --format; 16-bit raw maps
get `__map16.png` / `__map16.tif`). Each image is loaded and encoded once per model; the Engine's
analysis cache serves every method and pooling after that. A row whose files all exist is skipped
without loading its image, so a resumed run only pays for what is missing. One image failing is
recorded in its rows and the run goes on; a write failure (disk full, read-only) stops the run,
since every later image would fail the same way.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from eclip_desktop import __version__
from eclip_desktop.core.errors import EclipError, OutputError
from eclip_desktop.core.explain.heatmap import NORMALISATION
from eclip_desktop.core.explain.methods import get_method
from eclip_desktop.core.export.explain_job import (
    POOLING_NOTE,
    contribution_stem,
    image_stems,
    map_stem,
    text_slugs,
    title_lines,
)
from eclip_desktop.core.export.index import Row, write_index
from eclip_desktop.core.figures.grids import CLIP_GRIDS
from eclip_desktop.core.figures.panel import (
    compose_panel,
    parse_contour,
    threshold_level,
    threshold_mask,
)
from eclip_desktop.core.figures.render import annotate
from eclip_desktop.core.figures.svg import figure_svg
from eclip_desktop.core.io.atomic import (
    atomic_save_image,
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_json,
    ensure_writable_dir,
)
from eclip_desktop.core.io.imageio import image_sha256, load_image
from eclip_desktop.core.model.poolings import POOLING_LABELS

FIGURE_SUFFIX = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "svg": ".svg"}
RAW_SUFFIX = {"png16": "__map16.png", "tiff16": "__map16.tif"}  # npy is always written: it is the reference


@dataclass
class ExportRequest:
    images: list[str]
    out_dir: str
    texts: list[str] = field(default_factory=list)
    synsets: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=lambda: ["itsm"])
    poolings: list[str] = field(default_factory=lambda: ["native"])
    figure_format: str = "png"
    raw: list[str] = field(default_factory=lambda: ["npy"])
    overwrite: bool = False
    contributions: bool = True
    ensemble: bool = False
    input_size: int | None = None
    tau: str = "mean"
    cmap: str = "jet"
    alpha: float = 0.5
    method_options: dict = field(default_factory=dict)  # method -> options
    grids: list[str] = field(default_factory=list)  # grids.GRID_KINDS: one extra figure per image each
    contour: str = "none"  # figure_panel.parse_contour: none, otsu, fixed:L, percentile:P
    layout: str = "overlay"  # figure_panel.LAYOUTS: the overlay alone, or image | overlay
    width: int = 0  # px of the image panel(s) in the figure; 0: the image's own size


@dataclass
class ExportResult:
    rows: list[Row]
    cancelled: bool = False
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.rows)


def to_uint16(values: np.ndarray) -> np.ndarray:
    """round(map x 65535): the documented 16-bit encoding of a [0, 1] map."""
    return np.rint(np.clip(values, 0.0, 1.0) * 65535.0).astype(np.uint16)


def row_files(name: str, req: ExportRequest) -> list[str]:
    files = [name + FIGURE_SUFFIX[req.figure_format], name + ".npy", name + ".json"]
    return files + [name + RAW_SUFFIX[r] for r in req.raw if r in RAW_SUFFIX]


def _safe_stems(images: list[str]) -> list[str]:
    hashes = []
    for p in images:
        try:
            hashes.append(image_sha256(p))
        except EclipError:
            hashes.append("0" * 64)  # the image fails in its own rows; its name only needs to exist
    return image_stems(images, hashes)


def plan_rows(req: ExportRequest) -> list[Row]:
    """Every row of the run in a fixed order: per image, methods x poolings x texts, then contributions,
    then synsets."""
    slugs = text_slugs(req.texts)
    from eclip_desktop.core.export.concepts_job import map_stem as convis_stem
    rows = []
    for path, stem in zip(req.images, _safe_stems(req.images)):
        if req.texts:
            for m in req.methods:
                for p in req.poolings:
                    for t in req.texts:
                        rows.append(Row(path, stem, m, p, t, None, map_stem(stem, m, p, slugs[t])))
            if req.contributions:
                for p in req.poolings:
                    rows.append(Row(path, stem, "contribution", p, None, None, contribution_stem(stem, p)))
            for kind in (k for k in req.grids if k in CLIP_GRIDS):  # after the maps it is built from
                rows.append(Row(path, stem, f"grid-{kind}", None, None, None, grid_stem(stem, kind)))
        for s in req.synsets:
            rows.append(Row(path, stem, "convis", None, None, s, convis_stem(stem, s)))
        if "concept" in req.grids and req.synsets:
            rows.append(Row(path, stem, "grid-concept", None, None, None, grid_stem(stem, "concept")))
    for r in rows:
        # A grid is a single PNG whatever --format says: it is a comparison view, not a map.
        r.files = [r.name + ".png"] if r.method.startswith("grid-") else row_files(r.name, req)
    return rows


def _triage(row: Row, out: Path, overwrite: bool) -> bool:
    """True when the row must be computed; marks complete rows skipped and half-done rows failed."""
    present = [f for f in row.files if (out / f).exists()]
    if overwrite or not present:
        return True
    if len(present) == len(row.files):
        row.status = "skipped"
    else:
        missing = [f for f in row.files if f not in present]
        row.status, row.error = "failed", (f"incomplete outputs from an earlier run ({', '.join(missing)} "
                                           "missing); pass --overwrite to redo them")
    return False


def _write_row(row: Row, out: Path, req: ExportRequest, rgb, values, lines, sidecar, colorbar: str) -> None:
    t0 = time.perf_counter()
    mode, arg = parse_contour(req.contour)
    mask = threshold_mask(values, mode, fixed_level=arg, percentile=arg)
    if mask is not None:
        level = threshold_level(values, mode, fixed_level=arg, percentile=arg)
        lines = [*lines, f"outline: {mode} threshold at {level:.3f}"]
    panel = compose_panel(rgb, values, req.cmap, req.alpha, mask=mask, width=req.width, layout=req.layout)
    if req.figure_format == "svg":
        figure = figure_svg(panel, lines, cmap=req.cmap, colorbar_label=colorbar).encode("utf-8")
    else:
        figure = annotate(panel, lines, cmap=req.cmap, colorbar_label=colorbar)
    sidecar.setdefault("timings", {})["render"] = time.perf_counter() - t0
    fig, npy, js = row.files[:3]
    atomic_save_npy(out / npy, values.astype(np.float32), overwrite=req.overwrite)
    for f in row.files[3:]:
        atomic_save_image(out / f, to_uint16(values), overwrite=req.overwrite)
    if req.figure_format == "svg":
        atomic_write_bytes(out / fig, figure, overwrite=req.overwrite)
    else:
        atomic_save_image(out / fig, figure[..., :3] if req.figure_format == "jpeg" else figure,
                          overwrite=req.overwrite)
    sidecar["files"] = {"figure": fig, "npy": npy, **{k: row.name + s for k, s in RAW_SUFFIX.items()
                                                      if k in req.raw}}
    sidecar["raw16_scale"] = 65535
    sidecar["figure_options"] = {"format": req.figure_format, "layout": req.layout, "width": req.width,
                                 "contour": req.contour}
    atomic_write_json(out / js, sidecar, overwrite=req.overwrite)  # last: the sidecar says the row is done


def grid_stem(image_stem: str, kind: str) -> str:
    return f"{image_stem}__grid-{kind}"


def _grid_tiles(row: Row, req: ExportRequest) -> list[tuple[str, str, str, str]]:
    """(map name, caption, pooling, text) per tile; the names are rows of this image."""
    from eclip_desktop.core.model.poolings import short_pooling
    slugs = text_slugs(req.texts)
    kind = row.method[len("grid-"):]
    if kind == "concept":
        from eclip_desktop.core.export.concepts_job import map_stem as convis_stem
        return [(convis_stem(row.stem, s), s, None, None) for s in req.synsets]
    m, p, t = req.methods[0], req.poolings[0], req.texts[0]
    if kind == "pooling":
        return [(map_stem(row.stem, m, q, slugs[t]), short_pooling(q), q, t) for q in req.poolings]
    if kind == "method":
        return [(map_stem(row.stem, k, p, slugs[t]), get_method(k).label, p, t) for k in req.methods]
    return [(map_stem(row.stem, m, p, slugs[x]), f"\u201c{x}\u201d", p, x) for x in req.texts]


def _write_grid(row: Row, out: Path, req: ExportRequest, rgb) -> None:
    """Built from the maps' own .npy and sidecars on disk, so a resumed run (whose maps were skipped,
    not recomputed) makes the same grid as a fresh one."""
    import json

    from eclip_desktop.core.figures.grids import grid_figure, score_caption
    tiles = []
    for name, caption, p, _ in _grid_tiles(row, req):
        try:
            values = np.load(out / f"{name}.npy", allow_pickle=False)
            scores = json.loads((out / f"{name}.json").read_text(encoding="utf-8")).get("scores", {}).get(p)
        except (OSError, ValueError) as exc:
            raise EclipError(f"grid: the map {name} is missing or unreadable ({exc})") from exc
        tiles.append((values, [caption, score_caption(scores)] if p else [caption]))
    kind = row.method[len("grid-"):]
    if kind == "concept":
        from eclip_desktop.core.export.concepts_job import COLORBAR
        figure = grid_figure(rgb, tiles, cmap=req.cmap, alpha=req.alpha, colorbar_label=COLORBAR,
                             title_lines=[f"{row.stem}: one tile per concept", "ConVis"])
        atomic_save_image(out / row.files[0], figure, overwrite=req.overwrite)
        return
    fixed = {"pooling": f"{get_method(req.methods[0]).label} \u00b7 \u201c{req.texts[0]}\u201d",
             "method": f"pooling: {POOLING_LABELS.get(req.poolings[0], req.poolings[0])} \u00b7 "
                       f"\u201c{req.texts[0]}\u201d",
             "prompt": f"{get_method(req.methods[0]).label} \u00b7 pooling: "
                       f"{POOLING_LABELS.get(req.poolings[0], req.poolings[0])}"}[kind]
    figure = grid_figure(rgb, tiles, cmap=req.cmap, alpha=req.alpha,
                         title_lines=[f"{row.stem}: one tile per {kind}", fixed])
    atomic_save_image(out / row.files[0], figure, overwrite=req.overwrite)


def _clip_rows(engine_groups, req, todo, path, image, out, model_infos):
    """Maps of one image for every engine group and method that still has rows to write."""
    by_name = {r.name: r for r in todo}
    slugs = text_slugs(req.texts)
    for engine, group in engine_groups:
        info = model_infos[id(engine)]
        base = {"image": path, "image_sha256": image.sha256, "image_size": [image.width, image.height],
                **info, "input_size": req.input_size or engine.handle.image_size, "version": __version__,
                "normalisation": NORMALISATION, "colormap": req.cmap}
        contrib = [r for p in group for r in [by_name.get(contribution_stem(todo[0].stem, p))] if r]
        for m in req.methods:
            names = [map_stem(todo[0].stem, m, p, slugs[t]) for p in group for t in req.texts]
            if not any(n in by_name for n in names) and not contrib:
                continue
            options = req.method_options.get(m, {})
            exp = engine.explain(image, req.texts, method=m, poolings=group, ensemble=req.ensemble,
                                 input_size=req.input_size, tau=req.tau, method_options=options)
            label = get_method(m).label
            for t, hm in enumerate(exp.heatmaps):
                for p in group:
                    row = by_name.get(map_stem(todo[0].stem, m, p, slugs[hm.text]))
                    if row is None:
                        continue
                    hm.pooling = p
                    sidecar = {**base, "method": m, "method_options": options, "pooling": p, "tau": req.tau,
                               "text": hm.text, "text_index": t, "labels": req.texts, "ensemble": req.ensemble,
                               "scores": {q: {"cosine": s["cosine"][t], "probability": s["probability"][t]}
                                          for q, s in exp.scores.items()},
                               "label_scores": exp.scores, "raw_range": list(hm.raw_range),
                               "pooling_note": POOLING_NOTE, "timings": dict(exp.timings)}
                    yield row, hm.values, title_lines(hm, p, exp.scores[p], t, label), sidecar, \
                        "similarity (min\u2013max normalised)"
            for row in contrib:  # the contribution depends on the pooling only: from the first method run
                p = row.pooling
                sidecar = {**base, "method": "contribution", "pooling": p, "tau": req.tau, "text": None,
                           "scores": dict(exp.scores), "labels": req.texts, "timings": dict(exp.timings)}
                lines = [f"contribution of each location to the {POOLING_LABELS[p]} pooled embedding",
                         f"{info['model']} ({info['pretrained']})"]
                yield row, exp.contributions[p], lines, sidecar, "share of pooling evidence"
            contrib = []


def run_export(engines: dict, req: ExportRequest, concepts: Callable[[], object] | None = None,
               progress: Callable[[dict], None] | None = None,
               cancelled: Callable[[], bool] | None = None) -> ExportResult:
    """engines: pooling -> Engine (as family.engines_for gives); concepts: builds the ConVis context
    (report.prepare_concepts) on first need, so a resume with nothing to do never loads glosses."""
    from eclip_desktop.core.export.concepts_job import COLORBAR, image_concept_maps
    t_start = time.perf_counter()
    out = ensure_writable_dir(req.out_dir)
    rows = plan_rows(req)
    result = ExportResult(rows)
    groups: dict[int, tuple] = {}
    for p in req.poolings:
        groups.setdefault(id(engines[p]), (engines[p], []))[1].append(p)
    engine_groups = list(groups.values())
    model_infos = {id(e): e.handle.describe() for e, _ in engine_groups}
    if req.texts:
        for t in req.texts:  # a bad prompt stops the run before any image is touched
            engine_groups[0][0].texts.encode([t], ensemble=req.ensemble)
    ctx = None
    per_image: dict[str, list[Row]] = {}
    for r in rows:
        per_image.setdefault(r.image, []).append(r)
    summary = {"version": __version__, "images": len(per_image), "rows": len(rows), "finished": False}
    worked, work_s = 0, 0.0
    try:
        write_index(out, rows, summary)
        todo_images = {img: [r for r in rs if _triage(r, out, req.overwrite)] for img, rs in per_image.items()}
        pending_images = sum(bool(t) for t in todo_images.values())
        for i, (path, todo) in enumerate(todo_images.items()):
            if cancelled and cancelled():
                result.cancelled = True
                break
            t0 = time.perf_counter()
            if todo:
                try:
                    image = load_image(path)
                    clip_todo = [r for r in todo if r.method != "convis" and not r.method.startswith("grid-")]
                    if clip_todo:
                        for row, values, lines, sidecar, bar in _clip_rows(engine_groups, req, clip_todo, path,
                                                                         image, out, model_infos):
                            _write_row(row, out, req, image.rgb, values, lines, sidecar, bar)
                            row.status = "ok"
                    convis_todo = {r.synset: r for r in todo if r.method == "convis"}
                    if convis_todo:
                        ctx = ctx or concepts()
                        for synset, values, lines, sidecar in image_concept_maps(ctx, path, image,
                                                                                 list(convis_todo)):
                            _write_row(convis_todo[synset], out, req, image.rgb, values, lines, sidecar, COLORBAR)
                            convis_todo[synset].status = "ok"
                    for row in (r for r in todo if r.method.startswith("grid-")):
                        _write_grid(row, out, req, image.rgb)
                        row.status = "ok"
                except OutputError as exc:
                    for r in todo:
                        if r.status == "pending":
                            r.status, r.error = "failed", str(exc)
                    raise
                except EclipError as exc:
                    for r in todo:
                        if r.status == "pending":
                            r.status, r.error = "failed", str(exc)
                worked += 1
                work_s += time.perf_counter() - t0
            if progress:
                left = pending_images - worked
                progress({"done": i + 1, "total": len(todo_images), "image": path,
                          "written": sum(r.status == "ok" for r in todo),
                          "skipped": sum(r.status == "skipped" for r in per_image[path]),
                          "failed": sum(r.status == "failed" for r in per_image[path]),
                          "seconds": time.perf_counter() - t0,
                          "eta_s": (work_s / worked * left) if worked else None})
            write_index(out, rows, summary)
        summary["finished"] = not result.cancelled
    finally:
        result.seconds = time.perf_counter() - t_start
        summary["seconds"] = result.seconds
        summary["counts"] = {s: result.count(s) for s in ("ok", "skipped", "failed", "pending")}
        try:
            write_index(out, rows, summary)
        except OutputError:
            pass  # the error that stopped the run is the one to report
    return result

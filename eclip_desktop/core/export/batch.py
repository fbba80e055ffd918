"""The `export` job: many images x (texts x poolings x methods) and x synsets, resumable, indexed.

Names are those of `explain` and `concepts` (the figure's suffix follows --format; 16-bit raw maps
get `__map16.png` / `__map16.tif`; a grid is `__grid-KIND.png` with its own `.json`). Each image is
loaded and encoded once per model; the Engine's analysis cache serves every method and pooling.

Resume trusts content and provenance, not names (docs/EXPORT.md). A row is *complete* when its
sidecar parses, every file of the row loads (the .npy is float32 of the image's size and finite,
figures decode) and the sidecar matches the request: image SHA-256, model, weights (tag, or file
and its SHA-256), method and its options, pooling, tau, ensemble, input size, the exact text and
label set, and the figure options. Complete rows are skipped without loading their image. A row
whose sidecar is missing or unreadable was interrupted (the sidecar is written last): it is redone
without --overwrite, since nothing in it is a result. A complete row of another request (another
model, text, image, option) is *stale*: it is refused with the reason, never replaced without
--overwrite. One image failing is recorded in its rows and the run goes on; a write failure (disk
full, read-only) stops the run, since every later image would fail the same way.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from eclip_desktop import __version__
from eclip_desktop.core.errors import EclipError, OutputError
from eclip_desktop.core.explain.heatmap import NORMALISATION
from eclip_desktop.core.explain.methods import get_method
from eclip_desktop.core.export.artifacts import (
    CONTRIBUTION_COLORBAR,
    MAP_COLORBAR,
    POOLING_NOTE,
    check_finite,
    check_name_lengths,
    contribution_stem,
    convis_stem,
    grid_sidecar,
    grid_stem,
    image_stems,
    map_sidecar,
    map_stem,
    model_provenance,
    text_slugs,
    tile_source,
    with_domain_line,
    write_artifacts,
    write_figure_only,
)
from eclip_desktop.core.export.explain_job import contribution_parts, title_lines
from eclip_desktop.core.export.index import Row, write_index
from eclip_desktop.core.export.resume import figure_options, triage
from eclip_desktop.core.export.shards import Shard, merge_rows
from eclip_desktop.core.figures.grids import CLIP_GRIDS
from eclip_desktop.core.figures.panel import (
    compose_panel,
    parse_contour,
    threshold_level,
    threshold_mask,
)
from eclip_desktop.core.figures.render import DEFAULT_COLORMAP, annotate
from eclip_desktop.core.figures.svg import figure_svg
from eclip_desktop.core.io.atomic import ensure_writable_dir
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
    cmap: str = DEFAULT_COLORMAP
    alpha: float = 0.5
    method_options: dict = field(default_factory=dict)  # method -> options
    grids: list[str] = field(default_factory=list)  # grids.GRID_KINDS: one extra figure per image each
    contour: str = "none"  # figure_panel.parse_contour: none, otsu, fixed:L, percentile:P
    layout: str = "overlay"  # figure_panel.LAYOUTS: the overlay alone, or image | overlay
    width: int = 0  # px of the image panel(s) in the figure; 0: the image's own size
    # ConVis settings resume must match (mode, seed, concept_set spec) when given; the CLI gives them.
    convis_options: dict = field(default_factory=dict)


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


def _image_hashes(images: list[str]) -> list[str]:
    hashes = []
    for p in images:
        try:
            hashes.append(image_sha256(p))
        except EclipError:
            hashes.append("")  # the image fails in its own rows; its name only needs to exist
    return hashes


def plan_rows(req: ExportRequest, hashes: list[str] | None = None) -> list[Row]:
    """Every row of the run in a fixed order: per image, methods x poolings x texts, then contributions,
    then synsets."""
    slugs = text_slugs(req.texts)
    hashes = _image_hashes(req.images) if hashes is None else hashes
    rows = []
    for path, stem in zip(req.images, image_stems(req.images, [h or "0" * 64 for h in hashes])):
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
        # A grid is a single PNG whatever --format says (a comparison view, not a map), with its sidecar.
        r.files = [r.name + ".png", r.name + ".json"] if r.method.startswith("grid-") else row_files(r.name, req)
    return rows


def _write_row(row: Row, out: Path, req: ExportRequest, rgb, values, lines, sidecar, colorbar: str,
               overwrite: bool) -> None:
    check_finite(values, sidecar, row.name)  # before rendering: a NaN map must not reach the colormap
    t0 = time.perf_counter()
    lines = with_domain_line(lines, sidecar)
    row.out_of_domain = sidecar.get("out_of_domain")
    row.uniform = bool(sidecar.get("uniform"))
    mode, arg = parse_contour(req.contour)
    mask = threshold_mask(values, mode, fixed_level=arg, percentile=arg)
    if mask is not None:
        level = threshold_level(values, mode, fixed_level=arg, percentile=arg)
        lines = [*lines, f"outline: {mode} threshold at {level:.3f}"]
    panel = compose_panel(rgb, values, req.cmap, req.alpha, mask=mask, width=req.width, layout=req.layout)
    if req.figure_format == "svg":
        figure = figure_svg(panel, lines, cmap=req.cmap, colorbar_label=colorbar).encode("utf-8")
    elif req.figure_format == "jpeg":
        figure = annotate(panel, lines, cmap=req.cmap, colorbar_label=colorbar)[..., :3]
    else:
        figure = annotate(panel, lines, cmap=req.cmap, colorbar_label=colorbar)
    sidecar.setdefault("timings", {})["render"] = time.perf_counter() - t0
    fig, npy, js = row.files[:3]
    sidecar["files"] = {"figure": fig, "npy": npy, **{k: row.name + s for k, s in RAW_SUFFIX.items()
                                                      if k in req.raw}}
    sidecar["raw16_scale"] = 65535
    sidecar["figure_options"] = figure_options(req)
    sidecar["alpha"] = req.alpha
    write_artifacts(out / fig, out / npy, out / js, values, figure, sidecar, overwrite,
                    raw16=[out / f for f in row.files[3:]])


def _grid_tiles(row: Row, req: ExportRequest) -> list[tuple[str, str, str, str]]:
    """(map name, caption, pooling, text) per tile; the names are rows of this image."""
    from eclip_desktop.core.model.poolings import short_pooling
    slugs = text_slugs(req.texts)
    kind = row.method[len("grid-"):]
    if kind == "concept":
        return [(convis_stem(row.stem, s), s, None, None) for s in req.synsets]
    m, p, t = req.methods[0], req.poolings[0], req.texts[0]
    if kind == "pooling":
        return [(map_stem(row.stem, m, q, slugs[t]), short_pooling(q), q, t) for q in req.poolings]
    if kind == "method":
        return [(map_stem(row.stem, k, p, slugs[t]), get_method(k).label, p, t) for k in req.methods]
    return [(map_stem(row.stem, m, p, slugs[x]), f"\u201c{x}\u201d", p, x) for x in req.texts]


def _write_grid(row: Row, out: Path, req: ExportRequest, image, overwrite: bool) -> None:
    """Built from the maps' own .npy and sidecars on disk, so a resumed run (whose maps were skipped,
    not recomputed) makes the same grid as a fresh one; its sidecar names each tile's source."""
    from eclip_desktop.core.export.grid_lines import model_line, tile_lines
    from eclip_desktop.core.export.sidecar_schema import read_sidecar_json
    from eclip_desktop.core.figures.grids import grid_figure
    from eclip_desktop.core.io.guards import load_npy
    tiles, sources, domain, metas = [], [], {}, []
    for name, caption, p, _ in _grid_tiles(row, req):
        try:
            meta = read_sidecar_json(out / f"{name}.json")  # a regular file, its fields typed, before the map
            w, h = meta.get("image_size") or (image.width, image.height)
            values = load_npy(out / f"{name}.npy", EclipError, max_items=max(w * h, 1))
            scores = meta.get("scores", {}).get(p) if isinstance(meta.get("scores"), dict) else None
        except EclipError as exc:
            raise EclipError(f"grid: the map {name} is missing or unreadable ({exc})") from exc
        tiles.append((values, tile_lines(caption, meta, scores if p else None)))
        sources.append(tile_source(caption, meta, name))
        metas.append(meta)
        domain = meta if meta.get("out_of_domain") else domain
    kind = row.method[len("grid-"):]
    if kind == "concept":
        from eclip_desktop.core.export.concepts_job import COLORBAR
        title = with_domain_line([f"{row.stem}: one tile per concept", f"ConVis \u00b7 {model_line(metas)}"], domain)
        figure = grid_figure(image.rgb, tiles, cmap=req.cmap, alpha=req.alpha, colorbar_label=COLORBAR,
                             title_lines=title)
    else:
        fixed = {"pooling": f"{get_method(req.methods[0]).label} \u00b7 \u201c{req.texts[0]}\u201d",
                 "method": f"pooling: {POOLING_LABELS.get(req.poolings[0], req.poolings[0])} \u00b7 "
                           f"\u201c{req.texts[0]}\u201d",
                 "prompt": f"{get_method(req.methods[0]).label} \u00b7 pooling: "
                           f"{POOLING_LABELS.get(req.poolings[0], req.poolings[0])}"}[kind]
        title = with_domain_line([f"{row.stem}: one tile per {kind}", fixed, model_line(metas)], domain)
        figure = grid_figure(image.rgb, tiles, cmap=req.cmap, alpha=req.alpha, title_lines=title)
    sidecar = grid_sidecar(row.image, image, kind=kind, tiles=sources, title=title,
                           extra={"colormap": req.cmap, "alpha": req.alpha, "files": {"figure": row.files[0]},
                                  "written_by": "eclip-desktop export", "out_of_domain": bool(domain),
                                  **({"out_of_domain_reason": domain["out_of_domain_reason"]} if domain else {})})
    row.out_of_domain = bool(domain)
    write_figure_only(out / row.files[0], out / row.files[1], figure, sidecar, overwrite)


def _clip_rows(engine_groups, req, todo, path, image, out, model_infos):
    """Maps of one image for every engine group and method that still has rows to write."""
    by_name = {r.name: r for r in todo}
    slugs = text_slugs(req.texts)
    for engine, group in engine_groups:
        info = model_infos[id(engine)]
        input_size = req.input_size or engine.handle.image_size
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
                    hm = replace(hm, pooling=p)
                    sidecar = map_sidecar(path, image, info, method=m, method_options=options, pooling=p,
                                          tau=req.tau, text=hm.text, index=t, labels=req.texts,
                                          ensemble=req.ensemble, input_size=input_size, raw_range=hm.raw_range,
                                          normalisation=NORMALISATION, scores_by_pooling=exp.scores,
                                          colormap=req.cmap,
                                          extra={"pooling_note": POOLING_NOTE, "timings": dict(exp.timings), **hm.meta})
                    yield row, hm.values, title_lines(hm, p, exp.scores[p], t, label), sidecar, MAP_COLORBAR
            for row in contrib:  # the contribution depends on the pooling only: from the first method run
                lines, sidecar = contribution_parts(path, image, info, row.pooling, req, input_size, exp)
                yield row, exp.contributions[row.pooling], lines, sidecar, CONTRIBUTION_COLORBAR
            contrib = []


def run_export(engines: dict, req: ExportRequest, concepts: Callable[[], object] | None = None,
               progress: Callable[[dict], None] | None = None,
               cancelled: Callable[[], bool] | None = None, shard: Shard | None = None,
               note: Callable[[str], None] | None = None) -> ExportResult:
    """The export below, holding its output folder (core/export/lock.py): a second export into the
    same folder refuses instead of interleaving rows; under torchrun the leader holds it for the launch."""
    from contextlib import nullcontext

    from eclip_desktop.core.export.lock import export_lock
    shard = shard or Shard()
    with export_lock(req.out_dir, note) if shard.leader else nullcontext():
        # The other ranks start only once the leader holds the folder: a folder another export holds
        # stops the whole launch (the leader's refusal, named) before any rank writes a row.
        shard.wait_all("export-locked")
        return _run_export(engines, req, concepts, progress, cancelled, shard)


def _run_export(engines: dict, req: ExportRequest, concepts: Callable[[], object] | None = None,
                progress: Callable[[dict], None] | None = None,
                cancelled: Callable[[], bool] | None = None, shard: Shard | None = None) -> ExportResult:
    """engines: pooling -> Engine (as family.engines_for gives); concepts: builds the ConVis context
    (report.prepare_concepts) on first need, so a resume with nothing to do never loads glosses.
    shard: under torchrun, this rank's part (core/export/shards.py): it works the images it owns,
    rank 0 alone writes the index and reports progress, and the rows of every rank are merged at the end."""
    from eclip_desktop.core.export.concepts_job import COLORBAR, image_concept_maps
    t_start = time.perf_counter()
    hashes = _image_hashes(req.images)
    rows = plan_rows(req, hashes)
    # Names too long for the file system fail here, before the index or any map is written.
    check_name_lengths(f for r in rows for f in r.files)
    out = ensure_writable_dir(req.out_dir)
    sha = dict(zip(req.images, hashes))
    result = ExportResult(rows)
    groups: dict[int, tuple] = {}
    for p in req.poolings:
        groups.setdefault(id(engines[p]), (engines[p], []))[1].append(p)
    engine_groups = list(groups.values())
    model_infos = {id(e): model_provenance(e.handle.describe()) for e, _ in engine_groups}
    models = {p: model_infos[id(engines[p])] for p in req.poolings}
    if req.texts:
        for t in req.texts:  # a bad prompt stops the run before any image is touched
            engine_groups[0][0].texts.encode([t], ensemble=req.ensemble)
    ctx = None
    per_image: dict[str, list[Row]] = {}
    for r in rows:
        per_image.setdefault(r.image, []).append(r)
    summary = {"version": __version__, "images": len(per_image), "rows": len(rows), "finished": False}
    worked, work_s = 0, 0.0
    shard = shard or Shard()
    owned = {img for img in per_image if shard.owns(sha[img] or img)}
    try:
        if shard.leader:
            write_index(out, rows, summary)
        redo: set[str] = set()
        todo_images = {img: [r for r in rs if triage(r, out, req, sha[img], models, redo)]
                       for img, rs in per_image.items() if img in owned}
        for rs in todo_images.values():
            # A grid is drawn from its maps: when one of them is (re)computed the grid follows.
            names = {r.name for r in rs}
            for r in per_image[rs[0].image] if rs else []:
                if r.method.startswith("grid-") and r.status != "failed" and r not in rs and \
                        any(n in names for n, *_ in _grid_tiles(r, req)):
                    rs.append(r)
                    redo.add(r.name)
                    r.status = "pending"
        pending_images = sum(bool(t) for t in todo_images.values())
        for i, (path, todo) in enumerate(todo_images.items()):
            if (cancelled and cancelled()) or shard.failure():
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
                            _write_row(row, out, req, image.rgb, values, lines, sidecar, bar,
                                       req.overwrite or row.name in redo)
                            row.status = "ok"
                    convis_todo = {r.synset: r for r in todo if r.method == "convis"}
                    if convis_todo:
                        ctx = ctx or concepts()
                        for synset, values, lines, sidecar in image_concept_maps(ctx, path, image,
                                                                                 list(convis_todo)):
                            row = convis_todo[synset]
                            _write_row(row, out, req, image.rgb, values, lines, sidecar, COLORBAR,
                                       req.overwrite or row.name in redo)
                            convis_todo[synset].status = "ok"
                    for row in (r for r in todo if r.method.startswith("grid-")):
                        _write_grid(row, out, req, image, req.overwrite or row.name in redo)
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
            done = shard.add_done() if shard.sharded else i + 1
            if progress and shard.leader:
                left = pending_images - worked
                progress({"done": done, "total": len(per_image), "image": path,
                          "written": sum(r.status == "ok" for r in todo),
                          "skipped": sum(r.status == "skipped" for r in per_image[path]),
                          "failed": sum(r.status == "failed" for r in per_image[path]),
                          "seconds": time.perf_counter() - t0,
                          "eta_s": (work_s / worked * left) if worked else None})
            if shard.leader:
                write_index(out, rows, summary)
        if shard.sharded:
            result.cancelled = merge_rows(shard, rows, owned, result.cancelled, progress)
        summary["finished"] = not result.cancelled
    except EclipError as exc:
        shard.fail(str(exc))  # the other ranks stop at their next image, naming this rank
        raise
    finally:
        result.seconds = time.perf_counter() - t_start
        summary["seconds"] = result.seconds
        summary["counts"] = {s: result.count(s) for s in ("ok", "skipped", "failed", "pending")}
        try:
            if shard.leader:
                write_index(out, rows, summary)
        except OutputError:
            pass  # the error that stopped the run is the one to report
    return result

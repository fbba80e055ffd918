"""The `explain` job: images x texts (x poolings) -> annotated PNG, raw .npy map, JSON sidecar.

File names (deterministic, documented in docs/CLI.md):
  <stem>__<method>__<pooling>__<text-slug>.{png,npy,json}   one map per image, text and pooling
  <stem>__contribution__<pooling>.{png,npy,json}           where that pooling takes its evidence
<stem> is the image file's stem; when two inputs share a stem, each gets '-<first 8 of sha256>'.
<text-slug> is the text in lowercase ASCII and dashes; a text with other punctuation or capitals than
'words' or 'words.', and texts whose slugs collide, get '-<sha1 8>' (core/export/artifacts.py).
Inputs are checked and every target is planned before anything is written; each file is written
atomically, so a failure leaves complete files or none.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from eclip_desktop.core.errors import CancelledError, OutputError
from eclip_desktop.core.explain.heatmap import NORMALISATION, Heatmap
from eclip_desktop.core.explain.methods import get_method
from eclip_desktop.core.export.artifacts import (  # noqa: F401  (names other modules import from here)
    CONTRIBUTION_COLORBAR,
    MAP_COLORBAR,
    POOLING_NOTE,
    check_name_lengths,
    contribution_sidecar,
    contribution_stem,
    image_stems,
    map_sidecar,
    map_stem,
    refuse_existing,
    text_slugs,
    triple_targets,
    write_triple,
)
from eclip_desktop.core.figures.render import DEFAULT_COLORMAP, short_model_name
from eclip_desktop.core.io.atomic import ensure_writable_dir
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model.poolings import POOLING_LABELS, expand_poolings


@dataclass
class ExplainRequest:
    images: list[str]
    texts: list[str]
    out_dir: str
    method: str = "itsm"
    poolings: list[str] = field(default_factory=lambda: ["native"])
    ensemble: bool = False
    input_size: int | None = None
    tau: str = "mean"
    cmap: str = DEFAULT_COLORMAP
    alpha: float = 0.5
    overwrite: bool = False
    method_options: dict = field(default_factory=dict)


def title_lines(hm: Heatmap, pooling: str, score: dict | None, index: int, method_label: str) -> list[str]:
    lines = [f"\u201c{hm.text}\u201d" if hm.text else method_label,
             f"{short_model_name(hm.model, hm.pretrained)} \u00b7 {method_label} "
             f"\u00b7 pooling: {POOLING_LABELS.get(pooling, pooling)}"]
    if score is not None:
        lines.append(f"zero-shot: p = {score['probability'][index]:.3f}, cos = {score['cosine'][index]:.3f} "
                     f"\u00b7 raw map range [{hm.raw_range[0]:.3f}, {hm.raw_range[1]:.3f}]")
    return lines


def planned_stems(req: ExplainRequest, stems: list[str], poolings: list[str]) -> list[str]:
    slugs = text_slugs(req.texts)
    planned = []
    for stem in stems:
        planned += [map_stem(stem, req.method, p, slugs[t]) for p in poolings for t in req.texts]
        planned += [contribution_stem(stem, p) for p in poolings]
    return planned


def _refuse_existing(req: ExplainRequest, stems, poolings, out: Path) -> None:
    planned = planned_stems(req, stems, poolings)
    # Two inputs that are one file (explain a.png a.png) would write the same names twice: the second
    # write would fail 'exists' after the first had written, so it is refused before any write.
    seen = set()
    for s in planned:
        if s in seen:
            raise OutputError(f"two outputs would be named {s}: an image is given twice "
                              "(each image once, please)")
        seen.add(s)
    check_name_lengths(f"{s}.json" for s in planned)
    refuse_existing([t for s in planned for t in triple_targets(s, out)], req.overwrite)


UNIFORM_NOTE = ("uniform: every location contributes equally; the .npy is all zeros because a constant map "
                "has no range to stretch to [0, 1]")


def contribution_parts(path: str, image, model_info: dict, pooling: str, req, input_size: int,
                       exp) -> tuple[list[str], dict]:
    """Title lines and sidecar of a contribution map (where `pooling` takes its evidence), for explain
    and batch export alike. req: anything with tau, texts and cmap."""
    sidecar = contribution_sidecar(path, image, model_info, pooling=pooling, tau=req.tau, labels=req.texts,
                                   input_size=input_size, normalisation=NORMALISATION, scores=dict(exp.scores),
                                   colormap=req.cmap, extra={"timings": dict(exp.timings)})
    lines = [f"contribution of each location to the {POOLING_LABELS[pooling]} pooled embedding",
             short_model_name(model_info["model"], model_info["pretrained"])]
    values = exp.contributions[pooling]
    if values.size and float(values.max()) == float(values.min()):
        # A constant map has no range to stretch: the .npy is all zeros, which must not read as "nowhere".
        sidecar.update(uniform=True, uniform_note=UNIFORM_NOTE)
        lines.append("uniform: every location contributes equally (the map is flat)")
    else:
        sidecar["uniform"] = False
    return lines, sidecar


def check_targets(req: ExplainRequest) -> None:
    """Refuses before any work if an output of the whole request exists (without overwrite), an
    image is given twice, or a name is too long for the file system."""
    from eclip_desktop.core.io.imageio import image_sha256
    hashes = [image_sha256(p) for p in req.images]
    _refuse_existing(req, image_stems(req.images, hashes), expand_poolings(req.poolings), Path(req.out_dir))


def run_explain(engine, req: ExplainRequest, progress: Callable[[int, int, str], None] | None = None,
                cancelled: Callable[[], bool] | None = None, loaded: list | None = None) -> list[dict]:
    """Runs the job; returns the sidecars written. Raises EclipError subclasses on bad input.
    loaded: the request's images already decoded (LoadedImage, same order), so a caller that checked
    them, or runs one job per family sibling, decodes each image once."""
    method = get_method(req.method)
    poolings = expand_poolings(req.poolings)
    out = ensure_writable_dir(req.out_dir)
    for t in req.texts:
        engine.texts.encode([t], ensemble=req.ensemble)  # validates every prompt before any work
    # Every image must decode before anything is written.
    images = list(loaded) if loaded is not None else [load_image(p) for p in req.images]
    stems = image_stems(req.images, [im.sha256 for im in images])
    slugs = text_slugs(req.texts)
    _refuse_existing(req, stems, poolings, out)
    records = []
    model_info = engine.handle.describe()
    input_size = req.input_size or engine.handle.image_size
    for i, (path, image, stem) in enumerate(zip(req.images, images, stems)):
        if cancelled and cancelled():
            raise CancelledError(f"cancelled after {i} of {len(images)} images")
        t0 = time.perf_counter()
        exp = engine.explain(image, req.texts, method=req.method, poolings=poolings, ensemble=req.ensemble,
                             input_size=req.input_size, tau=req.tau, method_options=req.method_options)
        for t, hm in enumerate(exp.heatmaps):
            for p in poolings:
                hm = replace(hm, pooling=p)
                sidecar = map_sidecar(path, image, model_info, method=req.method,
                                      method_options=req.method_options, pooling=p, tau=req.tau, text=hm.text,
                                      index=t, labels=req.texts, ensemble=req.ensemble, input_size=input_size,
                                      raw_range=hm.raw_range, normalisation=NORMALISATION,
                                      scores_by_pooling=exp.scores, colormap=req.cmap,
                                      extra={"pooling_note": POOLING_NOTE, "timings": dict(exp.timings), **hm.meta})
                records.append(write_triple(map_stem(stem, req.method, p, slugs[hm.text]), out, image.rgb,
                                            hm.values, title_lines(hm, p, exp.scores[p], t, method.label),
                                            sidecar, req.cmap, req.alpha, MAP_COLORBAR, req.overwrite))
        for p in poolings:
            lines, sidecar = contribution_parts(path, image, model_info, p, req, input_size, exp)
            records.append(write_triple(contribution_stem(stem, p), out, image.rgb, exp.contributions[p],
                                        lines, sidecar, req.cmap, req.alpha, CONTRIBUTION_COLORBAR, req.overwrite))
        if progress:
            progress(i + 1, len(images), f"{path}: {len(req.texts)} text(s) x {len(poolings)} pooling(s) "
                                         f"in {time.perf_counter() - t0:.2f} s")
    return records

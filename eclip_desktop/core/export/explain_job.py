"""The `explain` job: images x texts (x poolings) -> annotated PNG, raw .npy map, JSON sidecar.

File names (deterministic, documented in docs/CLI.md):
  <stem>__<method>__<pooling>__<text-slug>.{png,npy,json}   one map per image, text and pooling
  <stem>__contribution__<pooling>.{png,npy,json}           where that pooling takes its evidence
<stem> is the image file's stem; when two inputs share a stem, each gets '-<first 8 of sha256>'.
<text-slug> is the text in lowercase ASCII and dashes; texts whose slugs collide get '-<sha1 8>'.
Inputs are checked and every target is planned before anything is written; each file is written
atomically, so a failure leaves complete files or none.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from eclip_desktop import __version__
from eclip_desktop.core.errors import CancelledError, OutputError
from eclip_desktop.core.explain.heatmap import NORMALISATION, Heatmap
from eclip_desktop.core.explain.methods import get_method
from eclip_desktop.core.figures.render import annotate, overlay
from eclip_desktop.core.io.atomic import (
    atomic_save_image,
    atomic_save_npy,
    atomic_write_json,
    ensure_writable_dir,
    slugify,
)
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model.poolings import POOLING_LABELS, expand_poolings

POOLING_NOTE = ("this model was trained with one pooling; switching the pooling readout changes the "
                "zero-shot scores and the contribution map, not the ITSM (that needs a model trained "
                "with that pooling)")


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
    cmap: str = "jet"
    alpha: float = 0.5
    overwrite: bool = False
    method_options: dict = field(default_factory=dict)


def image_stems(paths: list[str], hashes: list[str]) -> list[str]:
    stems = [Path(p).stem or "image" for p in paths]
    counts = Counter(stems)
    return [f"{s}-{h[:8]}" if counts[s] > 1 else s for s, h in zip(stems, hashes)]


def text_slugs(texts: list[str]) -> dict[str, str]:
    """Slug per text; texts of one label set whose slugs collide ('A dog', 'a dog!') get a hash."""
    slugs = {t: slugify(t) for t in texts}
    counts = Counter(slugs.values())
    return {t: f"{s}-{hashlib.sha1(t.encode()).hexdigest()[:8]}" if counts[s] > 1 else s
            for t, s in slugs.items()}


def map_stem(image_stem: str, method: str, pooling: str, slug: str) -> str:
    return f"{image_stem}__{method}__{pooling}__{slug}"


def contribution_stem(image_stem: str, pooling: str) -> str:
    return f"{image_stem}__contribution__{pooling}"


def triple_targets(stem: str, out: Path) -> list[Path]:
    return [out / f"{stem}{ext}" for ext in (".png", ".npy", ".json")]


def title_lines(hm: Heatmap, pooling: str, score: dict | None, index: int, method_label: str) -> list[str]:
    lines = [f"\u201c{hm.text}\u201d" if hm.text else method_label,
             f"{hm.model} ({hm.pretrained}) \u00b7 {method_label} \u00b7 pooling: {POOLING_LABELS.get(pooling, pooling)}"]
    if score is not None:
        lines.append(f"zero-shot: p = {score['probability'][index]:.3f}, cos = {score['cosine'][index]:.3f} "
                     f"\u00b7 raw map range [{hm.raw_range[0]:.3f}, {hm.raw_range[1]:.3f}]")
    return lines


def write_triple(stem: str, out: Path, rgb: np.ndarray, values: np.ndarray, lines: list[str],
                  sidecar: dict, cmap: str, alpha: float, colorbar_label: str, overwrite: bool) -> dict:
    t0 = time.perf_counter()
    figure = annotate(overlay(rgb, values, cmap=cmap, alpha=alpha), lines, cmap=cmap,
                      colorbar_label=colorbar_label)
    render_s = time.perf_counter() - t0
    png, npy, js = triple_targets(stem, out)
    atomic_save_npy(npy, values.astype(np.float32), overwrite=overwrite)
    atomic_save_image(png, figure, overwrite=overwrite)
    sidecar["files"] = {"png": png.name, "npy": npy.name}
    sidecar["timings"]["render"] = render_s
    atomic_write_json(js, sidecar, overwrite=overwrite)
    return sidecar


def _refuse_existing(req: ExplainRequest, stems, slugs, poolings, out: Path) -> None:
    if req.overwrite:
        return
    for stem in stems:
        planned = [map_stem(stem, req.method, p, slugs[t]) for p in poolings for t in req.texts]
        planned += [contribution_stem(stem, p) for p in poolings]
        for s in planned:
            for target in triple_targets(s, out):
                if target.exists():
                    raise OutputError(f"{target} exists; pass --overwrite to replace it")


def check_targets(req: ExplainRequest) -> None:
    """Refuses before any work if an output of the whole request exists (without overwrite)."""
    from eclip_desktop.core.io.imageio import image_sha256
    hashes = [image_sha256(p) for p in req.images]
    _refuse_existing(req, image_stems(req.images, hashes), text_slugs(req.texts),
                     expand_poolings(req.poolings), Path(req.out_dir))


def run_explain(engine, req: ExplainRequest, progress: Callable[[int, int, str], None] | None = None,
                cancelled: Callable[[], bool] | None = None) -> list[dict]:
    """Runs the job; returns the sidecars written. Raises EclipError subclasses on bad input."""
    method = get_method(req.method)
    poolings = expand_poolings(req.poolings)
    out = ensure_writable_dir(req.out_dir)
    for t in req.texts:
        engine.texts.encode([t], ensemble=req.ensemble)  # validates every prompt before any work
    images = [load_image(p) for p in req.images]  # every image must decode before anything is written
    stems = image_stems(req.images, [im.sha256 for im in images])
    slugs = text_slugs(req.texts)
    _refuse_existing(req, stems, slugs, poolings, out)
    records = []
    model_info = engine.handle.describe()
    for i, (path, image, stem) in enumerate(zip(req.images, images, stems)):
        if cancelled and cancelled():
            raise CancelledError(f"cancelled after {i} of {len(images)} images")
        t0 = time.perf_counter()
        exp = engine.explain(image, req.texts, method=req.method, poolings=poolings, ensemble=req.ensemble,
                             input_size=req.input_size, tau=req.tau, method_options=req.method_options)
        base = {"image": path, "image_sha256": image.sha256, "image_size": [image.width, image.height],
                **model_info, "input_size": req.input_size or engine.handle.image_size,
                "version": __version__, "normalisation": NORMALISATION, "colormap": req.cmap}
        for t, hm in enumerate(exp.heatmaps):
            for p in poolings:
                hm.pooling = p
                sidecar = {**base, "method": req.method, "method_options": req.method_options,
                           "pooling": p, "tau": req.tau, "text": hm.text, "text_index": t,
                           "labels": req.texts, "ensemble": req.ensemble,
                           "scores": {q: {"cosine": s["cosine"][t], "probability": s["probability"][t]}
                                      for q, s in exp.scores.items()},
                           "label_scores": exp.scores, "raw_range": list(hm.raw_range),
                           "pooling_note": POOLING_NOTE, "timings": dict(exp.timings)}
                records.append(write_triple(map_stem(stem, req.method, p, slugs[hm.text]), out, image.rgb,
                                             hm.values, title_lines(hm, p, exp.scores[p], t, method.label),
                                             sidecar, req.cmap, req.alpha,
                                             "similarity (min\u2013max normalised)", req.overwrite))
        for p in poolings:
            sidecar = {**base, "method": "contribution", "pooling": p, "tau": req.tau, "text": None,
                       "scores": {q: s for q, s in exp.scores.items()}, "labels": req.texts,
                       "timings": dict(exp.timings)}
            lines = [f"contribution of each location to the {POOLING_LABELS[p]} pooled embedding",
                     f"{model_info['model']} ({model_info['pretrained']})"]
            records.append(write_triple(contribution_stem(stem, p), out, image.rgb, exp.contributions[p],
                                         lines, sidecar, req.cmap, req.alpha, "share of pooling evidence",
                                         req.overwrite))
        if progress:
            progress(i + 1, len(images), f"{path}: {len(req.texts)} text(s) x {len(poolings)} pooling(s) "
                                         f"in {time.perf_counter() - t0:.2f} s")
    return records

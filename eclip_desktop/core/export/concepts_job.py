"""The `concepts` job: images x synsets -> annotated PNG, .npy map and JSON sidecar, as `explain` writes.

File names: ``<stem>__convis__<synset>.{png,npy,json}``; ``<stem>`` as in
``explain`` (disambiguated by hash when two inputs share one).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from eclip_desktop.core.convis.engine import ConVis
from eclip_desktop.core.convis.support import unknown_set_reason
from eclip_desktop.core.convis.windows import WindowParams
from eclip_desktop.core.errors import CancelledError, OutputError
from eclip_desktop.core.export.artifacts import (
    base_sidecar,
    check_name_lengths,
    convis_stem,
    image_stems,
    refuse_existing,
    triple_targets,
    write_triple,
)
from eclip_desktop.core.export.shards import Shard
from eclip_desktop.core.figures.render import DEFAULT_COLORMAP, short_model_name

METHOD = "convis"


@dataclass
class ConceptsRequest:
    images: list[str]
    synsets: list[str]
    out_dir: str
    concept_set_spec: str = "default"
    top_k: int = 10
    seed: int = 0
    mode: str = "grid"
    cmap: str = DEFAULT_COLORMAP
    alpha: float = 0.5
    overwrite: bool = False


def map_stem(image_stem: str, synset: str) -> str:
    return convis_stem(image_stem, synset)


def plan_concepts(req: ConceptsRequest, images) -> list[str]:
    """The stems to write, refusing up front if any target exists (without overwrite)."""
    stems = image_stems(req.images, [im.sha256 for im in images])
    out = Path(req.out_dir)
    planned = [map_stem(stem, s) for stem in stems for s in req.synsets]
    if len(set(planned)) < len(planned):
        raise OutputError("two outputs would have one name: an image is given twice (each image once, please)")
    check_name_lengths(f"{s}.json" for s in planned)
    refuse_existing([t for s in planned for t in triple_targets(s, out)], req.overwrite)
    return stems


COLORBAR = "concept rank (min\u2013max, inverted)"
TOP_IN_TITLE = 5


def top_concepts_line(top: dict) -> str:
    """The figure's line for the sidecar's `top_concepts`: the first few by map mass, or why there are none."""
    if top.get("unknown_set"):
        return "concepts in this image: not listed (the model does not know this concept set)"
    names = [r.get("synset", "") for r in (top.get("by_mass") or [])[:TOP_IN_TITLE] if isinstance(r, dict)]
    return f"concepts in this image (by map mass): {', '.join(n for n in names if n)}" if any(names) else ""


@dataclass
class ConceptsContext:
    """What every image of a run shares: the ConVis engine, its gloss bank and the set's identity."""
    convis: ConVis
    hierarchy: object
    req: ConceptsRequest
    params: WindowParams
    model_info: dict
    set_info: dict
    bank_info: dict
    bank_s: float
    progress: Callable[[int, int, str], None] | None = None  # builds on first need (the support reference)


def prepare_concepts(handle, hierarchy, concept_set, req: ConceptsRequest,
                     progress: Callable[[int, int, str], None] | None = None,
                     cancelled: Callable[[], bool] | None = None) -> ConceptsContext:
    convis = ConVis(handle, hierarchy, concept_set)
    t0 = time.perf_counter()
    bank = convis.gloss_bank(progress=(lambda d, n: progress(d, n, "glosses")) if progress else None,
                             cancelled=cancelled)
    set_info = {"name": concept_set.name, "spec": req.concept_set_spec, "size": len(concept_set),
                "hash": concept_set.content_hash}
    return ConceptsContext(convis, hierarchy, req, WindowParams(seed=req.seed, mode=req.mode), handle.describe(),
                           set_info, {"from_cache": bank.from_cache, "file": str(bank.path) if bank.path else None},
                           time.perf_counter() - t0, progress)


def image_concept_maps(ctx: ConceptsContext, path: str, image, synsets: list[str],
                       progress=None, cancelled=None, extra_timings: dict | None = None):
    """Yields (synset, map values, title lines, sidecar) for one image; shared by `concepts` and `export`
    so that both write the same maps and sidecars."""
    convis, req, params, model_info = ctx.convis, ctx.req, ctx.params, ctx.model_info
    t1 = time.perf_counter()
    rm = convis.rank_matrix(image, params, progress, cancelled)
    ranks_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    concept_set = convis.concept_set
    unknown = unknown_set_reason(model_info, concept_set)
    if unknown:  # a listing from a set the model cannot know would mislead: say why instead
        top = {"unknown_set": unknown}
    else:
        present = convis.concepts_in_image(image, req.top_k, params)
        top = {"rule": present["rule"], "by_mass": present["by_mass"], "by_rank": present["by_rank"],
               "by_image_embedding": convis.explain_embedding(image, req.top_k)}
    listing_s = time.perf_counter() - t2
    for synset in synsets:
        cmap = convis.map_from_ranks(rm, synset)
        t3 = time.perf_counter()
        support = convis.support(rm, synset, progress or ctx.progress, cancelled)
        support_s = time.perf_counter() - t3
        gloss = ctx.hierarchy.gloss(synset)
        sidecar = {
            **base_sidecar(path, image, model_info, METHOD), "synset": synset, "gloss": gloss,
            "concept_set": ctx.set_info,
            "top_concepts": top,
            "support": support.as_json(),
            "algorithm": {**params.as_dict(), "windows_encoded": int(len(rm.boxes)),
                          "crop_box": list(cmap.crop_box), "outside_crop": 0.0,
                          "subtree_size": int(len(convis.columns(synset)))},
            "gloss_bank": ctx.bank_info,
            "timings": {**(extra_timings or {}), "gloss_bank": ctx.bank_s, "windows": ranks_s,
                        "concept_map": cmap.seconds, "concept_listing": listing_s, "support_test": support_s},
            "colormap": req.cmap,
        }
        lines = [f"{synset}: {gloss}",  # the title block wraps a long gloss
                 f"{short_model_name(model_info['model'], model_info['pretrained'])} \u00b7 ConVis \u00b7 concept set "
                 f"'{concept_set.name}' ({len(concept_set)} synsets)",
                 f"support: {support.verdict()}"]
        if unknown:
            lines.append(f"concept set unknown to the model: {unknown}")
        elif top_concepts_line(top):
            lines.append(top_concepts_line(top))
        yield synset, cmap.values, lines, sidecar


def run_concepts(handle, hierarchy, concept_set, req: ConceptsRequest, images,
                 progress: Callable[[int, int, str], None] | None = None,
                 cancelled: Callable[[], bool] | None = None, extra_timings: dict | None = None,
                 shard: Shard | None = None) -> list[dict]:
    """shard: under torchrun, this rank maps the images it owns (core/export/shards.py); every rank
    checks every target first, and none writes before all have."""
    shard = shard or Shard()
    stems = plan_concepts(req, images)
    shard.wait_all("concepts-planned")
    out = Path(req.out_dir)
    ctx = prepare_concepts(handle, hierarchy, concept_set, req, progress, cancelled)
    records = []
    for path, image, stem in zip(req.images, images, stems):
        if not shard.owns(image.sha256):
            continue
        if cancelled and cancelled():
            raise CancelledError(f"cancelled after {len(records)} maps")
        for synset, values, lines, sidecar in image_concept_maps(ctx, path, image, req.synsets, progress,
                                                                 cancelled, extra_timings):
            records.append(write_triple(map_stem(stem, synset), out, image.rgb, values, lines, sidecar,
                                         req.cmap, req.alpha, COLORBAR, req.overwrite))
    return records

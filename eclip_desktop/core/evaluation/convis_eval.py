"""`eclip-desktop eval --method convis | ood`: the ConVis validations of METHODS §5-6.

Three protocols (docs/CONVIS.md, "Evaluation"):

- Shapes World (``--dataset shapes[:N[:SEED]] --method convis``): per (scene, present shape) the
  ConVis map of the shape's own synset against the union mask of that shape: pointing game, mSC
  and mIoU through ExplainabilityMeter, exactly as the ITSM rows. Hierarchy consistency: on
  two-object scenes of seed SEED + 2 holding one polygon and one curve, the map of
  ``polygon.n.01`` must put more mean mass on the polygon's mask than on the curve's.
- CUB-200-2011 (``--dataset cub:DIR --method convis``): MaxBoxAcc of the concept's map
  (``bird.n.01`` by default) against the bird boxes.
- OOD (``--dataset imagefolder:DIR --method ood --in-synset S``): AUROC of two scores of the
  whole-image embedding: cosine with the gloss of S ("root") and the max cosine over the glosses
  of S's leaves inside the concept set ("leaves"). In-distribution images are those of the class
  folders named by ``--in-class`` (default: a folder named like S or its first lemma).

Everything here is cheap to check before a model loads (``plan_convis_eval``) and then runs on
one or more model handles (``run_convis_eval``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from eclip_desktop.core.convis.sets import resolve_in_set
from eclip_desktop.core.convis.support import LEVEL as SUPPORT_LEVEL
from eclip_desktop.core.convis.windows import WindowParams
from eclip_desktop.core.errors import ConceptError, DatasetError
from eclip_desktop.core.evaluation.metrics import (
    ExplainabilityMeter,
    MaxBoxAccMeter,
    auroc,
)
from eclip_desktop.core.export.shards import Shard

# The drawn shapes WordNet files under polygon.n.01 and under conic_section.n.01. The star is
# neither in WordNet (star.n.05 hangs off plane_figure.n.01) and is left out of the check.
POLYGON_SHAPES = ("triangle", "square", "rectangle", "pentagon", "hexagon")
CURVE_SHAPES = ("circle", "ellipse")
POLYGON_SYNSET = "polygon.n.01"
# Seeds next to the held-out one: SEED is the map scenes, SEED + 1 the ITSM zero-shot scenes,
# SEED + 2 the hierarchy scenes, so no scene is scored twice.
HIERARCHY_SEED_OFFSET = 2
# Scenes are cheap to draw, encoding is not: draw up to this many per wanted pair (about a third
# of two-object scenes hold one polygon and one curve).
_HIERARCHY_TRIES = 20
DEFAULT_CUB_SYNSET = "bird.n.01"
# The paper's Algorithm 1 geometry; the tests swap in a 64 px layout for the tiny model.
DEFAULT_PARAMS = WindowParams()

SHAPES_COLUMNS = ["pooling", "model", "concept_set", "miou_fg", "theta_fg", "miou_mean", "msc", "pointing",
                  "bg_preferred", "n", "hierarchy", "n_hierarchy", "support_present", "support_absent", "n_support", "n_untested"]
CUB_COLUMNS = ["pooling", "model", "concept_set", "synset", "maxboxacc", "best_theta", "n"]
OOD_COLUMNS = ["pooling", "model", "concept_set", "synset", "auroc_root", "auroc_leaves", "n_leaves", "n_in",
               "n_out"]


# ----------------------------------------------------------------------------- hierarchy consistency


def mask_means(saliency, mask_a, mask_b) -> tuple[float, float]:
    """Mean map value inside each of two masks (bool, the map's shape); NaN for an empty mask."""
    m = np.asarray(saliency, np.float64)
    out = []
    for name, mask in (("mask_a", mask_a), ("mask_b", mask_b)):
        g = np.asarray(mask, bool)
        if g.shape != m.shape:
            raise ValueError(f"{name} has shape {g.shape} but the map has shape {m.shape}")
        out.append(float(m[g].mean()) if g.any() else float("nan"))
    return out[0], out[1]


class HierarchyMeter:
    """Fraction of (polygon, curve) scenes where the polygon.n.01 map is brighter on the polygon.

    Strictly greater: a map that does not tell the two apart (equal means) is not consistent.
    Scenes where either object has no visible pixel are not scored.
    """

    def __init__(self):
        self.n = 0
        self.consistent = 0
        self.margins: list[float] = []

    def add(self, polygon_map, polygon_mask, curve_mask) -> bool | None:
        return self.add_means(*mask_means(polygon_map, polygon_mask, curve_mask))

    def add_means(self, on_polygon: float, on_curve: float) -> bool | None:
        """One scene given as the map's means on its polygon and on its curve (mask_means)."""
        if not (np.isfinite(on_polygon) and np.isfinite(on_curve)):
            return None
        ok = on_polygon > on_curve
        self.n += 1
        self.consistent += int(ok)
        self.margins.append(on_polygon - on_curve)
        return bool(ok)

    def summary(self) -> dict:
        nan = float("nan")
        return {"hierarchy": self.consistent / self.n if self.n else nan, "n_hierarchy": self.n,
                "hierarchy_margin": float(np.mean(self.margins)) if self.margins else nan}


def hierarchy_scenes(count: int, seed: int, size: int) -> Iterator[tuple[object, np.ndarray, np.ndarray]]:
    """(image, polygon mask, curve mask) of up to `count` two-object scenes with one of each."""
    from eclip_desktop.core.evaluation.evaluate import loaded_image
    from eclip_desktop.core.shapes import generate_scene
    found = 0
    for i in range(count * _HIERARCHY_TRIES):
        if found >= count:
            return
        scene = generate_scene(seed, i, size=size, n_objects=(2, 2))
        polys = [o for o in scene.objects if o.shape in POLYGON_SHAPES]
        curves = [o for o in scene.objects if o.shape in CURVE_SHAPES]
        if len(polys) != 1 or len(curves) != 1 or not polys[0].mask.any() or not curves[0].mask.any():
            continue
        found += 1
        yield loaded_image(scene.image, f"shapes:{seed}:{i}"), polys[0].mask, curves[0].mask


# ----------------------------------------------------------------------------- OOD scores


def subtree_leaves(concept_set, synset: str) -> list[str]:
    """Members of the synset's subtree with no child in the set (the synset itself if it has none)."""
    return [s for s in concept_set.subtree(synset) if not concept_set.children.get(s)]


def ood_scores(convis, image, synset: str) -> tuple[float, float]:
    """(cosine with the synset's gloss, max cosine over its leaves' glosses) of the whole image."""
    emb = convis.image_embedding(image)
    bank = convis.gloss_bank().embeddings
    idx = convis.concept_set.index
    leaves = [idx[s] for s in subtree_leaves(convis.concept_set, synset)]
    return float(bank[idx[synset]] @ emb), float((bank[leaves] @ emb).max())


# ----------------------------------------------------------------------------- plan (no model)


@dataclass
class ConvisPlan:
    """Everything checked before a model loads: the dataset, the concept set and the synset."""

    kind: str
    method: str
    dataset: str
    concept_set: object
    synset: str | None = None
    count: int = 0
    seed: int = 0
    data: object = None  # EvalDataset (cub) or [(path, class)] (imagefolder)
    in_classes: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def default_concept_set_name(dataset: str) -> str:
    # The shapes set holds every Shapes World synset and polygon.n.01 and encodes in a blink; CUB
    # and ImageNet-style folders need real-world nouns.
    return "shapes" if dataset.strip().lower().split(":")[0] in ("shapes", "gen", "gen2") else "default"




def plan_convis_eval(dataset: str, method: str, hierarchy, concept_set, synset: str | None = None,
                     in_classes: list[str] | None = None, limit: int | None = None) -> ConvisPlan:
    from eclip_desktop.core.evaluation.datasets import (
        load_cub,
        load_imagefolder,
        parse_dataset_arg,
    )
    kind, arg = parse_dataset_arg(dataset)
    if limit is not None and limit < 1:
        raise DatasetError(f"--limit must be a positive whole number, got {limit}")
    resolved = hierarchy.resolve(synset) if synset else None
    if method == "convis" and kind in ("shapes", "gen", "gen2"):
        from eclip_desktop.core.shapes import class_names, synset_for
        if resolved:
            raise ConceptError("--synset does not apply to Shapes World: each shape is mapped with its own synset")
        for name in class_names():
            resolve_in_set(hierarchy, [synset_for(name)], concept_set, concept_set.name, f"the {name} synset")
        count = min(arg["count"], limit) if limit else arg["count"]
        scenes = ("Shapes World held-out scenes (1-3 objects)" if kind == "shapes" else
                  f"{'the generalisation suite' if kind == 'gen' else 'the second generalisation suite'} (1-3 objects)")
        return ConvisPlan(kind, method, dataset, concept_set, count=count, seed=arg["seed"], meta={
            "protocol": f"{scenes}, ConVis map of each present shape's synset; support: every Shapes World class "
                        f"tested per scene (present vs absent, level {SUPPORT_LEVEL}); hierarchy: {POLYGON_SYNSET} on "
                        f"two-object polygon+curve Shapes World scenes of seed {arg['seed'] + HIERARCHY_SEED_OFFSET}",
            "scenes": count, "seed": arg["seed"]})
    if method == "convis" and kind == "cub":
        resolved = resolved or DEFAULT_CUB_SYNSET
        resolve_in_set(hierarchy, [resolved], concept_set, concept_set.name, "--synset")
        data = load_cub(arg, limit=limit)
        return ConvisPlan(kind, method, dataset, concept_set, synset=resolved, data=data, meta={
            "protocol": f"CUB-200-2011 ({data.meta.get('split')}), MaxBoxAcc of the {resolved} map "
                        "(largest 4-connected component, box IoU >= 0.5, theta 0..0.99)",
            "images": len(data), "skipped": len(data.skipped)})
    if method == "ood" and kind == "imagefolder":
        if not resolved:
            raise ConceptError("--method ood needs --in-synset, the concept of the in-distribution class")
        resolve_in_set(hierarchy, [resolved], concept_set, concept_set.name, "--in-synset")
        items = load_imagefolder(arg)
        folders = sorted({c for _, c in items})
        wanted = list(in_classes or []) or [c for c in folders if c in (resolved, resolved.split(".")[0])]
        if not wanted:
            raise DatasetError(f"no class folder of {arg} is named {resolved} or {resolved.split('.')[0]}; "
                               "name the in-distribution folder(s) with --in-class")
        missing = [c for c in wanted if c not in folders]
        if missing:
            raise DatasetError(f"--in-class {missing[0]}: no class folder with images of that name in {arg} "
                               f"(folders: {', '.join(folders)})")
        if not set(folders) - set(wanted):
            raise DatasetError(f"every class folder of {arg} is in-distribution; OOD needs at least one other")
        if limit:
            per_class: dict[str, int] = {}
            kept = []
            for path, c in items:  # a plain head would keep only the first folders
                per_class[c] = per_class.get(c, 0) + 1
                if per_class[c] <= limit:
                    kept.append((path, c))
            items = kept
        return ConvisPlan(kind, method, dataset, concept_set, synset=resolved, data=items, in_classes=wanted,
                          meta={"protocol": f"OOD AUROC, in = folder(s) {', '.join(wanted)}, out = the others; "
                                            f"scores: cosine of the whole image with the gloss of {resolved} "
                                            "(root) and max over its leaves' glosses (leaves)",
                                "in_classes": wanted, "images": len(items)})
    if method == "ood":
        raise DatasetError(f"--method ood reads imagefolder:DIR datasets, not {kind}")
    raise DatasetError(f"--method convis reads shapes, gen, gen2 or cub:DIR datasets, not {kind}")


# ----------------------------------------------------------------------------- runs (per model)


def _convis_for(handle, plan: ConvisPlan, hierarchy, cache_dir=None):
    from eclip_desktop.core.convis.engine import ConVis
    return ConVis(handle, hierarchy, plan.concept_set, cache_dir=cache_dir)


def evaluate_convis_shapes(convis, count: int, seed: int, params: WindowParams | None = None,
                           progress: Callable[[int], None] | None = None, kind: str = "shapes",
                           shard: Shard | None = None) -> dict:
    """Maps of each present shape, and the support test of every class per scene: support_present is the
    share of present shapes called supported, support_absent the share of absent ones not called so.
    shard: under torchrun, this rank's scenes; every rank adds every scene's scores in the scenes' order."""
    from eclip_desktop.core.evaluation.evaluate import synthetic_items
    from eclip_desktop.core.shapes import class_names, synset_for
    params = params or DEFAULT_PARAMS
    shard = shard or Shard()
    size = convis.handle.image_size
    meter = ExplainabilityMeter()
    seen = 0
    confusion = {"present": [0, 0], "absent": [0, 0]}  # [supported, not supported]
    untested = 0
    records = []
    for i, it in enumerate(synthetic_items(kind, count, seed, size=size)):
        if not shard.owns(it.image.sha256):
            continue  # a ConVis map is one image's windows: any split gives the same numbers
        rm = convis.rank_matrix(it.image, params)  # one window pass serves every shape of the scene
        pairs = [meter.measure(convis.map_from_ranks(rm, synset_for(name)).values, mask, it.ignore)
                 for name, mask in it.masks.items()]
        tests = []
        for name in class_names():
            support = convis.support(rm, synset_for(name))
            # not testable (e.g. a set too small for the level): counted apart
            tests.append(None if support.reason else ("present" if name in it.masks else "absent",
                                                      0 if support.supported else 1))
        records.append((i, (pairs, tests)))
        seen += 1
        if progress:
            progress(seen)
    for pairs, tests in shard.collect(records, "convis-scenes"):
        for pair in pairs:
            meter.add_measured(pair)
        for test in tests:
            if test is None:
                untested += 1
            else:
                confusion[test[0]][test[1]] += 1
    row = meter.summary()
    (tp, fn), (fp, tn) = confusion["present"], confusion["absent"]
    row.update({"support_present": tp / (tp + fn) if tp + fn else None,  # None: nothing could be tested
                "support_absent": tn / (tn + fp) if tn + fp else None,
                "n_support": tp + fn + fp + tn, "n_untested": untested, "support_confusion": {"present_supported": tp,
                                                                      "present_not": fn, "absent_supported": fp,
                                                                      "absent_not": tn}})
    hier = HierarchyMeter()
    if POLYGON_SYNSET in convis.concept_set:
        means = [(i, mask_means(convis.concept_map(image, POLYGON_SYNSET, params).values, poly, curve))
                 for i, (image, poly, curve) in enumerate(hierarchy_scenes(count, seed + HIERARCHY_SEED_OFFSET, size))
                 if shard.owns(image.sha256)]
        for on_polygon, on_curve in shard.collect(means, "convis-hierarchy"):
            hier.add_means(on_polygon, on_curve)
    row.update(hier.summary())
    return row


def evaluate_convis_cub(convis, data, synset: str, params: WindowParams | None = None,
                        progress: Callable[[int], None] | None = None, shard: Shard | None = None) -> dict:
    from eclip_desktop.core.io.imageio import image_sha256, load_image
    params = params or DEFAULT_PARAMS
    shard = shard or Shard()
    meter = MaxBoxAccMeter()
    seen = 0
    for sample in data:
        if shard.sharded and not shard.owns(image_sha256(sample.image_path)):
            continue
        cmap = convis.concept_map(load_image(sample.image_path), synset, params)
        meter.add(cmap.values, [b for boxes in sample.boxes.values() for b in boxes])
        seen += 1
        if progress:
            progress(seen)
    if shard.sharded:  # hits per threshold are counts: their sum over ranks is exact
        parts, meter = shard.collect([(shard.rank, meter.counts())], "convis-cub"), MaxBoxAccMeter()
        for hits, n in parts:
            meter.add_counts(hits, n)
    res = meter.result()
    return {"synset": synset, "maxboxacc": res["maxboxacc"], "best_theta": res["best_theta"], "n": res["n"],
            "curve": res["curve"]}


def evaluate_ood(convis, items: list[tuple[str, str]], in_classes: list[str], synset: str,
                 progress: Callable[[int], None] | None = None, shard: Shard | None = None) -> dict:
    from eclip_desktop.core.io.imageio import image_sha256, load_image
    shard = shard or Shard()
    scores = []
    for i, (path, cls) in enumerate(items, 1):
        if shard.sharded and not shard.owns(image_sha256(path)):
            continue
        scores.append((i, (*ood_scores(convis, load_image(path), synset), cls)))
        if progress:
            progress(len(scores))
    root_in, root_out, leaf_in, leaf_out = [], [], [], []
    for root, leaf, cls in shard.collect(scores, "ood"):  # the one-process order of the scores
        if cls in in_classes:
            root_in.append(root)
            leaf_in.append(leaf)
        else:
            root_out.append(root)
            leaf_out.append(leaf)
    return {"synset": synset, "auroc_root": auroc(root_in, root_out), "auroc_leaves": auroc(leaf_in, leaf_out),
            "n_leaves": len(subtree_leaves(convis.concept_set, synset)), "n_in": len(root_in),
            "n_out": len(root_out)}


def run_convis_eval(plan: ConvisPlan, handles: dict, hierarchy, params: WindowParams | None = None,
                    cache_dir=None, progress: Callable[[int], None] | None = None, shard: Shard | None = None) -> dict:
    """One row per entry of `handles` (label -> ModelHandle); the label fills the pooling column.
    shard: under torchrun, this rank's images (core/export/shards.py); every rank returns the whole job's rows."""
    rows = []
    for label, handle in handles.items():
        t0 = time.perf_counter()
        convis = _convis_for(handle, plan, hierarchy, cache_dir)
        if plan.kind in ("shapes", "gen", "gen2"):
            row = evaluate_convis_shapes(convis, plan.count, plan.seed, params, progress, kind=plan.kind, shard=shard)
        elif plan.kind == "cub":
            row = evaluate_convis_cub(convis, plan.data, plan.synset, params, progress, shard=shard)
        else:
            row = evaluate_ood(convis, plan.data, plan.in_classes, plan.synset, progress, shard=shard)
        rows.append({"pooling": label, "model": handle.spec.architecture, "weights": handle.weights,
                     "concept_set": plan.concept_set.name, **row, "seconds": time.perf_counter() - t0})
    columns = {"shapes": SHAPES_COLUMNS, "gen": SHAPES_COLUMNS, "gen2": SHAPES_COLUMNS, "cub": CUB_COLUMNS,
               "imagefolder": OOD_COLUMNS}[plan.kind]
    return {"dataset": plan.dataset, "method": plan.method, **plan.meta,
            "concept_set": {"name": plan.concept_set.name, "size": len(plan.concept_set),
                            "hash": plan.concept_set.content_hash},
            "algorithm": (params or DEFAULT_PARAMS).as_dict() if plan.method == "convis" else None,
            "columns": columns, "rows": rows}

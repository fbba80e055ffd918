"""Recompute a ConVis map from its sidecar (`reproduce`): the synset, the window geometry with the
noise border's seed (`algorithm`) and the concept set (`concept_set`: its spec and content hash) are
the recipe; the model is read as for a CLIP map.
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np

from eclip_desktop.core.errors import EclipError

MAX_SIDE = 4096  # canvas size and padding: the CLI never writes more than the paper's 224 + 2 x 128
MAX_WINDOWS = 50_000  # the paper's grid has 730; a sidecar asking for millions would run for days


def validate_convis(meta: dict, path: Path) -> dict:
    """The ConVis fields reproduce reads, checked before any work; returns the window parameters,
    the synset and the concept set's spec and hash."""
    from eclip_desktop.core.convis.windows import WindowParams, window_boxes

    def bad(field: str, why: str) -> EclipError:
        return EclipError(f"{path}: field '{field}' {why}")

    synset = meta.get("synset")
    if not isinstance(synset, str) or not synset.strip():
        raise bad("synset", "must name the mapped synset (e.g. circle.n.01)")
    algorithm = meta.get("algorithm")
    if not isinstance(algorithm, dict):
        raise bad("algorithm", "is missing; it records the windows and the noise seed the map was made with")
    known = {f.name for f in fields(WindowParams)}
    args = {k: v for k, v in algorithm.items() if k in known}
    for key in ("windows", "size_range"):
        if isinstance(args.get(key), list):
            args[key] = tuple(args[key])
    for key in ("size", "pad", "stride", "seed", "coarse_stride", "n_random"):
        if key in args and not (isinstance(args[key], int) and not isinstance(args[key], bool)):
            raise bad(f"algorithm.{key}", f"is {args[key]!r}; it must be a whole number")
    if any(not isinstance(w, int) or isinstance(w, bool) for w in args.get("windows", ())):
        raise bad("algorithm.windows", "must be a list of window sides in px")
    if args.get("size", 224) > MAX_SIDE or args.get("pad", 128) > MAX_SIDE:
        raise bad("algorithm", f"asks for a canvas over {MAX_SIDE} px")
    try:
        params = WindowParams(**args)
        count = len(window_boxes(params)) if params.mode == "grid" else params.n_random
    except (TypeError, ValueError) as exc:
        raise bad("algorithm", str(exc)) from None
    if count > MAX_WINDOWS:
        raise bad("algorithm", f"asks for {count:,} windows (at most {MAX_WINDOWS:,})")
    cs = meta.get("concept_set")
    if not isinstance(cs, dict) or not isinstance(cs.get("spec") or cs.get("name"), str) \
            or not isinstance(cs.get("hash"), str):
        raise bad("concept_set", "must record the set's spec (or name) and content hash")
    return {"params": params, "synset": synset.strip(), "set_spec": cs.get("spec") or cs["name"],
            "set_hash": cs["hash"]}


def convis_map(image, v: dict, spec, resolve) -> np.ndarray:
    """The map the sidecar describes. `spec`: the ModelSpec; `resolve`: a relative path -> the file
    beside the sidecar (a concept file given as a path)."""
    from eclip_desktop.core.convis.engine import ConVis
    from eclip_desktop.core.convis.sets import NAMED_SETS, concept_set_by_name
    from eclip_desktop.core.model.loading import load_model
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy

    hierarchy = Hierarchy()
    set_spec = v["set_spec"]
    concept_set = concept_set_by_name(hierarchy, set_spec if set_spec in (*NAMED_SETS, "all-nouns") else str(resolve(set_spec)))
    if concept_set.content_hash != v["set_hash"]:
        raise EclipError(f"the concept set '{set_spec}' is not the one the map was made with (its content hash "
                         "differs: another WordNet or an edited concept file)")
    if v["synset"] not in concept_set:
        raise EclipError(f"{v['synset']} is not in the concept set '{set_spec}'")
    convis = ConVis(load_model(spec), hierarchy, concept_set)
    return convis.concept_map(image, v["synset"], v["params"]).values.astype(np.float32)

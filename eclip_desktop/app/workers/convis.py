"""The ConVis job: one synset's concept map of the current image, on the worker that owns the model.

Qt-free like compute.py. The ConVis object (its gloss bank and cached rank matrices) lives in the
WorkerState next to the engines, so a second synset on the same image is a column lookup of
milliseconds, and only the first use of a (model, concept set) pays for encoding every gloss.
The Hierarchy and concept set come from the WordNet dock's service, which builds them under a lock.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace

import numpy as np

from eclip_desktop.app.state import ModelChoice
from eclip_desktop.app.views.display import preview
from eclip_desktop.app.workers.compute import (
    PREVIEW_SIDE,
    Context,
    ImageView,
    with_cpu_fallback,
)
from eclip_desktop.core.errors import CancelledError, ConceptError

TOP_CONCEPTS = 15


@dataclass(frozen=True)
class ConVisRequest:
    path: str
    model: ModelChoice
    pooling: str  # picks the family sibling; a single model ignores it
    synset: str
    set_key: str  # the WordNet dock's concept set
    with_concepts: bool = True  # the listing is skipped when the dock already shows this image's
    top_k: int = TOP_CONCEPTS

    def context(self) -> tuple:
        """What makes the rank matrix (and so the concept listing) differ; the synset does not."""
        return (self.path, self.model.spec(self.pooling), self.set_key)


@dataclass
class ConVisResult:
    request: ConVisRequest
    image: ImageView
    synset: str
    gloss: str
    values: np.ndarray  # full size, [0, 1]
    preview: np.ndarray
    set_name: str
    windows: int
    concepts: list[dict] | None  # by map mass: synset, gloss, mass, best_rank
    notices: list[str] = field(default_factory=list)  # e.g. the fall-back to the CPU
    final: bool = True  # False: the coarse preview (stride-32 windows) sent while the rest is encoded
    best_rank: int = -1  # the concept's best rank over the windows (0 = first of the set)
    set_size: int = 0
    top_share: float = -1.0  # share of windows ranking the concept (or its subtree) in the set's top 1 %
    chance: float = 0.0  # that share if the ranks were random, for a subtree of its size

    def support(self) -> float:
        """How strongly the image supports the concept: the share of windows that rank it in the top
        1 % of the set (see top_share); compare with `chance`."""
        return max(self.top_share, 0.0)

    def support_text(self) -> str:
        if self.top_share < 0:
            return ""
        ratio = self.top_share / max(self.chance, 1e-9)
        if self.chance >= 0.5:
            verdict = "its subtree covers much of the set, so the map says little"
        elif ratio >= 5 and self.top_share >= 0.05:
            verdict = "strong support"
        elif ratio >= 2:
            verdict = "some support"
        else:
            verdict = "no better than chance \u2014 probably absent; the map stretches noise"
        return (f"in the set\u2019s top 1 % in {self.top_share:.0%} of windows (chance {self.chance:.0%}; "
                f"best rank {self.best_rank + 1:,} of {self.set_size:,}): {verdict}")


def support_figures(ranks: np.ndarray, set_size: int, subtree: int) -> tuple[float, float]:
    """(share of windows with rank in the top 1 % of the set, that share for random ranks).

    A single best window says little: over 730 overlapping windows some window ranks almost any
    concept high by chance, and a concept with a large subtree takes the best rank of all its
    members. The share of windows, against its chance level, separates present from absent."""
    k = max(1, math.ceil(0.01 * set_size))
    share = float((np.asarray(ranks) < k).mean()) if np.asarray(ranks).size else 0.0
    chance = 1.0 - (1.0 - k / max(set_size, 1)) ** max(subtree, 1)
    return share, chance


def cancel_check(ctx: Context):
    """The core asks "stop?" as a callable; the worker's answer is whether check() raises."""
    def stop() -> bool:
        try:
            ctx.check()
        except CancelledError:
            return True
        return False
    return stop


def _convis_map(ctx: Context, req: ConVisRequest, hierarchy, concept_set, image, view) -> ConVisResult:
    from eclip_desktop.core.convis.engine import ConVis
    from eclip_desktop.core.convis.windows import window_boxes
    spec = req.model.spec(req.pooling)
    handle = ctx.state.engine(spec, ctx).handle
    key = (spec, req.set_key, concept_set.content_hash)
    cv = ctx.state.convis.get(key)
    if cv is None:
        cv = ConVis(handle, hierarchy, concept_set)
        ctx.state.remember_convis(key, cv)
    stop = cancel_check(ctx)
    n = len(concept_set)
    subtree = len(cv.columns(req.synset))  # the concept's map takes the best rank over these columns

    def bank_progress(done: int, total: int) -> None:
        # Only a bank that is not on disk yet reports: say why it is slow, once per batch.
        ctx.progress(f"ConVis: encoding {done:,}/{total:,} glosses of \u2018{concept_set.name}\u2019 "
                     f"(first use of this model and concept set; big models take minutes)")

    cv.gloss_bank(bank_progress, stop)

    def window_progress(done: int, total: int, _what: str) -> None:
        ctx.progress(f"ConVis: {os.path.basename(req.path)}: windows {done}/{total} against {n:,} concepts")

    # Coarse to fine: the windows on the stride-32 grid first, so a map is on screen after a
    # fraction of the work; the final matrix is exactly the single-pass one.
    rm = None
    for rm in cv.iter_ranks(image, None, window_progress, stop, coarse_first=True):
        if len(rm.boxes) < len(window_boxes(rm.params)):
            coarse = cv.map_from_ranks(rm, req.synset, final=False)
            share, chance = support_figures(coarse.window_scores, n, subtree)
            ctx.partial(ConVisResult(req, view, req.synset, hierarchy.gloss(req.synset), coarse.values,
                                     preview(coarse.values, PREVIEW_SIDE), concept_set.name, coarse.windows,
                                     None, final=False, best_rank=int(coarse.window_scores.min()), set_size=n,
                                     top_share=share, chance=chance))
    ctx.check()
    cm = cv.map_from_ranks(rm, req.synset)
    concepts = None
    if req.with_concepts:
        ctx.progress("ConVis: concepts in this image \u2026")
        concepts = cv.concepts_in_image(image, req.top_k)["by_mass"]
    share, chance = support_figures(cm.window_scores, n, subtree)
    return ConVisResult(req, view, req.synset, hierarchy.gloss(req.synset), cm.values,
                        preview(cm.values, PREVIEW_SIDE), concept_set.name, cm.windows, concepts,
                        best_rank=int(cm.window_scores.min()), set_size=n, top_share=share, chance=chance)


def convis_job(req: ConVisRequest, service):
    def run(ctx: Context) -> ConVisResult:
        hierarchy, concept_set = service.convis_inputs(req.set_key, ctx)
        if req.synset not in concept_set:
            raise ConceptError(f"ConVis: {req.synset} is not in the concept set \u2018{concept_set.name}\u2019; "
                               f"choose a set that has it.")
        ctx.progress(f"ConVis: reading {os.path.basename(req.path)} \u2026")
        image, view = ctx.state.image(req.path)

        def work(choice: ModelChoice) -> ConVisResult:
            return _convis_map(ctx, replace(req, model=choice), hierarchy, concept_set, image, view)

        # On a GPU out-of-memory error the windows run again on the CPU; the result then carries
        # the CPU model in its request, which is what the window switches to.
        result, _used, notices = with_cpu_fallback(ctx, req.model, work)
        result.notices = notices
        return result
    return run

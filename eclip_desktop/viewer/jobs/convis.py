"""The ConVis job: one synset's concept map of the current image, on the worker that owns the model.

Qt-free like compute.py. The ConVis object (its gloss bank and cached rank matrices) lives in the
WorkerState next to the engines, so a second synset on the same image is a column lookup of
milliseconds, and only the first use of a (model, concept set) pays for encoding every gloss.
The Hierarchy and concept set come from the WordNet dock's service, which builds them under a lock.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from eclip_desktop.core.errors import CancelledError, ConceptError
from eclip_desktop.viewer.display import preview
from eclip_desktop.viewer.jobs.compute import (
    PREVIEW_SIDE,
    Context,
    ImageView,
    with_cpu_fallback,
)
from eclip_desktop.viewer.state import ModelChoice

if TYPE_CHECKING:  # core.convis imports torch, which the window must not wait for at start
    from eclip_desktop.core.convis.support import Support

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
    support: Support | None = None  # the support test (core/convis/support.py); None for the coarse preview
    unknown_set: str = ""  # why the model cannot know this concept set (then no concepts are listed)
    set_hash: str = ""  # the concept set's content hash: with the window geometry, what `reproduce` needs

    def support_text(self) -> str:
        if self.support is None:
            return ""
        text = f"{self.support.verdict()} \u2014 best rank {self.best_rank + 1:,} of {self.set_size:,}"
        if not self.support.reason and self.support.null_kind == "reference":
            text += f" (null: the concept on {self.support.samples} reference scenes without it)"
        elif not self.support.reason:
            text += f" (null: {self.support.samples} random sets of {self.support.subtree} concept(s))"
        return text


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
            ctx.partial(ConVisResult(req, view, req.synset, hierarchy.gloss(req.synset), coarse.values,
                                     preview(coarse.values, PREVIEW_SIDE), concept_set.name, coarse.windows,
                                     None, final=False, best_rank=int(coarse.window_scores.min()), set_size=n))
    ctx.check()
    cm = cv.map_from_ranks(rm, req.synset)
    from eclip_desktop.core.convis.support import unknown_set_reason
    concepts = None
    unknown = unknown_set_reason(cv.handle.describe(), concept_set)
    if req.with_concepts and not unknown:  # a listing from a set the model cannot know would mislead
        ctx.progress("ConVis: concepts in this image \u2026")
        concepts = cv.concepts_in_image(image, req.top_k)["by_mass"]
    ctx.progress("ConVis: support test \u2026")

    def reference_progress(done: int, total: int, _what: str) -> None:
        ctx.progress(f"ConVis: support test: reference scene {done}/{total} (first use of this model and set)")

    support = cv.support(rm, req.synset, reference_progress, stop)
    return ConVisResult(req, view, req.synset, hierarchy.gloss(req.synset), cm.values,
                        preview(cm.values, PREVIEW_SIDE), concept_set.name, cm.windows, concepts,
                        best_rank=int(cm.window_scores.min()), set_size=n, support=support,
                        unknown_set=unknown, set_hash=concept_set.content_hash)


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

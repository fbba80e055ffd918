"""The GUI's batch export: the CLI's `export` run on the worker that owns the model.

Qt-free like compute.py. The engines come from the WorkerState, so a batch right after looking at
images reuses the loaded model, and the core's `run_export` does the rest exactly as the CLI does
(same names, index, resume and no-overwrite rule). Progress goes out as partial results so the
dialog can show a bar and an estimate; a cancel lands between images, where the index is valid,
and there the maps the user asks for meanwhile are computed (the job yields, see jobs.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from eclip_desktop.app.state import ModelChoice
from eclip_desktop.app.workers.compute import Context, with_cpu_fallback
from eclip_desktop.app.workers.convis import cancel_check
from eclip_desktop.core.errors import ConceptError, TextError
from eclip_desktop.core.export.batch import ExportRequest, ExportResult, run_export


@dataclass(frozen=True)
class BatchProgress:
    done: int
    total: int
    image: str
    written: int
    skipped: int
    failed: int
    eta_s: float | None


@dataclass
class BatchOutcome:
    result: ExportResult
    out_dir: str
    notices: list[str] = field(default_factory=list)

    def summary(self) -> str:
        r = self.result
        text = (f"{r.count('ok')} maps written, {r.count('skipped')} already complete, "
                f"{r.count('failed')} failed in {r.seconds:.1f} s")
        if r.cancelled:
            text += f"; cancelled with {r.count('pending')} left (export again to resume)"
        return text


def check_request(req: ExportRequest) -> None:
    """What the dialog must refuse before a job starts (the core checks the rest)."""
    if not req.images:
        raise TextError("batch export: no images to export; open images or pick a folder")
    if any(not t.strip() for t in req.texts):
        raise TextError("batch export: a prompt line is empty; remove it or type what to look for")
    if not req.texts and not req.synsets:
        raise TextError("batch export: nothing to export; give prompts for CLIP maps and/or synsets for ConVis")
    if req.texts and (not req.methods or not req.poolings):
        raise TextError("batch export: pick at least one method and one pooling for the prompt maps")
    if set(req.grids) - {"concept"} and not req.texts:
        raise TextError("batch export: pooling, method and prompt grids compare prompt maps; give prompts too")
    if "concept" in req.grids and not req.synsets:
        raise TextError("batch export: the concept grid compares ConVis maps; give synsets too")


def stated_convis(req: ExportRequest, set_key: str) -> ExportRequest:
    """`req` with the window's ConVis settings stated as the CLI states its flags, so resume refuses
    rows that another mode, seed or concept set drew instead of taking them as done."""
    from eclip_desktop.core.export.concepts_job import ConceptsRequest
    defaults = ConceptsRequest(images=[], synsets=[], out_dir="")
    convis = {"mode": defaults.mode, "seed": defaults.seed, "concept_set": set_key, **req.convis_options}
    return dataclasses.replace(req, convis_options=convis)


def batch_export_job(req: ExportRequest, choice: ModelChoice, wordnet=None, set_key: str = "default"):
    """wordnet: the dock's service (hierarchy and concept sets), needed only with synsets."""
    req = stated_convis(req, set_key)
    convis = req.convis_options

    def run(ctx: Context) -> BatchOutcome:
        check_request(req)
        concept_inputs = None
        if req.synsets:
            if wordnet is None:
                raise ConceptError("batch export: WordNet is not available, so synsets cannot be exported")
            hierarchy, concept_set = wordnet.convis_inputs(set_key, ctx)
            missing = [s for s in req.synsets if s not in concept_set]
            if missing:
                raise ConceptError(f"batch export: {', '.join(missing)} not in the concept set "
                                   f"\u2018{concept_set.name}\u2019; pick a set that has them")
            concept_inputs = (hierarchy, concept_set)
        stop = cancel_check(ctx)

        def work(c: ModelChoice) -> ExportResult:
            engines = {p: ctx.state.engine(c.spec(p), ctx) for p in (req.poolings or ["masked_max"])}

            def concepts():
                from eclip_desktop.core.export.concepts_job import ConceptsRequest, prepare_concepts
                handle = next(iter(engines.values())).handle
                creq = ConceptsRequest(images=req.images, synsets=req.synsets, out_dir=req.out_dir,
                                       concept_set_spec=convis["concept_set"], mode=convis["mode"],
                                       seed=convis["seed"], cmap=req.cmap, alpha=req.alpha, overwrite=req.overwrite)
                ctx.progress("batch export: preparing the concept glosses \u2026")
                return prepare_concepts(handle, *concept_inputs, creq, cancelled=stop)

            def progress(info: dict) -> None:
                ctx.partial(BatchProgress(info["done"], info["total"], info["image"], info["written"],
                                          info["skipped"], info["failed"], info["eta_s"]))

            def between_images() -> bool:
                # the index is written here, so a map the user asks for meanwhile can run first
                ctx.let_others_run()
                return stop()

            return run_export(engines, req, concepts=concepts if req.synsets else None, progress=progress,
                              cancelled=between_images)

        ctx.progress(f"batch export: {len(req.images)} image(s) \u2026")
        result, _used, notices = with_cpu_fallback(ctx, choice, work)
        if result.cancelled:
            ctx.check()  # the index is written; report the job as cancelled, not as done
        return BatchOutcome(result, req.out_dir, notices)
    return run

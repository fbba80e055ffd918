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

from eclip_desktop.core.errors import ConceptError, TextError
from eclip_desktop.core.export.batch import ExportRequest, ExportResult, run_export
from eclip_desktop.core.export.index import Row
from eclip_desktop.viewer.jobs.compute import Context, with_cpu_fallback
from eclip_desktop.viewer.jobs.convis import cancel_check
from eclip_desktop.viewer.state import ModelChoice


@dataclass(frozen=True)
class BatchProgress:
    done: int  # images looked at so far (written, already complete or failed)
    total: int
    image: str
    written: int  # files of this image's maps
    skipped: int
    failed: int
    eta_s: float | None
    images_done: int = 0  # images so far whose every map is written or already complete
    images_failed: int = 0


@dataclass(frozen=True)
class ImageCounts:
    """A run counted in images, as the user chose them: maps per image vary with prompts x methods x
    poolings, so "110 maps written, 44 failed" hid that 2 files of 7 were bad."""
    done: int
    complete: int  # of the done ones, those already exported by an earlier run
    failed: int
    left: int  # not reached (a cancelled run)


def image_counts(rows: list[Row]) -> ImageCounts:
    statuses: dict[str, set[str]] = {}
    for r in rows:
        statuses.setdefault(r.image, set()).add(r.status)
    failed = sum("failed" in s for s in statuses.values())
    left = sum("failed" not in s and "pending" in s for s in statuses.values())
    complete = sum(s == {"skipped"} for s in statuses.values())
    return ImageCounts(len(statuses) - failed - left, complete, failed, left)


def images(n: int) -> str:
    return f"{n} image{'' if n == 1 else 's'}"


@dataclass
class BatchOutcome:
    result: ExportResult
    out_dir: str
    notices: list[str] = field(default_factory=list)

    def counts(self) -> ImageCounts:
        return image_counts(self.result.rows)

    def summary(self) -> str:
        c = self.counts()
        complete = f" ({c.complete} already complete)" if c.complete else ""
        text = f"{images(c.done)} done{complete}, {c.failed} failed in {self.result.seconds:.1f} s"
        if self.result.cancelled:
            text += f"; cancelled with {images(c.left)} left (export again to resume)"
        return text

    def failures(self) -> list[tuple[str, str]]:
        """(image, why) for each image that failed, in the order of the run."""
        seen: dict[str, str] = {}
        for r in self.result.rows:
            if r.status == "failed" and r.image not in seen:
                seen[r.image] = r.error
        return list(seen.items())


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
            done: set[str] = set()
            failed: set[str] = set()
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
                (failed if info["failed"] else done).add(info["image"])
                ctx.partial(BatchProgress(info["done"], info["total"], info["image"], info["written"],
                                          info["skipped"], info["failed"], info["eta_s"], len(done), len(failed)))

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

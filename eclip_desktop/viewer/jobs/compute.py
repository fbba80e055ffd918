"""What the worker thread does: owns the engines and decoded images, answers map requests.

Qt-free on purpose: each job is a plain function of a context that can say "stop" (cancel) and
"here is part of the answer" (partial), so the same code is unit-tested without a thread.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

import cv2
import numpy as np

from eclip_desktop.core.explain.heatmap import Heatmap
from eclip_desktop.core.explain.methods import get_method
from eclip_desktop.core.io.imageio import LoadedImage, load_image
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.model.spec import ModelSpec
from eclip_desktop.viewer.display import preview
from eclip_desktop.viewer.state import ModelChoice

if TYPE_CHECKING:
    from eclip_desktop.core.explain.engine import Engine

PREVIEW_SIDE = 1280  # what the views draw; full-size maps stay for the cursor readout and export
THUMB_SIDE = 96
OOM_NOTICE = ("The GPU ran out of memory, so the model now runs on the CPU (slower). "
              "Pick the GPU again in Device once memory is free, or use a smaller model.")


class Context(Protocol):
    state: "WorkerState"

    def check(self) -> None: ...
    def progress(self, text: str) -> None: ...
    def partial(self, obj) -> None: ...
    def let_others_run(self) -> None: ...


@dataclass
class ImageView:
    """An image as the UI draws it: a preview in the coordinates of the full-size image."""

    scene_by_identity: ClassVar[bool] = True  # a worker's result, never changed after (viewer/scene.py)

    path: str
    sha256: str
    width: int
    height: int
    preview: np.ndarray  # uint8 h x w x 3


@dataclass
class MapSet:
    """One method under one pooling for the whole label set."""

    scene_by_identity: ClassVar[bool] = True

    method: str
    pooling: str
    heatmaps: list[Heatmap]  # full size, one per text
    previews: list[np.ndarray]
    scores: dict  # {"cosine": [T], "probability": [T]} under this pooling
    contribution: np.ndarray  # full size
    contribution_preview: np.ndarray
    trained_with_pooling: bool  # True for the family: the ITSM itself belongs to this pooling
    # How the maps were made, for an export's sidecar: the model that made them (a family's own
    # sibling), and the text and mask options of the request.
    model_info: dict | None = None
    ensemble: bool = False
    tau: str = "trained"
    method_options: dict | None = None  # e.g. Surgery's switches as they were when the maps were made


@dataclass(frozen=True)
class MapRequest:
    path: str
    model: ModelChoice | None
    pairs: tuple[tuple[str, str], ...]  # (method, pooling) the views need now
    texts: tuple[str, ...]
    ensemble: bool = False
    options: tuple[tuple[str, tuple], ...] = ()  # per method, sorted items: hashable
    tau: str = "trained"

    def context(self) -> tuple:
        """Everything that makes maps differ except which (method, pooling) pairs were asked."""
        return (self.path, self.model, self.texts, self.ensemble, self.options, self.tau)

    def method_options(self, method: str) -> dict:
        return dict(dict(self.options).get(method, ()))


@dataclass
class MapResult:
    request: MapRequest
    image: ImageView
    maps: dict[tuple[str, str], MapSet] = field(default_factory=dict)
    # (method, pooling) -> why the method does not apply to this model (e.g. rollout on a ResNet)
    refused: dict[tuple[str, str], str] = field(default_factory=dict)
    model: ModelChoice | None = None  # differs from the request's after a fall-back to the CPU
    model_info: dict | None = None
    notices: list[str] = field(default_factory=list)


@dataclass
class ModelLoaded:
    choice: ModelChoice
    info: dict
    notices: list[str] = field(default_factory=list)


_threads_limited = False


def limit_torch_threads() -> None:
    """torch takes every core by default; leaving one to the UI thread keeps the window fluid while
    a map is computed on a small machine. Once per process, before the first model."""
    global _threads_limited
    if _threads_limited:
        return
    import torch
    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)
    _threads_limited = True


class WorkerState:
    """Lives on the worker thread; the UI thread never calls into it while a job runs."""

    # Two families of four siblings side by side (the model comparison) fit without evicting either.
    def __init__(self, max_engines: int = 8, max_images: int = 8, max_convis: int = 2):
        self.engines: OrderedDict[ModelSpec, Engine] = OrderedDict()
        # ConVis per (spec, concept set key, set hash): gloss bank and rank matrices (convis_job.py).
        self.convis: OrderedDict[tuple, object] = OrderedDict()
        self.max_convis = max_convis
        self.images: OrderedDict[tuple, tuple[LoadedImage, ImageView]] = OrderedDict()
        self.max_engines = max_engines
        self.max_images = max_images

    def engine(self, spec: ModelSpec, ctx: Context | None = None) -> Engine:
        if spec in self.engines:
            self.engines.move_to_end(spec)
            return self.engines[spec]
        if ctx is not None:
            ctx.progress(f"loading {spec.label()} …")
        # torch and open_clip are first imported here, on the worker thread, so the window opens
        # (with its sample) before those seconds-long imports, and never stalls on them.
        from eclip_desktop.core.explain.engine import Engine
        from eclip_desktop.core.model.loading import load_model
        limit_torch_threads()
        engine = Engine(load_model(spec))
        self.engines[spec] = engine
        while len(self.engines) > self.max_engines:
            self.engines.popitem(last=False)
        return engine

    def drop_engines(self, keep=lambda spec: False) -> None:
        for spec in [s for s in self.engines if not keep(s)]:
            del self.engines[spec]
        # A ConVis holds its model's handle: dropping only the engine would keep the weights alive.
        for key in [k for k in self.convis if not keep(k[0])]:
            del self.convis[key]

    def remember_convis(self, key: tuple, convis) -> None:
        self.convis[key] = convis
        self.convis.move_to_end(key)
        while len(self.convis) > self.max_convis:  # rank matrices are large (up to 768 MB each)
            self.convis.popitem(last=False)

    def image(self, path: str) -> tuple[LoadedImage, ImageView]:
        try:
            st = os.stat(path)
            key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
        except OSError:
            key = (os.path.abspath(path), None, None)  # load_image gives the readable error
        if key in self.images:
            self.images.move_to_end(key)
            return self.images[key]
        loaded = load_image(path)
        view = ImageView(path, loaded.sha256, loaded.width, loaded.height, preview(loaded.rgb, PREVIEW_SIDE))
        self.images[key] = (loaded, view)
        while len(self.images) > self.max_images:
            self.images.popitem(last=False)
        return loaded, view


def is_out_of_memory(exc: BaseException) -> bool:
    import torch
    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _release_gpu_memory(state: WorkerState) -> None:
    import torch
    state.drop_engines(keep=lambda spec: spec.device == "cpu")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def with_cpu_fallback(ctx: Context, choice: ModelChoice, work):
    """Run work(choice); on a GPU out-of-memory error run it again on the CPU and say so."""
    try:
        return work(choice), choice, []
    except Exception as exc:
        if not is_out_of_memory(exc) or choice.device == "cpu":
            raise
    _release_gpu_memory(ctx.state)
    cpu = choice.on_device("cpu")
    ctx.progress("GPU out of memory: running on the CPU …")
    return work(cpu), cpu, [OOM_NOTICE]


def choice_specs(choice: ModelChoice | None) -> set[ModelSpec]:
    """Every engine a choice may use: a family's siblings, or the one model."""
    if choice is None:
        return set()
    return {choice.spec(p) for p in choice.poolings()} if choice.family else {choice.spec("native")}


def load_model_job(choice: ModelChoice, pooling: str, keep: tuple = ()):
    """keep: other choices whose engines stay loaded (the model comparison's other model)."""
    def run(ctx: Context) -> ModelLoaded:
        def work(c: ModelChoice):
            return ctx.state.engine(c.spec(pooling), ctx)

        engine, used, notices = with_cpu_fallback(ctx, choice, work)
        # Models of earlier choices would otherwise hold (GPU) memory until evicted.
        kept = {engine.handle.spec} | choice_specs(used)
        for other in keep:
            kept |= choice_specs(other)
        ctx.state.drop_engines(keep=lambda spec: spec in kept)
        info = engine.handle.describe()
        if info.get("activation_note"):  # a weights file that cannot tell its activation: say which is used
            notices = [*notices, info["activation_note"]]
        return ModelLoaded(used, info, notices)
    return run


def _map_sets(ctx: Context, req: MapRequest, choice: ModelChoice, image: LoadedImage,
              refused: dict | None = None) -> dict:
    maps: dict[tuple[str, str], MapSet] = {}
    texts = list(req.texts)
    done: dict[tuple[ModelSpec, str], dict] = {}
    for method, pooling in req.pairs:
        ctx.check()
        spec = choice.spec(pooling)
        engine = ctx.state.engine(spec, ctx)
        info = get_method(method)
        why = info.refusal(engine.handle.kind)
        if why:
            if refused is not None:
                refused[(method, pooling)] = f"{info.label} does not apply to this model: {why}"
            continue
        # A single model reads out every pooling from one pass; a family sibling only its own.
        readouts = [pooling] if choice.family else pooling_names()
        key = (spec, method)
        if key not in done:
            ctx.progress(f"{info.label} map, {len(texts)} prompt(s) …")

            def step(done: int, total: int, label: str = info.label) -> None:
                ctx.check()  # a cancelled job stops between a method's batches of forwards
                ctx.progress(f"{label}: {done} of {total} forwards …")

            exp = engine.explain(image, texts, method=method, poolings=readouts, ensemble=req.ensemble,
                                 tau=req.tau, method_options=req.method_options(method), progress=step)
            previews = [preview(h.values, PREVIEW_SIDE) for h in exp.heatmaps]
            cprev = {p: preview(c, PREVIEW_SIDE) for p, c in exp.contributions.items()}
            done[key] = {"exp": exp, "previews": previews, "cprev": cprev}
        d = done[key]
        exp = d["exp"]
        for p in readouts:
            if (method, p) in maps or (choice.family and p != pooling):
                continue
            maps[(method, p)] = MapSet(method, p, exp.heatmaps, d["previews"], exp.scores[p],
                                       exp.contributions[p], d["cprev"][p], choice.family,
                                       engine.handle.describe(), req.ensemble, req.tau,
                                       dict(req.method_options(method)))
    return maps


def map_job(req: MapRequest):
    def run(ctx: Context) -> MapResult:
        ctx.progress(f"reading {os.path.basename(req.path)} …")
        image, view = ctx.state.image(req.path)
        ctx.partial(view)  # the picture appears before the model has finished
        result = MapResult(req, view, model=req.model)
        if req.model is None or not req.texts or not req.pairs:
            return result

        def work(c: ModelChoice):
            result.refused.clear()
            return _map_sets(ctx, req, c, image, result.refused)

        result.maps, result.model, result.notices = with_cpu_fallback(ctx, req.model, work)
        any_pooling = req.pairs[0][1]
        result.model_info = ctx.state.engine(result.model.spec(any_pooling)).handle.describe()
        return result
    return run


def picture_job(path: str):
    """The picture alone, for the io worker: it shows at once even while the compute worker is still
    importing torch or loading a model (the maps job then sends the same view again)."""
    def run(ctx: Context) -> ImageView:
        loaded = load_image(path)
        ctx.check()
        return ImageView(path, loaded.sha256, loaded.width, loaded.height, preview(loaded.rgb, PREVIEW_SIDE))
    return run


def mask_job(mask_path: str, image_path: str, width: int, height: int):
    """A ground-truth mask for an image: nonzero pixels are the object; resized (nearest) to the
    image when its size differs, as a label PNG of a downscaled copy would need."""
    def run(ctx: Context) -> tuple[str, str, np.ndarray]:
        import io

        from PIL import Image, UnidentifiedImageError

        from eclip_desktop.core.errors import ImageLoadError
        from eclip_desktop.core.io.guards import read_bytes
        from eclip_desktop.core.io.imageio import MAX_IMAGE_BYTES, RASTER_FORMATS

        def fail(why: str) -> ImageLoadError:
            return ImageLoadError(f"cannot read the mask {os.path.basename(mask_path)}: {why}")
        # A regular file of bounded size, decoded by the raster decoders only (never Ghostscript).
        data = read_bytes(mask_path, fail, MAX_IMAGE_BYTES)
        try:
            with Image.open(io.BytesIO(data), formats=RASTER_FORMATS) as im:
                im.load()
                # Palette PNGs (VOC-style labels) keep their indices; 255 is VOC's "void" border.
                arr = np.asarray(im if im.mode in ("P", "L", "1", "I", "I;16") else im.convert("L"))
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            raise ImageLoadError(f"cannot read the mask {os.path.basename(mask_path)}: {exc}") from exc
        ctx.check()
        mask = (arr > 0) & (arr != 255) if im.mode == "P" else arr > 0
        if mask.shape != (height, width):
            mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST) > 0
        if not mask.any() or mask.all():
            raise ImageLoadError(f"the mask {os.path.basename(mask_path)} marks "
                                 f"{'no' if not mask.any() else 'every'} pixel; an object mask needs both sides")
        return image_path, mask_path, mask
    return run


def thumbnail(rgb: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def thumbnails_job(paths: list[str]):
    """Emits (path, thumbnail or None, error message or None) per path as it goes."""
    def run(ctx: Context) -> int:
        from eclip_desktop.core.errors import ImageLoadError
        for i, path in enumerate(paths):
            ctx.check()
            ctx.progress(f"thumbnails {i + 1}/{len(paths)}")
            try:
                ctx.partial((path, thumbnail(load_image(path).rgb), None))
            except ImageLoadError as exc:
                ctx.partial((path, None, str(exc)))
        return len(paths)
    return run

"""`eclip-desktop eval`: explainability (METHODS §6) and zero-shot accuracy of one model and method.

Shapes World protocol (our reproduction): held-out scenes from a seed the training never used,
1-3 objects on mixed backgrounds; for every scene and every shape class PRESENT in it, the map
for "a photo of a {shape}." against the union mask of that class. Zero-shot accuracy: top-1
over the class prompts on a second set of held-out single-object scenes. The generalisation suites
(`gen`, `gen2`: other renderers and backgrounds, never trained on): the same on their own scenes.
VOC/COCO: the same per (image, present class) with the dataset's class names in "a photo of a {name}.".
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterator

import numpy as np
import torch

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.evaluation.faithfulness import FaithfulnessMeter, deletion_insertion, readout_embedder
from eclip_desktop.core.evaluation.metrics import ExplainabilityMeter
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.explain.heatmap import minmax, upsample
from eclip_desktop.core.explain.methods import MethodInput, get_method
from eclip_desktop.core.export.shards import Shard
from eclip_desktop.core.io.imageio import LoadedImage, image_sha256, load_image

HELD_OUT_SEED = 1000  # Shapes World training uses data seeds < 1000


@dataclass
class Item:
    image: LoadedImage
    masks: dict[str, np.ndarray]
    ignore: np.ndarray | None = None


def loaded_image(rgb: np.ndarray, name: str) -> LoadedImage:
    return LoadedImage(path=name, rgb=rgb, sha256=hashlib.sha256(rgb.tobytes()).hexdigest(), source_mode="RGB")


def shapes_items(count: int, seed: int, size: int = 64, n_objects=(1, 3)) -> Iterator[Item]:
    from eclip_desktop.core.shapes import generate_scene
    from eclip_desktop.core.shapes.generalisation import class_masks_of
    for i in range(count):
        scene = generate_scene(seed, i, size=size, n_objects=n_objects)
        yield Item(loaded_image(scene.image, f"shapes:{seed}:{i}"), class_masks_of(scene.objects))


def suite_items(kind: str, count: int, seed: int, n_objects=(1, 3)) -> Iterator[Item]:
    """A generalisation suite's scenes (`gen`: 96-320 px, `gen2`: 80-400 px) at their own sizes; the
    engine resizes them."""
    if kind == "gen":
        from eclip_desktop.core.shapes.generalisation import generate_gen_scene as generate
    elif kind == "gen2":
        from eclip_desktop.core.shapes.generalisation2 import generate_gen2_scene as generate
    else:
        raise ValueError(f"no generalisation suite {kind!r}; use gen or gen2")
    for i in range(count):
        scene = generate(seed, i, n_objects=n_objects)
        yield Item(loaded_image(scene.image, f"{kind}:{seed}:{i}"), scene.class_masks())


def gen_items(count: int, seed: int, n_objects=(1, 3)) -> Iterator[Item]:
    """The generalisation suite's scenes at their own sizes (96-320 px); the engine resizes them."""
    return suite_items("gen", count, seed, n_objects)


def synthetic_items(kind: str, count: int, seed: int, n_objects=(1, 3), size: int = 64) -> Iterator[Item]:
    """Scenes of a synthetic dataset kind: Shapes World drawn at `size` (the model's input), a suite's at its own."""
    return shapes_items(count, seed, size, n_objects) if kind == "shapes" else suite_items(kind, count, seed, n_objects)


_SUITE_PROTOCOLS = {
    "gen": "generalisation suite (other renderer and backgrounds, 96-320 px, JPEG",
    "gen2": "second generalisation suite (hand-drawn textured figures with soft shadows and partial occlusion, "
            "photo-like backgrounds with non-class distractors, lighting and colour cast, 80-400 px",
}


def synthetic_protocol(kind: str, objects: tuple[int, int], seed: int) -> str:
    """The protocol line of an evaluation on Shapes World or a generalisation suite."""
    lo, hi = objects
    if kind == "shapes":
        return f"Shapes World held-out scenes ({lo}-{hi} objects); zero-shot on single-object scenes of seed {seed + 1}"
    return f"{_SUITE_PROTOCOLS[kind]}; {lo}-{hi} objects); zero-shot on single-object suite scenes of seed {seed + 1}"


class FileItem:
    """An Item of a dataset on disk whose image is decoded on first use: a rank of a sharded evaluation
    reads only the file's SHA-256 (`key`, the same as the decoded image's) for batches it does not own."""

    def __init__(self, sample):
        self.path, self.masks, self.ignore = sample.image_path, dict(sample.masks), sample.ignore

    @cached_property
    def image(self) -> LoadedImage:
        return load_image(self.path)

    @cached_property
    def key(self) -> str:
        return image_sha256(self.path)


def dataset_items(samples) -> Iterator[FileItem]:
    for s in samples:
        yield FileItem(s)


def class_prompt(name: str) -> str:
    from eclip_desktop.core.shapes import prompt_for
    try:
        return prompt_for(name)
    except (KeyError, ValueError):
        return f"a photo of a {name.replace('_', ' ')}."


def _analysed(engine: Engine, items: Iterator[Item], batch: int, progress=None):
    """(item, analysis) pairs, encoded in batches; evaluation images are seen once, so the
    engine's cache is emptied after each batch to keep memory flat."""
    pending: list[Item] = []
    seen = 0

    def flush():
        nonlocal seen
        yield from zip(pending, engine.analyse([it.image for it in pending], batch_size=batch))
        seen += len(pending)
        pending.clear()
        engine.clear()
        if progress:
            progress(seen)

    for it in items:
        pending.append(it)
        if len(pending) == batch:
            yield from flush()
    if pending:
        yield from flush()


def method_grid(analysis, raw: torch.Tensor) -> np.ndarray:
    """One text's raw relevance as a 2-D array: (N,) on the token grid, or (h, w) on a method's own grid."""
    return analysis.grid_map(raw) if raw.dim() == 1 else raw.detach().float().cpu().numpy()


def _owned(items: Iterator[Item], shard: Shard, order: list[int], batch: int) -> Iterator[Item]:
    """This rank's items; their places in the whole list go to `order`. The unit is the encoder batch of
    one process (`batch` items in the list's order), owned by its images' content (export/shards.py):
    an image encoder's arithmetic depends on the batch's size (another GEMM blocking, another conv
    algorithm, on CPUs and GPUs), so only the same batches give the same numbers as one process."""
    if not shard.sharded:
        yield from items
        return
    chunk: list[Item] = []
    start = 0

    def mine():
        key = hashlib.sha256("".join(getattr(it, "key", None) or it.image.sha256 for it in chunk).encode()).hexdigest()
        return shard.owns(key)

    for it in items:
        chunk.append(it)
        if len(chunk) == batch:
            if mine():
                order.extend(range(start, start + batch))
                yield from chunk
            start, chunk = start + batch, []
    if chunk and mine():
        order.extend(range(start, start + len(chunk)))
        yield from chunk


def evaluate_maps(engine: Engine, items: Iterator[Item], classes: list[str], method: str,
                  batch: int = 64, progress: Callable[[int], None] | None = None,
                  method_options: dict | None = None, faithfulness: dict | None = None,
                  shard: Shard | None = None) -> dict:
    """Mask metrics of the method's maps. faithfulness {"poolings": [...], "steps": N} adds "faithfulness":
    pooling -> mean deletion and insertion areas, each pooling's readout scoring the perturbed inputs.
    shard: under torchrun, this rank scores its own images and every rank adds all pairs in the
    one-process order (exact sums, not averages of averages)."""
    texts = engine.texts.encode([class_prompt(c) for c in classes])
    info = get_method(method)
    options = info.prepare(engine.handle.kind, engine.handle.spec.architecture, method_options)
    meter = ExplainabilityMeter()
    faith = embed = None
    if faithfulness:
        faith = FaithfulnessMeter(faithfulness["poolings"])
        embed = readout_embedder(engine.handle, faithfulness["poolings"], engine.handle.trained_tau)
    shard, order, records = shard or Shard(), [], []
    for k, (it, a) in enumerate(_analysed(engine, _owned(items, shard, order, batch), batch, progress)):
        raw = info.scores(MethodInput(a, texts, engine.texts, n_texts=len(classes)), **options)
        pairs = []
        for name, mask in it.masks.items():
            t = classes.index(name)
            shown = upsample(minmax(method_grid(a, raw[t])), it.image.width, it.image.height)
            pairs.append((meter.measure(shown, mask, it.ignore), None if faith is None else
                          deletion_insertion(embed, a.pixels(), shown, texts[t], faithfulness["steps"])))
        records.append((order[k] if shard.sharded else k, pairs))
    for pairs in shard.collect(records, "maps"):
        for pair, curves in pairs:
            meter.add_measured(pair)
            if faith is not None:
                faith.add(curves)
    out = meter.summary()
    if faith is not None:
        out["faithfulness"] = faith.summary()
    return out


def zero_shot_accuracy(engine: Engine, items: Iterator[Item], classes: list[str], pooling: str,
                       batch: int = 64, shard: Shard | None = None) -> float:
    """Top-1 over the class prompts; a hit when the predicted class is present in the image."""
    texts = engine.texts.encode([class_prompt(c) for c in classes])
    tau = engine.handle.trained_tau  # read out as trained (the weights' metadata, read at load)
    shard, order, records = shard or Shard(), [], []
    for k, (it, a) in enumerate(_analysed(engine, _owned(items, shard, order, batch), batch)):
        emb = torch.nn.functional.normalize(a.readout(pooling, tau=tau).embedding, dim=-1)
        records.append((order[k] if shard.sharded else k, int(classes[int((emb @ texts.T).argmax())] in it.masks)))
    hits = shard.collect(records, "zero-shot")
    return sum(hits) / max(1, len(hits))


def evaluate_shapes(engine: Engine, method: str, pooling: str, count: int, seed: int = HELD_OUT_SEED,
                    progress=None) -> dict:
    from eclip_desktop.core.shapes import class_names
    classes = class_names()
    size = engine.handle.image_size
    t0 = time.perf_counter()
    row = evaluate_maps(engine, shapes_items(count, seed, size), classes, method, progress=progress)
    row["zero_shot"] = zero_shot_accuracy(engine, shapes_items(count, seed + 1, size, n_objects=1), classes, pooling)
    row["seconds"] = time.perf_counter() - t0
    return row


def run_eval(dataset: str, method: str, engines: dict[str, Engine], limit: int | None = None,
             progress=None, method_options: dict | None = None, faithfulness_steps: int | None = None,
             shard: Shard | None = None) -> dict:
    """Rows per pooling for one dataset and method. `engines` maps pooling -> Engine; poolings that
    share an engine (one pretrained model) share its maps and differ only in zero-shot (and, with
    faithfulness_steps, in the deletion/insertion areas, which each pooling's readout scores).
    shard: under torchrun, this rank's part of the images; every rank returns the whole job's rows."""
    from eclip_desktop.core.evaluation.datasets import LOADERS, SYNTHETIC_KINDS, parse_dataset_arg
    from eclip_desktop.core.evaluation.faithfulness import BLUR_SIGMA, BLUR_SIZE
    kind, arg = parse_dataset_arg(dataset)
    rows, maps_by_engine = [], {}
    meta = {"dataset": dataset, "method": method}
    if method_options is not None:
        try:
            meta["method_options"] = get_method(method).resolve(method_options)
        except ValueError as exc:
            raise EclipError(str(exc)) from None
    if faithfulness_steps:
        meta["faithfulness"] = {"steps": faithfulness_steps, "deletion": "pixels set to 0 in the normalised space",
                                "insertion": f"from a Gaussian blur ({BLUR_SIZE} px, sigma {BLUR_SIGMA:g})",
                                "score": "cosine of the pooling's readout with the class prompt"}

    def maps(engine, items, classes):
        if id(engine) not in maps_by_engine:
            faith = {"poolings": [p for p, e in engines.items() if e is engine],
                     "steps": faithfulness_steps} if faithfulness_steps else None
            maps_by_engine[id(engine)] = evaluate_maps(engine, items, classes, method, progress=progress,
                                                       method_options=method_options, faithfulness=faith,
                                                       shard=shard)
        return maps_by_engine[id(engine)]

    for pooling, engine in engines.items():
        t0 = time.perf_counter()
        if kind in SYNTHETIC_KINDS:  # Shapes World and the generalisation suites: scenes drawn from a seed
            count = min(arg["count"], limit) if limit else arg["count"]
            objects, seed = arg["objects"], arg["seed"]
            meta.update(protocol=synthetic_protocol(kind, objects, seed), scenes=count, seed=seed,
                        objects=list(objects))
            from eclip_desktop.core.shapes import class_names
            classes = class_names()
            size = engine.handle.image_size
            found = maps(engine, synthetic_items(kind, count, seed, objects, size), classes)
            zs = zero_shot_accuracy(engine, synthetic_items(kind, count, seed + 1, 1, size), classes, pooling,
                                    shard=shard)
        elif kind in LOADERS:
            data = LOADERS[kind](arg, limit=limit)
            classes = list(data.class_names)
            meta.update(protocol=f"{kind} per (image, present class), prompt 'a photo of a {{class}}.'",
                        images=len(data), skipped=len(data.skipped))
            found = maps(engine, dataset_items(data), classes)
            zs = zero_shot_accuracy(engine, dataset_items(data), classes, pooling, shard=shard)
        else:
            from eclip_desktop.core.errors import DatasetError
            raise DatasetError(f"eval does not handle {kind} datasets with --method {method}")
        row = {"pooling": pooling, "model": engine.handle.spec.architecture, "weights": engine.handle.weights,
               **{k: v for k, v in found.items() if k != "faithfulness"},
               **found.get("faithfulness", {}).get(pooling, {}), "zero_shot": zs, "seconds": time.perf_counter() - t0}
        rows.append(row)
    return {**meta, "rows": rows}

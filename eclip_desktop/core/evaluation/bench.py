"""Speed benchmark (not a test): the bare encoder forward against what a user waits for."""
from __future__ import annotations

import platform
import statistics
import time

import numpy as np
import torch

from eclip_desktop.core.explain.analysis import preprocess
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.io.imageio import LoadedImage
from eclip_desktop.core.model.loading import ModelSpec, load_model

TEXTS = ["a photo of a cat", "a photo of a dog", "a red car on a street", "a bird in the sky"]


def _synthetic_image(seed: int, w: int = 640, h: int = 480) -> LoadedImage:
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return LoadedImage(path=f"bench-{seed}", rgb=rgb, sha256=f"bench-{seed}", source_mode="RGB")


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _paired_medians(bare, fn, repeats: int) -> tuple[float, float]:
    """Medians of the bare forward and of `fn`, measured alternately: this machine's speed drifts by
    ~10 % over a minute, and a ratio of two runs taken minutes apart would measure the drift."""
    a, b = [], []
    for _ in range(repeats):
        a.append(_timed(bare))
        b.append(_timed(fn))
    return statistics.median(a), statistics.median(b)


def run_bench(spec: ModelSpec, repeats: int = 5, input_size: int | None = None) -> dict:
    handle = load_model(spec)
    engine = Engine(handle)
    size = int(input_size or handle.image_size)
    images = [_synthetic_image(i) for i in range(repeats + 1)]
    pixels = preprocess(images[0].rgb, size, handle.mean, handle.std)[None].to(handle.device, handle.dtype)

    @torch.no_grad()
    def bare_forward():
        handle.model.encode_image(pixels)

    bare_forward()  # warm-up
    engine.texts.encode(TEXTS)
    engine.explain(images[-1], TEXTS[:1], input_size=size)  # warm-up of the whole path

    def first(method):
        def run():
            engine.clear()
            engine.explain(images[0], TEXTS[:1], method=method, input_size=size)
        return run

    def switch(method, fresh_text: bool):
        counter = iter(range(10**6))

        def run():
            text = f"a photo of {method} thing number {next(counter)}" if fresh_text else TEXTS[next(counter) % 3 + 1]
            engine.explain(images[0], [text], method=method, input_size=size)
        return run

    rows, bares = {}, []
    for method in ("itsm", "surgery"):
        engine.texts.empty_embedding()
        cases = [("first map of a new image", first(method)),
                 ("switch text (embedding cached)", switch(method, False)),
                 ("switch text (new text encoded)", switch(method, True))]
        for label, fn in cases:
            calls = engine.image_encoder_calls
            b, t = _paired_medians(bare_forward, fn, repeats)
            if "switch" in label:
                assert engine.image_encoder_calls == calls, "a text switch re-ran the image encoder"
            bares.append(b)
            rows[f"{method}: {label}"] = (t, b)
    bare = statistics.median(bares)
    result = {
        "model": spec.architecture, "pretrained": handle.weights, "device": str(handle.device),
        "input_size": size, "repeats": repeats, "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "bare_encode_image_s": bare,
        "rows": {k: {"seconds": t, "paired_bare_seconds": b, "x_bare": t / b} for k, (t, b) in rows.items()},
    }
    lines = [f"{spec.architecture} ({handle.weights}) at {size} on {handle.device}, median of {repeats}, "
             "each row timed alternately with the bare forward",
             f"{'bare encode_image forward':45s} {bare * 1000:9.1f} ms   1.00x"]
    lines += [f"{k:45s} {t * 1000:9.1f} ms  {t / b:5.2f}x" for k, (t, b) in rows.items()]
    result["table"] = "\n".join(lines)
    return result

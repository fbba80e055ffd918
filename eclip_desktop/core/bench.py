"""Speed benchmark (not a test): the bare encoder forward against what a user waits for."""
from __future__ import annotations

import platform
import statistics
import time

import numpy as np
import torch

from eclip_desktop.core.analysis import preprocess
from eclip_desktop.core.engine import Engine
from eclip_desktop.core.imageio import LoadedImage
from eclip_desktop.core.models import ModelSpec, load_model

TEXTS = ["a photo of a cat", "a photo of a dog", "a red car on a street", "a bird in the sky"]


def _synthetic_image(seed: int, w: int = 640, h: int = 480) -> LoadedImage:
    rgb = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    return LoadedImage(path=f"bench-{seed}", rgb=rgb, sha256=f"bench-{seed}", source_mode="RGB")


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_bench(spec: ModelSpec, repeats: int = 5, input_size: int | None = None) -> dict:
    handle = load_model(spec)
    engine = Engine(handle)
    size = int(input_size or handle.image_size)
    images = [_synthetic_image(i) for i in range(repeats + 1)]
    pixels = preprocess(images[0].rgb, size, handle.mean, handle.std)[None].to(handle.device, handle.dtype)
    with torch.no_grad():
        handle.model.encode_image(pixels)  # warm-up
        bare = _median_time(lambda: handle.model.encode_image(pixels), repeats)
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

    rows = {}
    for method in ("itsm", "surgery"):
        engine.texts.empty_embedding()
        rows[f"{method}: first map of a new image"] = _median_time(first(method), repeats)
        calls = engine.image_encoder_calls
        rows[f"{method}: switch text (embedding cached)"] = _median_time(switch(method, False), repeats)
        rows[f"{method}: switch text (new text encoded)"] = _median_time(switch(method, True), repeats)
        assert engine.image_encoder_calls == calls, "a text switch re-ran the image encoder"
    result = {
        "model": spec.architecture, "pretrained": handle.weights, "device": str(handle.device),
        "input_size": size, "repeats": repeats, "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "bare_encode_image_s": bare,
        "rows": {k: {"seconds": v, "x_bare": v / bare} for k, v in rows.items()},
    }
    lines = [f"{spec.architecture} ({handle.weights}) at {size} on {handle.device}, median of {repeats}",
             f"{'bare encode_image forward':45s} {bare * 1000:9.1f} ms   1.00x"]
    lines += [f"{k:45s} {v * 1000:9.1f} ms  {v / bare:5.2f}x" for k, v in rows.items()]
    result["table"] = "\n".join(lines)
    return result

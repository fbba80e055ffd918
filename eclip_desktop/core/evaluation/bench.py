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


def _count_encoder_images(visual: torch.nn.Module) -> list[int]:
    """[images] run through the whole image encoder (visual.forward) since the call: methods with many
    forwards (RISE) report what a map costs them in forwards, not only in seconds. The dense pass and
    the gradient methods run the tower's parts by hand and do not count here."""
    seen = [0]

    def pre(_module, inputs):
        seen[0] += int(inputs[0].shape[0])

    visual.register_forward_pre_hook(pre)  # the bench's own model, dropped when it returns
    return seen


def run_bench(spec: ModelSpec, repeats: int = 5, input_size: int | None = None, methods: list[str] | None = None,
              method_options: dict | None = None) -> dict:
    """Each method's first map and text switches, timed alternately with a bare forward. method_options:
    method -> options (e.g. fewer RISE masks for a quick run)."""
    from eclip_desktop.core.explain.methods import get_method, method_names
    methods = list(methods or method_names())
    method_options = method_options or {}
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
            engine.explain(images[0], TEXTS[:1], method=method, input_size=size,
                           method_options=method_options.get(method))
        return run

    def switch(method, fresh_text: bool):
        counter = iter(range(10**6))

        def run():
            text = f"a photo of {method} thing number {next(counter)}" if fresh_text else TEXTS[next(counter) % 3 + 1]
            engine.explain(images[0], [text], method=method, input_size=size, method_options=method_options.get(method))
        return run

    encoder_images = _count_encoder_images(handle.visual)
    rows, bares, forwards, refused = {}, [], {}, {}
    for method in methods:
        why = get_method(method).refusal(handle.kind)
        if why:
            refused[method] = why
            continue
        engine.texts.empty_embedding()
        cases = [("first map of a new image", first(method)),
                 ("switch text (embedding cached)", switch(method, False)),
                 ("switch text (new text encoded)", switch(method, True))]
        for label, fn in cases:
            calls = engine.image_encoder_calls
            seen = encoder_images[0]
            b, t = _paired_medians(bare_forward, fn, repeats)
            # bare_forward runs the encoder once per repeat; what is left is the method's own
            forwards[f"{method}: {label}"] = (encoder_images[0] - seen - repeats) / repeats
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
        "rows": {k: {"seconds": t, "paired_bare_seconds": b, "x_bare": t / b, "encoder_forwards": forwards[k]}
                 for k, (t, b) in rows.items()},
        "method_options": {m: get_method(m).resolve(method_options.get(m)) for m in methods if m not in refused},
        "refused": refused,
    }
    lines = [f"{spec.architecture} ({handle.weights}) at {size} on {handle.device}, median of {repeats}, "
             "each row timed alternately with the bare forward",
             f"{'bare encode_image forward':45s} {bare * 1000:9.1f} ms   1.00x"]
    lines += [f"{k:45s} {t * 1000:9.1f} ms  {t / b:5.2f}x" + (f"   {forwards[k]:g} whole-encoder forwards" if forwards[k] else "")
              for k, (t, b) in rows.items()]
    lines += [f"{m}: not measured, {why}" for m, why in refused.items()]
    result["table"] = "\n".join(lines)
    return result

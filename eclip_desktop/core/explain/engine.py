"""The Engine: one loaded model, its text bank and a bounded cache of image analyses.

The CLI and the GUI worker both go through it, so "never recompute image features to switch a
prompt, pooling or method" holds in one place; `image_encoder_calls` lets tests prove it.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from eclip_desktop.core.explain.analysis import ImageAnalysis, encode_images
from eclip_desktop.core.explain.heatmap import Heatmap, minmax, upsample
from eclip_desktop.core.explain.methods import MethodInput, get_method
from eclip_desktop.core.model.loading import ModelHandle, ModelSpec, load_model
from eclip_desktop.core.model.poolings import zero_shot
from eclip_desktop.core.model.resolve import specs_for
from eclip_desktop.core.model.text import TextBank
from eclip_desktop.core.model.trained import readout_tau


@dataclass
class Explanation:
    """Maps for every text of a label set under one method, plus zero-shot scores per pooling."""

    heatmaps: list[Heatmap]
    scores: dict[str, dict]  # pooling -> {"cosine": [T], "probability": [T]}
    contributions: dict[str, np.ndarray]  # pooling -> H x W in [0, 1]
    timings: dict[str, float] = field(default_factory=dict)


class Engine:
    def __init__(self, handle: ModelHandle, cache_size: int = 32):
        self.handle = handle
        self.texts = TextBank(handle)
        self.cache_size = cache_size
        self._analyses: OrderedDict[tuple, ImageAnalysis] = OrderedDict()
        self._lock = threading.Lock()
        self.image_encoder_calls = 0

    @classmethod
    def load(cls, spec: ModelSpec, **kw) -> "Engine":
        return cls(load_model(spec), **kw)

    def _key(self, image, input_size):
        return (image.sha256, self.handle.identity, int(input_size or self.handle.image_size))

    def cached(self, image, input_size: int | None = None) -> ImageAnalysis | None:
        with self._lock:
            return self._analyses.get(self._key(image, input_size))

    def analyse(self, images: list, input_size: int | None = None, batch_size: int = 8) -> list[ImageAnalysis]:
        """Analyses for the images, encoding only those not cached, in batches."""
        keys = [self._key(im, input_size) for im in images]
        found: dict[tuple, ImageAnalysis] = {}
        with self._lock:
            for k in keys:
                if k in self._analyses:
                    self._analyses.move_to_end(k)
                    found[k] = self._analyses[k]
        todo = list({k: im for k, im in zip(keys, images) if k not in found}.items())
        for i in range(0, len(todo), batch_size):
            chunk = todo[i:i + batch_size]
            self.image_encoder_calls += 1
            done = encode_images(self.handle, [im for _, im in chunk], input_size)
            with self._lock:
                for (k, _), a in zip(chunk, done):
                    found[k] = self._analyses[k] = a
                while len(self._analyses) > self.cache_size:
                    self._analyses.popitem(last=False)
        return [found[k] for k in keys]

    def explain(self, image, texts: list[str], method: str = "itsm", poolings=("native",),
                ensemble: bool = False, input_size: int | None = None, tau: str = "mean",
                method_options: dict | None = None, progress=None) -> Explanation:
        """tau: "mean", "topk", or "trained" (the threshold these weights were trained with).
        method_options: the method's declared options (missing ones take their defaults).
        progress(done, total): called by methods with many forwards; may raise CancelledError."""
        tau = readout_tau(tau, self.handle.trained_tau)
        info = get_method(method)
        options = info.prepare(self.handle.kind, self.handle.spec.architecture, method_options)
        timings = {}
        t0 = time.perf_counter()
        analysis = self.analyse([image], input_size)[0]
        timings["image"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        emb = self.texts.encode(texts, ensemble=ensemble)
        timings["text"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        # The ensemble flag is passed on: CLIP Surgery encodes its empty-text reference the same way.
        job = MethodInput(analysis, emb, self.texts, ensemble=ensemble, n_texts=len(texts), progress=progress)
        raw = info.scores(job, **options)
        meta = info.map_meta(job, options)
        w, h = image.width, image.height
        heatmaps = []
        # The map is the model's; its pooling is the readout it is shown under (the first asked for;
        # writers that show one map under several poolings copy it with dataclasses.replace).
        for t, text in enumerate(texts):
            # (T, N) on the token grid, or (T, h, w) on the method's own grid (RISE: input pixels)
            grid_raw = analysis.grid_map(raw[t]) if raw.dim() == 2 else raw[t].detach().float().cpu().numpy()
            grid = minmax(grid_raw)
            heatmaps.append(Heatmap(values=upsample(grid, w, h), method=method,
                                    model=self.handle.spec.architecture, pretrained=self.handle.weights,
                                    pooling=poolings[0] if poolings else "", text=text, grid=grid,
                                    raw_range=(float(grid_raw.min()), float(grid_raw.max())),
                                    meta=dict(meta)))
        timings["method"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores, contributions = {}, {}
        for p in poolings:
            r = analysis.readout(p, tau=tau)
            scores[p] = zero_shot(r.embedding, emb, self.handle.logit_scale)
            contributions[p] = upsample(minmax(analysis.grid_map(r.contribution)), w, h)
        timings["poolings"] = time.perf_counter() - t0
        return Explanation(heatmaps=heatmaps, scores=scores, contributions=contributions, timings=timings)

    def clear(self) -> None:
        with self._lock:
            self._analyses.clear()


def engines_for(model: str | None, pretrained: str | None, poolings: list[str], device: str = "auto",
                dtype: str = "auto", activation: str = "auto") -> dict:
    """pooling -> Engine. A family gives each pooling its own sibling model; any other model is
    loaded once and shared, since for it pooling is only a readout (core/model/resolve.py)."""
    loaded: dict = {}
    out = {}
    for p, spec in specs_for(model, pretrained, poolings, device, dtype, activation).items():
        if spec not in loaded:
            loaded[spec] = Engine.load(spec)
        out[p] = loaded[spec]
    return out

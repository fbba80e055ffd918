"""Deletion and insertion curves of the map on screen, computed on the worker (Qt-free).

The same measurement `eval --faithfulness` averages over a dataset (core/evaluation/faithfulness.py),
for one map: the model that made it, the pooling it is read out under, the text it is a map of."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eclip_desktop.viewer.state import ModelChoice


@dataclass(frozen=True)
class FaithfulnessRequest:
    path: str
    model: ModelChoice
    method: str
    pooling: str
    text: str
    ensemble: bool
    tau: str
    steps: int

    def describe(self) -> str:
        from eclip_desktop.core.explain.methods import METHODS
        from eclip_desktop.core.model.poolings import short_pooling
        label = METHODS[self.method].label if self.method in METHODS else self.method
        return f"{label} \u00b7 {short_pooling(self.pooling)} \u00b7 \u201c{self.text}\u201d"


@dataclass
class FaithfulnessResult:
    request: FaithfulnessRequest
    fraction: np.ndarray  # share of pixels changed at each point
    deletion: np.ndarray  # cosine after each step
    insertion: np.ndarray
    deletion_auc: float
    insertion_auc: float


def faithfulness_job(req: FaithfulnessRequest, values: np.ndarray):
    """values: the map as drawn (full image size); its order decides which pixels go first."""
    def run(ctx) -> FaithfulnessResult:
        from eclip_desktop.core.evaluation.faithfulness import deletion_insertion, readout_embedder
        from eclip_desktop.core.model.trained import readout_tau
        image, _ = ctx.state.image(req.path)
        ctx.check()
        engine = ctx.state.engine(req.model.spec(req.pooling), ctx)
        analysis = engine.analyse([image])[0]
        text = engine.texts.encode([req.text], ensemble=req.ensemble)[0]
        ctx.progress(f"deletion and insertion: {2 * (req.steps + 1)} forwards \u2026")
        embed = readout_embedder(engine.handle, [req.pooling], readout_tau(req.tau, engine.handle.trained_tau))
        curves = deletion_insertion(embed, analysis.pixels(), values, text, steps=req.steps)
        deletion, insertion = curves.deletion.reshape(-1), curves.insertion.reshape(-1)
        return FaithfulnessResult(req, curves.fraction, deletion, insertion,
                                  float(np.atleast_1d(curves.deletion_auc)[0]),
                                  float(np.atleast_1d(curves.insertion_auc)[0]))
    return run

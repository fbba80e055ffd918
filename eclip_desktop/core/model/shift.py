"""Which pooling of a family shows the semantic shift, read from the measurements in its model cards.

ECLIP's semantic shift: a model trained with some poolings (plain average pooling, typically)
learns to put the text's evidence on the background, so its similarity map lights up around the
object instead of on it. Each family card stores the ITSM evaluation of its model on held-out
Shapes World scenes (mSC: mean similarity contrast, object minus background, in %; bg_preferred:
the share of scenes whose map prefers the background). The window names the shifted pooling from
those numbers rather than from a fixed list, so a family trained later is described truthfully.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.model.family import available_poolings, card


@dataclass(frozen=True)
class PoolingEvidence:
    pooling: str
    msc: float  # object minus background similarity contrast, %; below 0 the map prefers the background
    bg_preferred: float  # share of held-out scenes whose map prefers the background (0..1)

    @property
    def shifted(self) -> bool:
        return self.msc < 0.0 or self.bg_preferred > 0.5


@dataclass(frozen=True)
class ShiftSummary:
    evidence: tuple[PoolingEvidence, ...]

    @property
    def shifted(self) -> list[PoolingEvidence]:
        """The shifted poolings, most shifted first."""
        return sorted((e for e in self.evidence if e.shifted), key=lambda e: e.msc)

    @property
    def best(self) -> PoolingEvidence:
        """The pooling whose map sits most on the object."""
        return max(self.evidence, key=lambda e: e.msc)


def itsm_metrics(model_card: dict) -> dict | None:
    """The card's ITSM evaluation: `metrics.itsm`, else the first generalisation suite's
    (`itsm_gen300`: the suite the window's sentences and docs/RESULTS.md quote), else the first
    other `metrics.itsm_*` entry (cards of later families name the protocol in the key, e.g.
    `itsm_1-3_objects`, `itsm_gen2-300` for the second suite)."""
    metrics = model_card.get("metrics")
    if not isinstance(metrics, dict):
        return None
    keys = ["itsm"] + sorted((k for k in metrics if isinstance(k, str) and k.startswith("itsm_")),
                             key=lambda k: (not re.fullmatch(r"itsm_gen\d+", k), k))
    for key in keys:
        m = metrics.get(key)
        if isinstance(m, dict) and isinstance(m.get("msc"), (int, float)):
            return m
    return None


def family_shift(name: str) -> ShiftSummary | None:
    """The measured evidence of each sibling, or None when the cards carry no ITSM evaluation."""
    evidence = []
    for pooling in available_poolings(name):
        try:
            m = itsm_metrics(card(pooling, name))
        except ModelError:
            continue
        if m is not None:
            evidence.append(PoolingEvidence(pooling, float(m["msc"]), float(m.get("bg_preferred", 0.0) or 0.0)))
    return ShiftSummary(tuple(evidence)) if evidence else None

"""Side by side: the picture and one map (the shown prompt's, under the chosen method and pooling)."""
from __future__ import annotations

KEY, LABEL, SHORT = "side", "Side by side", "Side by side"


def pairs(analysis, model) -> list[tuple[str, str]]:
    return [(analysis.method, analysis.pooling)]

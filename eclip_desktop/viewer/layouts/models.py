"""Model comparison: the first model's map beside a second model's, same image, prompt, method, pooling."""
from __future__ import annotations

KEY, LABEL, SHORT = "compare", "Model comparison", "Models"


def pairs(analysis, model) -> list[tuple[str, str]]:
    return [(analysis.method, analysis.pooling)]


def tiles(s):
    from eclip_desktop.viewer.compare import compare_tiles  # compare.py builds on the scene's helpers
    header, out, *compact = compare_tiles(s.model, s.maps, s.note, s.analysis, s.display, s.compare)
    return header, out, compact[0] if compact else ""

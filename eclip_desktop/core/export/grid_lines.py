"""What a grid figure says beside its tiles, shared by `export --grid` and the window's grid exports:
per tile its raw range (each tile is stretched to its own range, so the colours alone do not compare
across tiles) or its ConVis support, and in the title the model(s) the tiles come from."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from eclip_desktop.core.figures.grids import score_caption
from eclip_desktop.core.figures.render import short_model_name


def raw_range_line(raw_range, uniform: bool = False) -> str:
    """'raw 0.012 … 0.31' (or 'uniform' for a constant map), '' when the range is unknown."""
    if uniform:
        return "uniform (no contrast to show)"
    if isinstance(raw_range, (list, tuple)) and len(raw_range) == 2 and all(isinstance(v, (int, float))
                                                                          for v in raw_range):
        return f"raw {float(raw_range[0]):.3g} \u2026 {float(raw_range[1]):.3g}"
    return ""


def support_line(support) -> str:
    if not isinstance(support, Mapping):
        return ""
    if support.get("reason") and not support.get("supported"):
        return "support: not tested"
    through = f" through {support['through']}" if support.get("through") else ""
    verdict = "supported" if support.get("supported") else "not supported"
    return f"{verdict}{through} (p = {float(support.get('p_value', 1.0)):.3g})"


def tile_lines(caption: str, meta: Mapping, scores: Mapping | None = None) -> list[str]:
    """A tile's caption rows: its name, its zero-shot scores (CLIP maps), its raw range or support."""
    lines = [caption, score_caption(scores)]
    lines.append(support_line(meta.get("support")) if meta.get("method") == "convis"
                 else raw_range_line(meta.get("raw_range"), bool(meta.get("uniform"))))
    return [line for line in lines if line]


def model_line(metas: Sequence[Mapping]) -> str:
    """'model: X' when every tile comes from one model, else 'models: X, Y' in tile order."""
    names = list(dict.fromkeys(short_model_name(str(m.get("model") or "?"), m.get("pretrained")) for m in metas))
    return f"model: {names[0]}" if len(names) == 1 else f"models: {', '.join(names)}"

"""Is an image inside the world a model was trained on? One decision for the window, every command
and every export.

A model whose card says it was trained on Shapes World (its `data.source` starts with "shapes", as
every card `train` writes on that data does, the embedded families' included) knows nothing else: its
maps and scores on a photograph mean little. Whether an image is a Shapes World scene is decided from
provenance (core/shapes/domain.py), not from the pixels. Models without such a card (open_clip weights,
checkpoints trained elsewhere) are not judged: the tool cannot know their training domain.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from eclip_desktop.core.shapes.domain import is_shapes_world_image

SHAPES_SOURCE = "shapes"
CARD_LIMIT = 4 << 20  # a card is a few KB; anything larger is not one of ours


@lru_cache(maxsize=64)
def _card_source(weights: str) -> str | None:
    path = Path(weights).expanduser()
    card = path.with_name(path.name.split(".")[0] + ".json")
    try:
        if not card.is_file() or card.stat().st_size > CARD_LIMIT:
            return None
        data = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    source = data.get("data", {}).get("source") if isinstance(data, dict) and isinstance(data.get("data"), dict) \
        else None
    return source if isinstance(source, str) else None


def shapes_world_model(model_info: dict) -> bool:
    """Trained on Shapes World only, as its weights' card says."""
    weights = model_info.get("pretrained")
    if not isinstance(weights, str) or not weights:
        return False
    source = _card_source(weights)
    return source is not None and source.split(":")[0] == SHAPES_SOURCE


def verdict(image_path: str | None, model_info: dict) -> dict:
    """{"out_of_domain": bool, "reason": str} for this image under this model."""
    if not shapes_world_model(model_info):
        return {"out_of_domain": False,
                "reason": "not judged: the model's training data is not recorded as Shapes World"}
    name = Path(str(image_path)).name if image_path else "this image"
    if image_path and is_shapes_world_image(image_path):
        return {"out_of_domain": False, "reason": f"{name} is a Shapes World scene, the model's training world"}
    return {"out_of_domain": True,
            "reason": f"the model was trained only on Shapes World scenes and {name} is not one (no Shapes World "
                      "provenance beside it): its maps and scores say little about it"}


def note(v: dict) -> str | None:
    """One line for stderr and figure title blocks, or None when the image is in the model's domain."""
    return f"out of domain: {v['reason']}" if v.get("out_of_domain") else None

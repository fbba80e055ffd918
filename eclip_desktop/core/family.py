"""The embedded default family: small CLIPs trained here on Shapes World, one per pooling.

`--model eclip-shapes` names the family; its pooling picks the sibling trained with that pooling,
so switching pooling switches the dense features too, which is how a user sees semantic shift.
Checkpoints live in resources/models/eclip-shapes/<pooling>.safetensors with a model card
<pooling>.json (architecture, training command, data seed, steps, wall time, metrics).
"""
from __future__ import annotations

import json
from pathlib import Path

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.models import RESOURCES, ModelSpec
from eclip_desktop.core.poolings import pooling_names

FAMILY = "eclip-shapes"
FAMILY_DIR = RESOURCES / "models" / FAMILY


def checkpoint_path(pooling: str) -> Path:
    return FAMILY_DIR / f"{pooling}.safetensors"


def card(pooling: str) -> dict:
    path = FAMILY_DIR / f"{pooling}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"model card {path} is missing or unreadable: {exc}") from exc


def available_poolings() -> list[str]:
    return [p for p in pooling_names() if checkpoint_path(p).is_file() and (FAMILY_DIR / f"{p}.json").is_file()]


def family_available() -> bool:
    return bool(available_poolings())


def is_family(name: str) -> bool:
    return name == FAMILY


def family_spec(pooling: str = "masked_max", device: str = "auto", dtype: str = "auto") -> ModelSpec:
    """The sibling trained with `pooling`, as a plain ModelSpec (architecture + checkpoint path)."""
    if pooling not in available_poolings():
        have = ", ".join(available_poolings()) or "none"
        raise ModelError(f"the embedded family has no model trained with pooling '{pooling}' (have: {have}); "
                         f"the models belong in {FAMILY_DIR}")
    return ModelSpec(card(pooling)["architecture"], str(checkpoint_path(pooling)), device, dtype)


def default_spec(device: str = "auto") -> ModelSpec:
    """What the CLI and the app use when the user names no model: the family's masked-max model."""
    poolings = available_poolings()
    if not poolings:
        raise ModelError(f"the embedded models are missing from {FAMILY_DIR}; reinstall, or choose a model "
                         "with --model/--pretrained")
    return family_spec("masked_max" if "masked_max" in poolings else poolings[0], device)


def engines_for(model: str | None, pretrained: str | None, poolings: list[str], device: str = "auto",
                dtype: str = "auto") -> dict:
    """pooling -> Engine. The family gives each pooling its own sibling model; any other model is
    loaded once and shared, since for it pooling is only a readout."""
    from eclip_desktop.core.engine import Engine
    if model is None:
        model = FAMILY if family_available() else "ViT-B-16"
    if is_family(model):
        return {p: Engine.load(family_spec(p, device, dtype)) for p in poolings}
    engine = Engine.load(ModelSpec(model, pretrained, device, dtype))
    return {p: engine for p in poolings}

"""Which model serves which pooling — one rule for the command line and the window.

A family (the embedded one, or a folder of siblings trained by `train --out`) is one model per
pooling: the pooling picks the sibling trained with it. Any other model is one network for which
the pooling is only a readout, so every pooling gets the same spec.
"""
from __future__ import annotations

from pathlib import Path

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.model import family
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.model.spec import ModelSpec


def default_model() -> str:
    """What runs when no model is named: the embedded family when installed, else ViT-B-16."""
    return family.FAMILY if family.family_available() else "ViT-B-16"


def is_family_choice(model: str, pretrained: str | None) -> bool:
    return pretrained is None and family.is_family(model)


def poolings_for(model: str, pretrained: str | None = None) -> list[str]:
    """The poolings a model can show: a family's siblings, or every readout of one model."""
    return family.available_poolings(model) if is_family_choice(model, pretrained) else pooling_names()


def spec_for(model: str | None, pretrained: str | None, pooling: str, device: str = "auto", dtype: str = "auto",
             activation: str = "auto") -> ModelSpec:
    """The model that computes maps under `pooling`."""
    model = model if model is not None else default_model()
    if family.is_family(model):
        if pretrained is not None:
            raise ModelError(f"{family.family_label(model)} is a family of trained models, one per pooling: "
                             f"--pretrained {pretrained!r} does not apply to it")
        return family.family_spec(pooling, device, dtype, name=model)
    if Path(model).expanduser().is_dir():
        family.family_folder(model)  # raises: a folder, but no trained siblings in it
    return ModelSpec(model, pretrained, device, dtype, activation)


def specs_for(model: str | None, pretrained: str | None, poolings: list[str], device: str = "auto",
              dtype: str = "auto", activation: str = "auto") -> dict[str, ModelSpec]:
    """pooling -> spec; one model's poolings share one spec (and so one loaded engine)."""
    return {p: spec_for(model, pretrained, p, device, dtype, activation) for p in poolings}

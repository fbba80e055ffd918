"""Which open_clip architectures eclip-desktop can explain, and why not, decided without weights.

The image tower is judged by the same rule as at load time (`visual_kind`): open_clip's own towers
from their config, timm towers built on the meta device (no memory, no initialisation; well under a
second each). The text side only matters where it needs the optional `transformers` package.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import open_clip
import torch

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.model import kinds


@dataclass(frozen=True)
class TowerSupport:
    architecture: str
    kind: str | None  # the image tower's kind (core/model/kinds.py); None when it is refused
    reason: str = ""  # why it cannot be explained, or what it needs first
    needs: str = ""  # an optional package missing here ("transformers"); the tower itself is supported

    @property
    def explainable(self) -> bool:
        return self.kind is not None and not self.needs

    def describe(self) -> str:
        if self.explainable:
            return f"explainable ({self.kind})"
        if self.kind is not None:
            return f"needs {self.needs}: {self.reason}"
        return f"not explainable: {self.reason}"


def _has_transformers() -> bool:
    return importlib.util.find_spec("transformers") is not None


def image_kind(architecture: str) -> str:
    """The image tower's kind, or ModelError with the reason, as load_model would decide it."""
    from eclip_desktop.core.model.loading import visual_kind
    cfg = open_clip.get_model_config(architecture)
    if not cfg:
        raise ModelError(f"open_clip has no config for {architecture}")
    vision = cfg.get("vision_cfg", {})
    if not vision.get("timm_model_name"):
        if isinstance(vision.get("layers"), (list, tuple)):
            return kinds.RESNET
        if vision.get("attentional_pool"):
            raise ModelError("vision transformers with an attentional pooler (CoCa) are not supported")
        return kinds.VIT
    from open_clip.model import _build_vision_tower  # the builder create_model uses for the image tower
    try:
        with torch.device("meta"):
            visual = _build_vision_tower(cfg["embed_dim"], vision)
    except Exception as exc:  # timm and open_clip raise their own types for a tower they cannot build
        raise ModelError(f"the image tower cannot be built: {str(exc).splitlines()[0][:200]}") from exc
    return visual_kind(visual)


def tower_support(architecture: str) -> TowerSupport:
    try:
        kind = image_kind(architecture)
    except ModelError as exc:
        return TowerSupport(architecture, None, str(exc))
    text = (open_clip.get_model_config(architecture) or {}).get("text_cfg", {})
    if text.get("hf_model_name") and not _has_transformers():
        return TowerSupport(architecture, kind, f"its text tower is the Hugging Face model {text['hf_model_name']}",
                            needs="transformers")
    if text.get("hf_tokenizer_name") and not _has_transformers():
        return TowerSupport(architecture, kind, f"its tokenizer is the Hugging Face tokenizer {text['hf_tokenizer_name']}",
                            needs="transformers")
    return TowerSupport(architecture, kind)

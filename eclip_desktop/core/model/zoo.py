"""Which open_clip architectures eclip-desktop can explain, and why not, decided without weights.

The image tower is judged by the same rule as at load time (`visual_kind`): open_clip's own towers
from their config, timm towers built on the meta device (no memory; the initialisers' in-place writes,
which hold no values there, skipped: a tenth of a second each). The text side only matters where it
needs the optional `transformers` package.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import open_clip
import torch
from torch.overrides import TorchFunctionMode

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.io.shorten import shorten
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


# What initialisers write in place. On a meta tensor they change nothing (no values, same shape), yet
# torch runs its reference kernels for them: two thirds of the time a timm tower takes to build there.
_INIT_OPS = frozenset({"uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                       "kaiming_normal_", "orthogonal_", "constant_", "ones_", "zeros_", "fill_", "zero_", "clamp_",
                       "erfinv_", "mul_", "add_", "sub_", "div_", "copy_", "exponential_", "bernoulli_"})


class _SkipMetaInit(TorchFunctionMode):
    """Skips _INIT_OPS on meta tensors (this thread only, inside the `with`)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in _INIT_OPS and args and isinstance(args[0], torch.Tensor) \
                and args[0].is_meta:
            return args[0]
        return func(*args, **(kwargs or {}))


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
        with torch.device("meta"), _SkipMetaInit():
            visual = _build_vision_tower(cfg["embed_dim"], vision)
    except Exception as exc:  # timm and open_clip raise their own types for a tower they cannot build
        raise ModelError(f"the image tower cannot be built: {shorten(str(exc).splitlines()[0], 200)}") from exc
    return visual_kind(visual)


def image_support(architecture: str) -> tuple[str | None, str]:
    """(kind, "") or (None, why not): the image side alone, the costly part (the window caches it)."""
    try:
        return image_kind(architecture), ""
    except ModelError as exc:
        return None, str(exc)


def tower_support(architecture: str, image: tuple[str | None, str] | None = None) -> TowerSupport:
    """`image`: image_support's answer when the caller already has it; the text side is judged here,
    against the packages installed now."""
    kind, reason = image if image is not None else image_support(architecture)
    if kind is None:
        return TowerSupport(architecture, None, reason)
    text = (open_clip.get_model_config(architecture) or {}).get("text_cfg", {})
    if text.get("hf_model_name") and not _has_transformers():
        return TowerSupport(architecture, kind, f"its text tower is the Hugging Face model {text['hf_model_name']}",
                            needs="transformers")
    if text.get("hf_tokenizer_name") and not _has_transformers():
        return TowerSupport(architecture, kind, f"its tokenizer is the Hugging Face tokenizer {text['hf_tokenizer_name']}",
                            needs="transformers")
    return TowerSupport(architecture, kind)

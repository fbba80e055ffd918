"""The masked-max guide (METHODS §3, docs/METHODS.md "The masked-max guide"): which attention picks
the tokens masked max pools over, and whether it was ever trained.

Per architecture the guide is the attention of the model's own pooling query over the patch tokens,
averaged over heads and detached:
- ViT (open_clip VisionTransformer): the class token's row of the last block's attention.
- ResNet (ModifiedResNet): the mean-token query of the attention pool.
- timm ViT with a MAP head (SigLIP, SigLIP2, PE-Core): the head's learned query's attention.
- timm ViT/EVA pooled by the class token (EVA01/02): the class token's row in the last block.
- timm towers pooled by a plain mean (ViTamin; ConvNeXt, FastViT): none. Their pooling weighs every
  patch alike, so the free attention is uniform and masked max guided by it would keep every patch
  (plain max): `train` refuses the guided poolings there (NO_GUIDE) and says so.
When fine-tuning, it is read from a frozen copy of the starting weights. That query is only
meaningful if the starting model was trained WITH it as its pooling ("native"): a model trained
with avg, max or masked_max pooling never used its class token / attention-pool query, so its
attention is whatever initialisation and indirect gradients left there. Measured: a masked-max
fine-tune from the avg-trained ViT took mSC from -27 to -35 (docs/RESULTS.md), from the
native-trained one from +16 to +41.
"""
from __future__ import annotations

import json
from pathlib import Path

from eclip_desktop.core.model.kinds import TIMM_CONV, TIMM_VIT_AVG, TIMM_VIT_CLS, TIMM_VIT_MAP

GUIDE = {
    "vit": "the class token's attention in the last block",
    "resnet": "the attention pool's mean-token query",
    TIMM_VIT_MAP: "the MAP head's query attention",
    TIMM_VIT_CLS: "the class token's attention in the last block",
}
NO_GUIDE = {
    TIMM_VIT_AVG: "this tower averages its patch tokens (ViTamin)",
    TIMM_CONV: "this convolutional tower (ConvNeXt, FastViT) averages its last feature map",
}
# Poolings whose training used the guide's query as THE pooling, so its attention is trained.
TRAINED_GUIDE_POOLINGS = ("native",)


def weights_pooling(pretrained: str) -> tuple[str | None, str]:
    """(the pooling `pretrained` was trained with, where that was read) — (None, why) if unknown.
    Published CLIP weights (an open_clip tag) were trained with their own pooling."""
    path = Path(pretrained).expanduser()
    if not path.is_file():
        return "native", f"'{pretrained}' names published CLIP weights, trained with their own pooling"
    if path.name.endswith(".safetensors"):
        try:
            from safetensors import safe_open
            with safe_open(str(path), framework="pt") as f:
                pooling = (f.metadata() or {}).get("pooling")
            if pooling:
                return pooling, "the weights' metadata"
        except Exception:  # an unreadable file is reported by the loader, with its own message
            pass
    stem = path.name[:-len(".ckpt.pt")] if path.name.endswith(".ckpt.pt") else path.stem
    card = path.with_name(stem + ".json")
    if card.is_file():
        try:
            pooling = json.loads(card.read_text()).get("pooling")
            if isinstance(pooling, str) and pooling:
                return pooling, f"its model card {card.name}"
        except (OSError, ValueError):
            pass
    if path.name.endswith(".ckpt.pt"):
        from eclip_desktop.core.model.checkpoint import read_checkpoint
        try:
            pooling = read_checkpoint(path).get("pooling")
            if isinstance(pooling, str) and pooling:
                return pooling, "the training checkpoint"
        except (OSError, ValueError):
            pass
    return None, "no metadata, card or checkpoint field names the pooling it was trained with"


def architecture_kind(architecture: str) -> str:
    """The image tower's kind from the open_clip config ('resnet' or 'vit' without building anything;
    a timm tower is judged on the meta device, core/model/zoo.py)."""
    import open_clip

    from eclip_desktop.core.model.loading import register_project_configs
    register_project_configs()
    config = open_clip.get_model_config(architecture) or {}
    vision = config.get("vision_cfg", {})
    if vision.get("timm_model_name"):
        from eclip_desktop.core.model.zoo import image_support
        kind, _ = image_support(architecture)
        return kind or "timm"
    return "resnet" if isinstance(vision.get("layers"), (list, tuple)) else "vit"


def no_guide_reason(kind: str, pooling: str) -> str | None:
    """Why `pooling` (one that keeps tokens by free attention) cannot be trained on this kind, or None."""
    why = NO_GUIDE.get(kind)
    if why is None:
        return None
    return (f"--pooling {pooling} keeps the tokens its free attention picks, and {why}: the free attention is "
            f"uniform, so {pooling} would keep every token and train plain max; use --pooling max (or native)")


def untrained_guide_reason(pretrained: str, kind: str, flag: str = "--pretrained") -> str | None:
    """Why a masked-max fine-tune from `pretrained` would be guided by an untrained attention, or
    None when the guide is trained (or its provenance is unknown: a user's file without a card)."""
    pooling, where = weights_pooling(pretrained)
    if pooling is None or pooling in TRAINED_GUIDE_POOLINGS:
        return None
    guide = GUIDE.get(kind, "the pooling query's attention")
    return (f"{flag} {pretrained} was trained with pooling '{pooling}' ({where}), so {guide} was never "
            f"trained as a pooling and cannot guide masked max; start from (or --guide with) a model trained with "
            f"native pooling, or pass --allow-untrained-guide to fine-tune anyway")

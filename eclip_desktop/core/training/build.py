"""The model a run trains: a fresh open_clip model (from scratch, optionally from earlier weights) or
pretrained weights with only the last visual parts unlocked, the frozen guide a fine-tune takes free
attention from, and the optimiser over what trains."""
from __future__ import annotations

import copy

import open_clip
import torch

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.model.kinds import TIMM_ATTENTION_KINDS, TIMM_CONV
from eclip_desktop.core.model.loading import (
    ModelSpec,
    load_model,
    quiet_open_clip,
    register_project_configs,
    visual_kind,
)
from eclip_desktop.core.training.config import TrainConfig, TrainingError
from eclip_desktop.core.training.init_weights import load_resized

TRAINABLE_KINDS = ("vit", "resnet", *TIMM_ATTENTION_KINDS, TIMM_CONV)


def _check_trainable(cfg: TrainConfig, kind: str) -> None:
    from eclip_desktop.core.model.poolings import POOLINGS
    from eclip_desktop.core.training.guide import no_guide_reason
    if kind not in TRAINABLE_KINDS:
        raise TrainingError(f"train supports open_clip's ViT and ResNet and timm's ViT, EVA, ConvNeXt and FastViT "
                            f"image towers; {cfg.architecture} has a {kind} tower")
    why = no_guide_reason(kind, cfg.pooling) if POOLINGS[cfg.pooling].uses_free_attention else None
    if why:
        raise TrainingError(f"{cfg.architecture}: {why}")


def _timm_last_parts(visual, kind: str, unlock_blocks: int) -> list:
    """As for open_clip's towers: the last blocks (ViT) or the head, and the last stage when more than
    one block is unlocked (conv), with every layer between them and the embedding."""
    trunk = visual.trunk
    if kind == TIMM_CONV:
        parts = [trunk.head, getattr(trunk, "final_conv", None)] + ([trunk.stages[-1]] if unlock_blocks > 1 else [])
    else:
        parts = [*list(trunk.blocks)[-max(1, unlock_blocks):], trunk.norm, trunk.fc_norm, trunk.head,
                 getattr(trunk, "attn_pool", None)]
    return [p for p in parts if p is not None] + [visual.head]


def _unlock_last_visual_parts(visual, kind: str, unlock_blocks: int) -> None:
    if kind in (*TIMM_ATTENTION_KINDS, TIMM_CONV):
        parts = _timm_last_parts(visual, kind, unlock_blocks)
    elif kind == "vit":
        parts = [*list(visual.transformer.resblocks)[-max(1, unlock_blocks):], visual.ln_post]
        if visual.proj is not None:
            visual.proj.requires_grad_(True)
    else:
        parts = [visual.attnpool] + ([visual.layer4] if unlock_blocks > 1 else [])
    for part in parts:
        part.requires_grad_(True)


def _pretrained(cfg: TrainConfig, device: torch.device):
    handle = load_model(ModelSpec(cfg.architecture, cfg.pretrained, str(device), "fp32"))
    model, kind = handle.model, handle.kind
    _check_trainable(cfg, kind)
    model.requires_grad_(False)
    _unlock_last_visual_parts(model.visual, kind, cfg.unlock_blocks)
    guide = None
    if cfg.uses_guide():
        source = model.visual
        if cfg.guide:
            source = load_model(ModelSpec(cfg.architecture, cfg.guide, str(device), "fp32")).model.visual
        guide = copy.deepcopy(source).eval().requires_grad_(False)
    return model, guide, kind


def _from_scratch(cfg: TrainConfig):
    try:
        with quiet_open_clip():
            model = open_clip.create_model(cfg.architecture, pretrained=None)
    except RuntimeError as exc:
        raise TrainingError(f"unknown architecture '{cfg.architecture}': {exc}") from exc
    if cfg.init:
        try:
            load_resized(model, cfg.init)
        except EclipError as exc:
            raise TrainingError(str(exc)) from exc
    kind = visual_kind(model.visual)
    _check_trainable(cfg, kind)
    return model, None, kind


def build_model(cfg: TrainConfig, device: torch.device):
    """(model, guide visual or None, kind, trainable parameters)."""
    register_project_configs()
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model, guide, kind = _pretrained(cfg, device) if cfg.pretrained else _from_scratch(cfg)
    model = model.to(device).train()
    if cfg.pretrained:
        model.eval()  # batch-norm statistics of a pretrained ResNet stay as they are
    params = [p for p in model.parameters() if p.requires_grad]
    return model, guide, kind, params


def build_optimizer(model, params, cfg: TrainConfig) -> torch.optim.Optimizer:
    trainable = {id(p) for p in params}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if id(p) not in trainable:
            continue
        (no_decay if p.ndim < 2 or "embedding" in name or "logit_scale" in name else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))

"""Dense features of open_clip's timm image towers (`TimmModel`), in the DenseFeatures contract of
features.py (METHODS "timm image towers").

Four kinds (core/model/kinds.py), told apart by structure, not by name:
- timm-vit-map (SigLIP, SigLIP2, PE-Core): the trunk's tokens go one by one through the MAP head's
  value and output projections and its residual MLP, as the ResNet's attention pool is treated; the
  free attention is the learned query's attention over the patches.
- timm-vit-cls (EVA01/02, MobileCLIP-B, MobileCLIP2-L): the trunk's final norm, fc_norm and head per
  token; the free attention is the class token's attention in the last block, computed by hand from
  the block's input (timm_blocks.query_attention; the block itself still computes the stream).
- timm-vit-avg (ViTamin): as timm-vit-cls; the head's fc_norm, applied after the mean by the model,
  is applied per token; the free attention is uniform (the mean weights every patch alike).
- timm-conv (ConvNeXt, FastViT/MobileCLIP-S): the head applied at every location of the last feature
  map. Per location: ConvNeXt's head norm (a LayerNorm over channels, applied by the model after the
  global mean), the pre-logits, fc and open_clip's projection; not per location: the global average
  itself. The free attention is uniform.
Every kind's pooled embedding is the trunk's own `forward_head` and open_clip's head on the same
features, so it equals `encode_image` at the native input size.

Other input sizes: absolute position embeddings are resampled the way timm resamples them
(`resample_abs_pos_embed`, copies), RoPE is rebuilt from its frequency bands for the new grid, conv
towers take any size. A MAP head with its own position embedding (none in open_clip's zoo) keeps its
native size only. The model is only read: no hooks, no attribute or parameter changes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.model import kinds
from eclip_desktop.core.model import timm_blocks as tb
from eclip_desktop.core.model.timm_blocks import Module

if TYPE_CHECKING:
    from eclip_desktop.core.model.features import DenseFeatures

SURGERY_DEPTH = 6  # as features.SURGERY_DEPTH (not imported: features imports this module)
_AVERAGE_POOLS = ("avg", "fast", "fastavg")
_PER_TOKEN_HEAD = (nn.Identity, nn.Dropout, nn.Linear)


# ---------------------------------------------------------------------------------------- kinds

def _is_vit(trunk: Module) -> bool:
    from timm.models.eva import Eva
    from timm.models.vision_transformer import VisionTransformer
    return isinstance(trunk, (VisionTransformer, Eva))


def _check_per_token(modules: list, where: str) -> None:
    """A head applied per token must hold only per-token layers (an MLP is Linear/activation/Dropout)."""
    from timm.layers import Mlp
    for child in modules:
        if not isinstance(child, (*_PER_TOKEN_HEAD, Mlp)):
            raise ModelError(f"{where} holds {type(child).__name__}, which cannot be applied per token")


def _check_conv_head(head: Module) -> None:
    from timm.layers import ClassifierHead, NormMlpClassifierHead
    if not isinstance(head, (ClassifierHead, NormMlpClassifierHead)):
        raise ModelError(f"the timm head {type(head).__name__} is not supported for dense features")
    pool = getattr(head.global_pool, "pool_type", "")
    if pool not in _AVERAGE_POOLS:
        raise ModelError(f"the tower pools its feature map with '{pool}', not an average; only a global "
                         "average pool can be applied per location")
    if any(isinstance(m, nn.Conv2d) for m in head.modules()):
        raise ModelError("a timm head with 1x1 convolutions (use_conv) is not supported for dense features")


def timm_kind(visual: Module) -> str:
    """The kind of an open_clip TimmModel, or ModelError naming why it cannot be explained."""
    trunk = visual.trunk
    _check_per_token(list(visual.head.children()), "open_clip's projection head")
    if _is_vit(trunk):
        if getattr(trunk, "rope_mixed", False):
            raise ModelError("timm towers with per-block mixed RoPE are not supported for dense features")
        for blk in list(trunk.blocks)[-SURGERY_DEPTH:]:
            tb.check_block(blk)
        _check_per_token([trunk.head_drop, trunk.head], "the trunk's head")
        if getattr(trunk, "attn_pool", None) is not None:
            tb.check_map_head(trunk.attn_pool)
            return kinds.TIMM_VIT_MAP
        pool = trunk.global_pool
        if pool == "token" and trunk.cls_token is not None:
            return kinds.TIMM_VIT_CLS
        if pool == "avg":
            return kinds.TIMM_VIT_AVG
        raise ModelError(f"timm ViT pooling '{pool}' is not supported for dense features "
                         "(supported: MAP head, class token, average)")
    name = type(trunk).__name__
    if name in ("ConvNeXt", "FastVit"):
        if getattr(trunk, "fork_feat", False):
            raise ModelError("a FastViT built for dense prediction (fork_feat) has no pooled embedding")
        _check_conv_head(trunk.head)
        return kinds.TIMM_CONV
    raise ModelError(f"the timm tower {name} is not supported: eclip-desktop explains timm ViT and EVA "
                     "towers (MAP head, class token or average pooling), ConvNeXt and FastViT")


# ------------------------------------------------------------------------------------ embedding

def _patches(trunk: Module, pixels: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """(B, N, C) patch tokens and their grid, by the patch embedding's own layers at any input size
    (its forward refuses sizes other than the native one)."""
    pe = trunk.patch_embed
    x = pixels
    backbone = getattr(pe, "backbone", None)  # HybridEmbed (ViTamin, MobileCLIP-B): a conv stem first
    if backbone is not None:
        x = backbone(x)
        x = x[-1] if isinstance(x, (list, tuple)) else x
    if getattr(pe, "dynamic_img_pad", False):
        ph, pw = pe.patch_size
        x = F.pad(x, (0, (pw - x.shape[-1] % pw) % pw, 0, (ph - x.shape[-2] % ph) % ph))
    x = pe.proj(x)
    grid = (int(x.shape[-2]), int(x.shape[-1]))
    x = x.flatten(2).transpose(1, 2)
    norm = getattr(pe, "norm", None)
    return (norm(x) if norm is not None else x), grid


def _native_grid(trunk: Module) -> tuple[int, int]:
    return tuple(int(s) for s in trunk.patch_embed.grid_size)  # type: ignore[return-value]


def rope_table(trunk: Module, grid: tuple[int, int]) -> torch.Tensor | None:
    """The RoPE table the trunk's blocks take for an h x w patch grid, or None without RoPE (methods
    that re-run blocks from the kept states need it too)."""
    rope = getattr(trunk, "rope", None)
    if rope is None:
        return None
    if grid == _native_grid(trunk):  # exactly the trunk's own choice at its native size
        return rope.get_embed() if hasattr(rope, "feat_shape") else rope.get_embed(shape=list(grid))
    if not getattr(rope, "_use_cached_embed", False):
        return rope.get_embed(shape=list(grid))
    build = getattr(rope, "_build_embed_cat", None)
    if build is None:
        raise ModelError(f"this timm version cannot rebuild the tower's RoPE for a {grid[0]}x{grid[1]} grid; "
                         "use the model's own input size")
    # The cached table is for the native grid only; the bands it was built from give any grid.
    return build(list(grid), rope.bands)


def embed(trunk: Module, pixels: torch.Tensor):
    """(tokens with prefix and positions, grid, RoPE table or None), as the trunk's _pos_embed."""
    from timm.layers import resample_abs_pos_embed
    x, grid = _patches(trunk, pixels)
    pos = trunk.pos_embed
    npt = trunk.num_prefix_tokens
    if pos is not None and grid != _native_grid(trunk):
        pos = resample_abs_pos_embed(pos, new_size=list(grid), old_size=list(_native_grid(trunk)),
                                     num_prefix_tokens=0 if trunk.no_embed_class else npt)
    prefix = [t.expand(x.shape[0], -1, -1) for t in (trunk.cls_token, getattr(trunk, "reg_token", None))
              if t is not None]
    if trunk.no_embed_class:
        x = x + pos if pos is not None else x
        x = torch.cat([*prefix, x], dim=1)
    else:
        x = torch.cat([*prefix, x], dim=1)
        x = x + pos if pos is not None else x
    x = trunk.pos_drop(x)
    rope = rope_table(trunk, grid)
    if trunk.patch_drop is not None:
        out = trunk.patch_drop(x)
        x, keep = out if isinstance(out, tuple) else (out, None)
        if keep is not None:
            raise ModelError("patch dropout is active (a tower in training mode): dense features need every patch")
    return trunk.norm_pre(x), grid, rope


# ------------------------------------------------------------------------------------------ ViT

def token_head(visual: Module, kind: str, normed: torch.Tensor) -> torch.Tensor:
    """Every patch token of the trunk's normed output through the head the pooled vector takes."""
    trunk = visual.trunk
    tokens = normed[:, trunk.num_prefix_tokens:]
    if kind == kinds.TIMM_VIT_MAP:
        tokens = tb.map_per_token(trunk.attn_pool, tokens)
    return visual.head(trunk.head(trunk.head_drop(trunk.fc_norm(tokens))))


def map_reads_prefix(trunk: Module) -> bool:
    # timm's ViT drops the prefix tokens before its MAP head unless told otherwise; EVA keeps them.
    return bool(getattr(trunk, "pool_include_prefix", True))


def pooling_row(visual: Module, kind: str, normed: torch.Tensor) -> torch.Tensor:
    """(B, L) how the pooled embedding weights each token of the trunk's normed output (prefix tokens
    included): the class token alone, the patches' mean, or the MAP query's attention. The last row of
    attention rollout for towers that are not pooled by a class token."""
    trunk = visual.trunk
    npt = trunk.num_prefix_tokens
    b, length = normed.shape[:2]
    row = torch.zeros(b, length, device=normed.device, dtype=torch.float32)
    if kind == kinds.TIMM_VIT_CLS:
        row[:, 0] = 1.0
    elif kind == kinds.TIMM_VIT_AVG:
        row[:, npt:] = 1.0 / (length - npt)
    elif map_reads_prefix(trunk):
        row = tb.map_free_attention(trunk.attn_pool, normed).float()
    else:
        row[:, npt:] = tb.map_free_attention(trunk.attn_pool, normed[:, npt:]).float()
    return row


def trunk_embedding(visual: Module, x: torch.Tensor) -> torch.Tensor:
    """The image embedding (== encode_image) from the last block's output (B, L, C)."""
    return visual.head(visual.trunk.forward_head(visual.trunk.norm(x)))


def vit_dense(visual: Module, kind: str, pixels: torch.Tensor) -> DenseFeatures:
    from eclip_desktop.core.model.features import DenseFeatures
    trunk = visual.trunk
    x, grid, rope = embed(trunk, pixels)
    blocks = list(trunk.blocks)
    first_kept = max(0, len(blocks) - SURGERY_DEPTH)
    states = []
    for i, blk in enumerate(blocks):
        if i >= first_kept:
            states.append(x)
        x = blk(x, rope=rope) if rope is not None else blk(x)
    normed = trunk.norm(x)
    npt = trunk.num_prefix_tokens
    n = grid[0] * grid[1]
    if kind == kinds.TIMM_VIT_MAP:
        read = normed if map_reads_prefix(trunk) else normed[:, npt:]
        free = tb.map_free_attention(trunk.attn_pool, read)
        free = free[:, npt:] if map_reads_prefix(trunk) else free
    elif kind == kinds.TIMM_VIT_CLS:
        free = tb.query_attention(blocks[-1], states[-1], rope)[:, npt:]
    else:
        free = torch.full((x.shape[0], n), 1.0 / n, device=x.device)
    pooled = visual.head(trunk.forward_head(normed))
    return DenseFeatures(tokens=token_head(visual, kind, normed), pooled=pooled, free_attention=free.float(),
                         grid=grid, surgery_states=states, kind=kind)


def vit_surgery_tokens(visual: Module, kind: str, states: list[torch.Tensor]) -> torch.Tensor:
    """v-v path over the kept inputs of the last blocks, MLP skipped (METHODS §4), then the kind's
    per-token head. RoPE is not needed: it turns q and k only."""
    trunk = visual.trunk
    blocks = list(trunk.blocks)[-len(states):]
    x_new = states[0]
    for blk, x_ori in zip(blocks, states):
        x_new = x_new + tb.attention_branch(blk, tb.vv_attention(blk.attn, tb.attention_input(blk, x_ori)))
    return token_head(visual, kind, trunk.norm(x_new))


# ----------------------------------------------------------------------------------------- conv

def _conv_head_per_location(visual: Module, fmap: torch.Tensor) -> torch.Tensor:
    """(B, h*w, D): the trunk's head and open_clip's projection at every location of (B, C, h, w)."""
    head = visual.trunk.head
    norm = getattr(head, "norm", None)
    x = norm(fmap) if norm is not None else fmap  # LayerNorm2d: over channels, per location
    x = x.flatten(2).transpose(1, 2)
    x = getattr(head, "pre_logits", nn.Identity())(x)
    return visual.head(head.fc(head.drop(x)))


def conv_dense(visual: Module, pixels: torch.Tensor) -> DenseFeatures:
    from eclip_desktop.core.model.features import DenseFeatures
    trunk = visual.trunk
    fmap = trunk.forward_features(pixels)
    grid = (int(fmap.shape[-2]), int(fmap.shape[-1]))
    n = grid[0] * grid[1]
    pooled = visual.head(trunk.forward_head(fmap))
    free = torch.full((fmap.shape[0], n), 1.0 / n, device=fmap.device)
    # The last feature map is what gradient methods would start from (as a ResNet's layer4).
    return DenseFeatures(tokens=_conv_head_per_location(visual, fmap), pooled=pooled, free_attention=free,
                         grid=grid, surgery_states=[fmap], kind=kinds.TIMM_CONV)


# ---------------------------------------------------------------------------------------- entry

def timm_dense(visual: Module, kind: str, pixels: torch.Tensor) -> DenseFeatures:
    if kind == kinds.TIMM_CONV:
        return conv_dense(visual, pixels)
    return vit_dense(visual, kind, pixels)


def timm_surgery_tokens(visual: Module, kind: str, states: list[torch.Tensor]) -> torch.Tensor:
    if kind not in kinds.TIMM_ATTENTION_KINDS:
        raise ModelError(f"CLIP Surgery's v-v path needs attention blocks; a {kind} tower has none")
    return vit_surgery_tokens(visual, kind, states)

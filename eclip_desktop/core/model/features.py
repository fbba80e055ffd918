"""Dense image features in the joint space for open_clip ViTs and ModifiedResNets (METHODS §1, §4).

One pass computes, for a batch of preprocessed images: the projected patch tokens, the pooled
embedding (identical to `encode_image`), the pooling query's attention over the patches (free
attention) and the states CLIP Surgery's v-v path needs, so that Surgery later costs a few
attention products and never a second run of the image encoder.

The model is only read: positional embeddings for other input sizes are interpolated copies,
no hooks are registered, no parameter or attribute is changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import torch
import torch.nn.functional as F
from torch import nn

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.model.kinds import TIMM_KINDS

if TYPE_CHECKING:
    # open_clip ships no type information: for mypy these are Any, and the towers are read by attribute.
    from open_clip.modified_resnet import ModifiedResNet
    from open_clip.transformer import ResidualAttentionBlock, VisionTransformer

# The image tower of an open_clip CLIP: a ViT or a ModifiedResNet.
VisualTower = Union["VisionTransformer", "ModifiedResNet"]

SURGERY_DEPTH = 6


@dataclass
class DenseFeatures:
    """Per batch: everything the methods and pooling readouts need, detached, in float32 on the CPU."""

    tokens: torch.Tensor  # (B, N, D) projected patch tokens, class/mean token excluded
    pooled: torch.Tensor  # (B, D) the model's own pooled embedding (== encode_image)
    free_attention: torch.Tensor  # (B, N) pooling query's attention over patches, heads averaged
    grid: tuple[int, int]  # (h, w) with h * w == N
    # Kind-specific states later methods start from (model dtype, device): ViT, the inputs of the last
    # SURGERY_DEPTH blocks; ResNet, the attention pool's input tokens and layer4's output.
    surgery_states: list[torch.Tensor]
    kind: str


def interpolate_grid_embedding(pos: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """A resized COPY of a (1 + G*G, C) positional embedding for an h x w token grid."""
    n_grid = pos.shape[0] - 1
    side = int(round(n_grid ** 0.5))
    if side * side != n_grid:
        raise ModelError(f"positional embedding of {n_grid} grid tokens is not square")
    if (side, side) == tuple(grid):
        return pos
    cls, patches = pos[:1], pos[1:]
    patches = patches.reshape(1, side, side, -1).permute(0, 3, 1, 2).float()
    patches = F.interpolate(patches, size=grid, mode="bicubic", align_corners=False)
    patches = patches.permute(0, 2, 3, 1).reshape(grid[0] * grid[1], -1).to(pos.dtype)
    return torch.cat([cls, patches], dim=0)


def _split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, c = x.shape
    return x.reshape(b, n, heads, c // heads).transpose(1, 2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


def _self_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int):
    """Multi-head attention of every query; returns (merged output, weights (B, heads, Nq, Nk))."""
    q, k, v = (_split_heads(t, heads) for t in (q, k, v))
    weights = torch.softmax((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1), dim=-1)
    return _merge_heads(weights @ v), weights


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Multi-head attention output only, through the fused kernel (no weights are needed)."""
    q, k, v = (_split_heads(t, heads) for t in (q, k, v))
    return _merge_heads(F.scaled_dot_product_attention(q, k, v))


def _project(visual: VisualTower, x: torch.Tensor) -> torch.Tensor:
    return x @ visual.proj if getattr(visual, "proj", None) is not None else x


# ----------------------------------------------------------------------------------------- ViT

def _vit_blocks(visual: VisualTower):
    blocks = list(visual.transformer.resblocks)
    for blk in blocks[-SURGERY_DEPTH:]:
        if not isinstance(getattr(blk, "attn", None), nn.MultiheadAttention) or hasattr(blk, "ln_attn"):
            raise ModelError(f"{type(blk).__name__} blocks are not supported for dense features "
                             "(expected open_clip ResidualAttentionBlock with nn.MultiheadAttention)")
    return blocks


def _run_block(visual: VisualTower, blk: ResidualAttentionBlock, x: torch.Tensor) -> torch.Tensor:
    if getattr(visual.transformer, "batch_first", True):
        return blk(x)
    return blk(x.transpose(0, 1)).transpose(0, 1)


def _last_block_with_attention(blk: ResidualAttentionBlock, x: torch.Tensor):
    """The block's own computation, but asking its attention for the averaged weights."""
    y = blk.ln_1(x)
    batch_first = getattr(blk.attn, "batch_first", False)
    yy = y if batch_first else y.transpose(0, 1)
    out, weights = blk.attn(yy, yy, yy, need_weights=True, average_attn_weights=True)
    out = out if batch_first else out.transpose(0, 1)
    x = x + blk.ls_1(out)
    x = x + blk.ls_2(blk.mlp(blk.ln_2(x)))
    return x, weights


def vit_embed(visual: VisualTower, pixels: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """Tokens entering the first block for (B, 3, S, S) pixels (conv1, class token, positions resized
    to the grid, ln_pre), and the (h, w) token grid."""
    x = visual.conv1(pixels)
    grid = (x.shape[-2], x.shape[-1])
    x = x.flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(x.dtype).reshape(1, 1, -1).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1)
    x = x + interpolate_grid_embedding(visual.positional_embedding, grid).to(x.dtype)
    return visual.ln_pre(visual.patch_dropout(x)), grid


def _vit_dense(visual: VisualTower, pixels: torch.Tensor) -> DenseFeatures:
    blocks = _vit_blocks(visual)
    x, grid = vit_embed(visual, pixels)
    first_surgery = max(0, len(blocks) - SURGERY_DEPTH)
    states = []
    for i, blk in enumerate(blocks[:-1]):
        if i >= first_surgery:
            states.append(x)
        x = _run_block(visual, blk, x)
    states.append(x)
    x, weights = _last_block_with_attention(blocks[-1], x)
    pool_type = getattr(visual, "pool_type", "tok")
    normed = visual.ln_post(x)
    tokens = _project(visual, normed[:, 1:])
    n = tokens.shape[1]
    if pool_type == "avg":
        pooled_in = visual.ln_post(x[:, 1:].mean(1)) if getattr(visual, "final_ln_after_pool", False) \
            else normed[:, 1:].mean(1)
        free = torch.full((x.shape[0], n), 1.0 / n, device=x.device)
    elif pool_type == "tok":
        pooled_in = normed[:, 0]
        free = weights[:, 0, 1:].float()
    else:
        raise ModelError(f"ViT pool_type '{pool_type}' is not supported")
    return DenseFeatures(tokens=tokens, pooled=_project(visual, pooled_in), free_attention=free,
                         grid=grid, surgery_states=states, kind="vit")


def _vit_surgery_tokens(visual: VisualTower, states: list[torch.Tensor]) -> torch.Tensor:
    """v-v path over the stored original-stream inputs of the last blocks; MLP skipped (METHODS §4)."""
    blocks = _vit_blocks(visual)[-len(states):]
    x_new = states[0]
    for blk, x_ori in zip(blocks, states):
        attn = blk.attn
        width = x_ori.shape[-1]
        y = blk.ln_1(x_ori)
        w_v = attn.in_proj_weight[2 * width:]
        b_v = attn.in_proj_bias[2 * width:] if attn.in_proj_bias is not None else None
        v = F.linear(y, w_v, b_v)
        out = _attend(v, v, v, attn.num_heads)
        x_new = x_new + blk.ls_1(attn.out_proj(out))
    return _project(visual, visual.ln_post(x_new)[:, 1:])


# -------------------------------------------------------------------------------------- ResNet

def _resnet_dense(visual: VisualTower, pixels: torch.Tensor) -> DenseFeatures:
    x = visual.stem(pixels)
    x = visual.layer4(visual.layer3(visual.layer2(visual.layer1(x))))
    layer4 = x
    grid = (x.shape[-2], x.shape[-1])
    x = x.flatten(2).transpose(1, 2)
    x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
    pool = visual.attnpool
    x = x + interpolate_grid_embedding(pool.positional_embedding, grid).to(x.dtype)
    # Every token is a query (METHODS §1), not only the mean token.
    out, weights = _self_attention(pool.q_proj(x), pool.k_proj(x), pool.v_proj(x), pool.num_heads)
    out = pool.c_proj(out)
    free = weights[:, :, 0, 1:].mean(1).float()
    return DenseFeatures(tokens=out[:, 1:], pooled=out[:, 0], free_attention=free, grid=grid,
                         surgery_states=[x, layer4], kind="resnet")


def _resnet_surgery_tokens(visual: VisualTower, states: list[torch.Tensor]) -> torch.Tensor:
    pool = visual.attnpool
    v = pool.v_proj(states[0])
    out = _attend(v, v, v, pool.num_heads)
    return pool.c_proj(out)[:, 1:]


# --------------------------------------------------------------------------------------- entry

def dense_forward(visual: VisualTower, kind: str, pixels: torch.Tensor) -> DenseFeatures:
    """Dense features on the model's device, differentiable (training uses this directly)."""
    if kind in TIMM_KINDS:
        from eclip_desktop.core.model.timm_features import timm_dense  # timm is imported for timm towers only
        return timm_dense(visual, kind, pixels)
    return _vit_dense(visual, pixels) if kind == "vit" else _resnet_dense(visual, pixels)


@torch.no_grad()
def encode_dense(visual: VisualTower, kind: str, pixels: torch.Tensor) -> DenseFeatures:
    """Dense features for a (B, 3, S, S) batch already on the model's device and dtype."""
    feats = dense_forward(visual, kind, pixels)
    feats.tokens = feats.tokens.float().cpu()
    feats.pooled = feats.pooled.float().cpu()
    feats.free_attention = feats.free_attention.float().cpu()
    return feats


@torch.no_grad()
def surgery_tokens(visual: VisualTower, kind: str, states: list[torch.Tensor]) -> torch.Tensor:
    """(B, N, D) projected tokens of the v-v path, float32 on the CPU."""
    if kind in TIMM_KINDS:
        from eclip_desktop.core.model.timm_features import timm_surgery_tokens
        return timm_surgery_tokens(visual, kind, states).float().cpu()
    fn = _vit_surgery_tokens if kind == "vit" else _resnet_surgery_tokens
    return fn(visual, states).float().cpu()

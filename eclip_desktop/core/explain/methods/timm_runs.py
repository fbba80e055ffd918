"""timm image towers (core/model/timm_features.py) re-run for the comparison methods: the blocks with
their attention's parts in view (timm_blocks), the embedding from the last block's output, the inputs
of earlier blocks. The counterpart of vit_blocks.py for open_clip's own ViT; the model is only read.

Importable without torch or timm: the registry imports the methods, which import this, before torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eclip_desktop.core.explain.methods.vit_blocks import kept_or_rerun
from eclip_desktop.core.lazy import lazy

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")


@dataclass
class Attention:
    """One block's attention as its forward computes it: the input y, q/k/v split into heads
    (B, heads, L, head_dim; q and k normed and turned by RoPE), the probabilities (B, heads, L, L)."""

    y: Any
    q: Any
    k: Any
    v: Any
    probs: Any


def _tb():
    from eclip_desktop.core.model import timm_blocks
    return timm_blocks


def _tf():
    from eclip_desktop.core.model import timm_features
    return timm_features


def blocks(visual) -> list:
    return list(visual.trunk.blocks)


def prefix(visual) -> int:
    """Tokens before the patches (class token, registers)."""
    return int(visual.trunk.num_prefix_tokens)


def rope(analysis):
    """The RoPE table of the analysis' grid, or None: the blocks take it for q and k."""
    return _tf().rope_table(analysis.handle.visual.trunk, analysis.grid)


def embed(analysis):
    """(tokens entering the first block, RoPE table or None) for the analysis' pixels."""
    x, _, table = _tf().embed(analysis.handle.visual.trunk, analysis.pixels())
    return x, table


def attention(blk, x, rope_table) -> Attention:
    tb = _tb()
    y = tb.attention_input(blk, x)
    q, k, v = tb.qkv(blk.attn, y, rope_table)
    return Attention(y, q, k, v, tb.probabilities(blk.attn, q, k))


def finish(blk, x, y, heads_out):
    """The rest of the block from its heads' output (B, heads, L, head_dim): output path, residuals, MLP."""
    tb = _tb()
    x = x + tb.attention_branch(blk, tb.attention_output(blk.attn, y, heads_out))
    return x + tb.mlp_branch(blk, x)


def block_input(analysis, index: int):
    """The (1, L, C) input of block `index` of a timm tower (vit_blocks.kept_or_rerun); EVA's blocks
    take the rotary table its embedding made."""
    rope: list = []

    def tokens():
        x, table = embed(analysis)
        rope.append(table)
        return x

    def step(blk, x):
        return blk(x, rope=rope[0]) if rope[0] is not None else blk(x)
    return kept_or_rerun(analysis, blocks(analysis.handle.visual), index, "timm_block_input", tokens, step)


def embedding(visual, x):
    """The image embedding (== encode_image) from the last block's output."""
    return _tf().trunk_embedding(visual, x)


def pooling_row(visual, kind: str, x):
    """(B, L) the pooling's weights over the last block's output tokens (timm_features.pooling_row)."""
    return _tf().pooling_row(visual, kind, visual.trunk.norm(x))

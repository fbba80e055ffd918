"""timm's attention blocks and MAP head run by hand with their parts in view (the attention
probabilities, the values, the residual branch), for the dense features of timm image towers.

The towers' own modules still compute everything the pooled embedding depends on; what is computed
here is only what they do not hand out: which tokens a query attends to, the v-v path of CLIP
Surgery, and the MAP head's value path for every token. `tests/test_timm_towers.py` checks each hand
run against the module it mirrors. The model is only read: no hooks, no attribute or parameter changes.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import Attention, AttentionPoolLatent, AttentionRope, apply_rot_embed_cat
from timm.models.eva import EvaAttention, EvaBlock, EvaBlockPostNorm
from timm.models.vision_transformer import Block

from eclip_desktop.core.errors import ModelError

# timm's towers, blocks and heads are read by attribute across several classes (ViT, EVA, their
# attentions and heads): to mypy they are Any, as open_clip's towers are.
Module = Any

ATTENTIONS = (Attention, EvaAttention, AttentionRope)
BLOCKS = (Block, EvaBlock, EvaBlockPostNorm)


def check_block(blk: Module) -> None:
    """Refuses, naming them, the blocks and attentions this module does not know how to run by hand."""
    if not isinstance(blk, BLOCKS):
        raise ModelError(f"timm {type(blk).__name__} blocks are not supported for dense features "
                         f"(supported: {', '.join(b.__name__ for b in BLOCKS)})")
    attn = blk.attn
    if not isinstance(attn, ATTENTIONS):
        raise ModelError(f"timm {type(attn).__name__} attention is not supported for dense features "
                         f"(supported: {', '.join(a.__name__ for a in ATTENTIONS)})")


def check_map_head(pool: Module) -> None:
    if not isinstance(pool, AttentionPoolLatent):
        raise ModelError(f"the attention-pool head {type(pool).__name__} is not supported for dense features "
                         "(supported: timm AttentionPoolLatent, the MAP head)")
    if pool.pool not in ("token", "avg", "", None):
        raise ModelError(f"MAP head pooling '{pool.pool}' is not supported")


# ---------------------------------------------------------------------------------- attention

def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    b, n, _ = t.shape
    return t.reshape(b, n, heads, -1).transpose(1, 2)


def qkv(attn: Module, y: torch.Tensor, rope: torch.Tensor | None = None):
    """q, k, v (B, heads, N, head_dim) of the attention's input y, as its own forward computes them:
    fused or separate projections, EVA's q/v biases, q/k norms, RoPE on the patch tokens."""
    b, n, _ = y.shape
    heads = attn.num_heads
    if getattr(attn, "qkv", None) is not None:
        q_bias = getattr(attn, "q_bias", None)
        if q_bias is not None:  # EVA: bias of q and v only (k's is a zero buffer)
            out = F.linear(y, attn.qkv.weight, torch.cat((q_bias, attn.k_bias, attn.v_bias)))
        else:
            out = attn.qkv(y)
        q, k, v = out.reshape(b, n, 3, heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
    else:
        kv_heads = getattr(attn, "num_kv_heads", heads)
        q = _heads(attn.q_proj(y), heads)
        k, v = _heads(attn.k_proj(y), kv_heads), _heads(attn.v_proj(y), kv_heads)
        if kv_heads != heads:  # grouped-query attention: head h reads kv head h // groups
            k, v = k.repeat_interleave(heads // kv_heads, dim=1), v.repeat_interleave(heads // kv_heads, dim=1)
    q, k = attn.q_norm(q), attn.k_norm(k)
    if rope is not None:
        npt = attn.num_prefix_tokens
        half = getattr(attn, "rotate_half", False)
        q = torch.cat([q[:, :, :npt], apply_rot_embed_cat(q[:, :, npt:], rope, half=half)], dim=2).type_as(v)
        k = torch.cat([k[:, :, :npt], apply_rot_embed_cat(k[:, :, npt:], rope, half=half)], dim=2).type_as(v)
    return q, k, v


def values(attn: Module, y: torch.Tensor) -> torch.Tensor:
    """v (B, heads, N, head_dim) alone, projecting v only (CLIP Surgery's v-v path needs no q or k)."""
    heads = attn.num_heads
    if getattr(attn, "qkv", None) is not None:
        width = attn.qkv.weight.shape[0] // 3
        bias = attn.v_bias if getattr(attn, "q_bias", None) is not None else attn.qkv.bias
        if bias is not None and bias.shape[0] != width:
            bias = bias[2 * width:]
        return _heads(F.linear(y, attn.qkv.weight[2 * width:], bias), heads)
    kv_heads = getattr(attn, "num_kv_heads", heads)
    v = _heads(attn.v_proj(y), kv_heads)
    return v.repeat_interleave(heads // kv_heads, dim=1) if kv_heads != heads else v


def probabilities(attn: Module, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """(B, heads, Nq, Nk) softmax(q k^T * scale), the attention's own scale."""
    return torch.softmax((q * attn.scale) @ k.transpose(-2, -1), dim=-1)


def attention_output(attn: Module, y: torch.Tensor, heads_out: torch.Tensor) -> torch.Tensor:
    """The attention module's output from its heads' result (B, heads, N, head_dim): heads merged,
    scale norm, gate (computed from the input y), output projection."""
    b, _, n, _ = heads_out.shape
    x = attn.norm(heads_out.transpose(1, 2).reshape(b, n, -1))
    gate = getattr(attn, "gate", None)
    if gate is not None:
        x = x * gate(y).sigmoid()
    return attn.proj(x)


def attention_by_hand(attn: Module, y: torch.Tensor, rope: torch.Tensor | None = None):
    """(output, probabilities (B, heads, N, N)): the module's forward, with the weights kept."""
    q, k, v = qkv(attn, y, rope)
    probs = probabilities(attn, q, k)
    return attention_output(attn, y, probs @ v), probs


def vv_attention(attn: Module, y: torch.Tensor) -> torch.Tensor:
    """CLIP Surgery's v-v attention: values attend to values (METHODS §4), through the output path."""
    v = values(attn, y)
    return attention_output(attn, y, F.scaled_dot_product_attention(v, v, v))


# ------------------------------------------------------------------------------------- blocks

def attention_input(blk: Module, x: torch.Tensor) -> torch.Tensor:
    """What the block's attention reads: the pre-norm of x, or x itself in EVA's post-norm blocks."""
    return x if isinstance(blk, EvaBlockPostNorm) else blk.norm1(x)


def attention_branch(blk: Module, out: torch.Tensor) -> torch.Tensor:
    """The residual branch the block adds for an attention output (layer scale, gamma, post-norm)."""
    if isinstance(blk, EvaBlockPostNorm):
        return blk.norm1(out)
    if isinstance(blk, EvaBlock):
        return out if blk.gamma_1 is None else blk.gamma_1 * out
    return blk.ls1(out)


def mlp_branch(blk: Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(blk, EvaBlockPostNorm):
        return blk.norm2(blk.mlp(x))
    if isinstance(blk, EvaBlock):
        out = blk.mlp(blk.norm2(x))
        return out if blk.gamma_2 is None else blk.gamma_2 * out
    return blk.ls2(blk.mlp(blk.norm2(x)))


def block_by_hand(blk: Module, x: torch.Tensor, rope: torch.Tensor | None = None):
    """(block output, attention probabilities): the block run from its parts (tests compare it to blk)."""
    y = attention_input(blk, x)
    out, probs = attention_by_hand(blk.attn, y, rope)
    x = x + attention_branch(blk, out)
    return x + mlp_branch(blk, x), probs


def query_attention(blk: Module, x: torch.Tensor, rope: torch.Tensor | None, query: int = 0) -> torch.Tensor:
    """(B, N) the attention of token `query` over every token in this block, heads averaged."""
    q, k, _ = qkv(blk.attn, attention_input(blk, x), rope)
    return probabilities(blk.attn, q[:, :, query:query + 1], k)[:, :, 0].mean(1)


# ------------------------------------------------------------------------------------ MAP head

def map_attention(pool: Module, x: torch.Tensor) -> torch.Tensor:
    """(B, latents, N) the learned queries' attention over the tokens the MAP head reads, heads averaged."""
    b, n, c = x.shape
    if pool.pos_embed is not None:
        x = x + pool.pos_embed.unsqueeze(0).to(x.dtype)
    heads = pool.num_heads
    q = pool.q(pool.latent.expand(b, -1, -1)).reshape(b, pool.latent_len, heads, -1).transpose(1, 2)
    k = pool.kv(x).reshape(b, n, 2, heads, -1).permute(2, 0, 3, 1, 4)[0]
    q, k = pool.q_norm(q), pool.k_norm(k)
    return torch.softmax((q * pool.scale) @ k.transpose(-2, -1), dim=-1).mean(1)


def map_free_attention(pool: Module, x: torch.Tensor) -> torch.Tensor:
    """(B, N) what the pooled output reads: the first latent's attention ('token') or the latents' mean."""
    probs = map_attention(pool, x)
    return probs[:, 0] if pool.pool == "token" else probs.mean(1)


def map_per_token(pool: Module, x: torch.Tensor) -> torch.Tensor:
    """Every token through the MAP head as if the query attended to it alone: its value, the output
    projection and the head's residual MLP (what the pooled output is for a one-token image)."""
    if pool.pos_embed is not None:
        x = x + pool.pos_embed.unsqueeze(0).to(x.dtype)
    c = pool.kv.out_features // 2
    v = pool.kv(x)[..., c:]  # kv's output is (k | v), each laid out as (heads, head_dim)
    out = pool.proj(v)
    if pool.mlp is not None:
        out = out + pool.mlp(pool.norm(out))
    return out

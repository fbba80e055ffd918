"""open_clip ViT blocks run by hand with their attention's parts in view, for the comparison methods
(Grad-CAM, attention rollout, GAME, Grad-ECLIP) that need the probabilities, q/k/v or the output
before `out_proj`. Batch-first throughout, like the analysis' `states`. The model is only read.

Importable without torch: the registry imports the methods, which import this, before torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.lazy import lazy

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
else:
    torch = lazy("torch")
    F = lazy("torch.nn.functional")


@dataclass
class Attention:
    """One block's attention for (B, L, C) input: the ln_1 output, q/k/v from in_proj (before any head
    split), the probabilities (B, heads, L, L) and the heads' merged output before out_proj."""

    y: torch.Tensor
    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    probs: torch.Tensor
    out: torch.Tensor


def blocks(visual) -> list:
    """The tower's residual blocks, checked to be the open_clip blocks these helpers re-run."""
    found = list(visual.transformer.resblocks)
    for blk in found:
        attn = getattr(blk, "attn", None)
        if not isinstance(attn, torch.nn.MultiheadAttention) or hasattr(blk, "ln_attn") or attn.in_proj_weight is None:
            raise ModelError(f"{type(blk).__name__} blocks are not supported by the gradient and attention methods "
                             "(expected open_clip ResidualAttentionBlock with nn.MultiheadAttention)")
    return found


def check_class_token_pooling(visual, method: str) -> None:
    """Methods that read the class token's row explain nothing when the tower pools otherwise: the
    class token's last output is then unused and its gradients are zero."""
    pool_type = getattr(visual, "pool_type", "tok")
    if pool_type != "tok":
        raise ModelError(f"{method} explains the class token, which this ViT's pooling ('{pool_type}') does not read")


def project_qkv(blk, y):
    """q, k, v (B, L, C) of the ln_1 output y, exactly as the block's in_proj computes them."""
    return F.linear(y, blk.attn.in_proj_weight, blk.attn.in_proj_bias).chunk(3, dim=-1)


def split_heads(t, heads: int):
    b, n, c = t.shape
    return t.reshape(b, n, heads, c // heads).transpose(1, 2)


def merge_heads(t):
    b, h, n, d = t.shape
    return t.transpose(1, 2).reshape(b, n, h * d)


def probabilities(q, k, heads: int):
    """Softmax attention (B, heads, L, L), scaled by the head width as nn.MultiheadAttention does."""
    qh, kh = split_heads(q, heads), split_heads(k, heads)
    return torch.softmax((qh * qh.shape[-1] ** -0.5) @ kh.transpose(-2, -1), dim=-1)


def attend(probs, v):
    """Probabilities (B, heads, L, L) applied to v (B, L, C): the merged output before out_proj."""
    return merge_heads(probs @ split_heads(v, probs.shape[1]))


def attention_of_norm(blk, y, heads: int | None = None) -> Attention:
    """The block's attention on its ln_1 output y; `heads` other than the block's own recomputes it with
    that many heads over the same q, k, v (Grad-ECLIP's authors use one head over the full width)."""
    q, k, v = project_qkv(blk, y)
    probs = probabilities(q, k, heads or blk.attn.num_heads)
    return Attention(y, q, k, v, probs, attend(probs, v))


def attention(blk, x, heads: int | None = None) -> Attention:
    return attention_of_norm(blk, blk.ln_1(x), heads)


def finish(blk, x, out):
    """The rest of the block after its attention: out_proj, residual, MLP, residual."""
    x = x + blk.ls_1(blk.attn.out_proj(out))
    return x + blk.ls_2(blk.mlp(blk.ln_2(x)))


def run_block(blk, x):
    return finish(blk, x, attention(blk, x).out)


def embed(visual, pixels):
    """Tokens entering the first block for (B, 3, S, S) pixels (conv1, class token, positions, ln_pre)."""
    from eclip_desktop.core.model.features import vit_embed
    return vit_embed(visual, pixels)[0]


def kept_or_rerun(analysis, found: list, index: int, name: str, tokens, step):
    """The (1, L, C) input of block `index` of the blocks `found`: a kept state where the analysis has
    one, else `tokens()` (the embedded pixels) through `step(block, x)` for the blocks before it (no
    gradients; memoised per image under `name`). Shared by open_clip's ViT and the timm towers."""
    first_kept = len(found) - len(analysis.states)
    if index >= first_kept:
        return analysis.states[index - first_kept]

    def compute():
        # Call without holding the model's lock: memo's lock, then the model's, as every method takes them.
        with analysis.handle.lock, torch.no_grad():
            x = tokens()
            for blk in found[:index]:
                x = step(blk, x)
        return x
    return analysis.memo((name, index), compute)


def block_input(analysis, index: int):
    """The (1, L, C) input of block `index` of an open_clip ViT."""
    visual = analysis.handle.visual
    return kept_or_rerun(analysis, blocks(visual), index, "vit_block_input",
                         lambda: embed(visual, analysis.pixels()), run_block)


def embedding(visual, x):
    """The tower's image embedding (== encode_image) from the last block's output (B, L, C)."""
    pool_type = getattr(visual, "pool_type", "tok")
    if pool_type == "tok":
        pooled = visual.ln_post(x[:, 0])
    elif pool_type == "avg":
        pooled = visual.ln_post(x[:, 1:].mean(1)) if getattr(visual, "final_ln_after_pool", False) \
            else visual.ln_post(x[:, 1:]).mean(1)
    else:
        raise ModelError(f"ViT pool_type '{pool_type}' is not supported")
    return pooled @ visual.proj if getattr(visual, "proj", None) is not None else pooled


def cosines(embedding_, texts):
    """(B, D) image embeddings x (T, D) normalised texts -> (B, T) cosine, in float32."""
    return F.normalize(embedding_.float(), dim=-1) @ texts.to(device=embedding_.device, dtype=torch.float32).T

"""Attention rollout (Abnar & Zuidema 2020), as Chefer's and Grad-ECLIP's `compute_rollout_attention`:
every block's head-averaged attention plus the identity, rows normalised, multiplied through from the
first block; the class token's row over the patches. The same map for every text.

timm towers: the same product over their blocks (RoPE, registers and all), read by the pooling's own
row where there is no class token: the MAP head's query attention (SigLIP) or the patches' mean
(ViTamin) times the product, i.e. the pooling treated as one more attention without a residual."""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.explain.methods import timm_runs, vit_blocks
from eclip_desktop.core.explain.methods.base import Method
from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.kinds import ALL_KINDS, TIMM_CONV

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")

METHOD = Method(
    "rollout", "Attention rollout", "every block's attention multiplied through; the same map for every text",
    module="rollout", needs="forward", kinds=ALL_KINDS,
    refuses={"resnet": "attention rollout multiplies a transformer's per-block attention; a ResNet has one attention pool",
             TIMM_CONV: "attention rollout multiplies a transformer's per-block attention; a convolutional tower "
                        "(ConvNeXt, FastViT) has none"},
    hint="Text-independent: every prompt gets the same map.")


def _query_key_probabilities(blk, x):
    """Head-averaged probabilities from q and k alone (v is not needed where the block's output is kept)."""
    y = blk.ln_1(x)
    width = y.shape[-1]
    bias = blk.attn.in_proj_bias[:2 * width] if blk.attn.in_proj_bias is not None else None
    q, k = torch.nn.functional.linear(y, blk.attn.in_proj_weight[:2 * width], bias).chunk(2, dim=-1)
    return vit_blocks.probabilities(q, k, blk.attn.num_heads)


def rollout_row(analysis):
    """(N,) the class token's row of the rollout over the patch tokens, float32 on the CPU.

    The blocks whose inputs the analysis kept only need their q and k; the earlier ones run again
    from the pixels (one partial forward per image)."""
    handle = analysis.handle
    visual = handle.visual
    found = vit_blocks.blocks(visual)
    first_kept = len(found) - len(analysis.states)
    joint = None
    with handle.lock, torch.no_grad():
        x = vit_blocks.embed(visual, analysis.pixels()) if first_kept > 0 else None
        for i, blk in enumerate(found):
            if i >= first_kept:
                probs = _query_key_probabilities(blk, analysis.states[i - first_kept])
            else:
                att = vit_blocks.attention(blk, x)
                probs = att.probs
                x = vit_blocks.finish(blk, x, att.out)
            a = probs[0].float().mean(0)
            a = a + torch.eye(a.shape[-1], device=a.device)
            a = a / a.sum(-1, keepdim=True)
            joint = a if joint is None else a @ joint
    return joint[0, 1:].cpu()


def _normalised(probs):
    """Heads averaged, identity added, rows summing to 1 (one block's factor of the product)."""
    a = probs[0].float().mean(0)
    a = a + torch.eye(a.shape[-1], device=a.device)
    return a / a.sum(-1, keepdim=True)


def timm_rollout_row(analysis):
    """(N,) the pooling's row of the rollout over the patch tokens of a timm tower (every block runs
    again from the pixels, by hand, once per image)."""
    handle = analysis.handle
    visual = handle.visual
    joint = None
    with handle.lock, torch.no_grad():
        x, table = timm_runs.embed(analysis)
        for blk in timm_runs.blocks(visual):
            att = timm_runs.attention(blk, x, table)
            x = timm_runs.finish(blk, x, att.y, att.probs @ att.v)
            a = _normalised(att.probs)
            joint = a if joint is None else a @ joint
        row = timm_runs.pooling_row(visual, handle.kind, x)[0]
    return (row @ joint)[timm_runs.prefix(visual):].cpu()


def scores(job, **_):
    fn = rollout_row if job.analysis.handle.kind == "vit" else timm_rollout_row
    row = job.analysis.memo(("rollout",), lambda: fn(job.analysis))
    return row[None].repeat(job.texts.shape[0], 1)

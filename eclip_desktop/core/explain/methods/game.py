"""GAME: Chefer et al. 2021, "Generic attention-model explainability for interpreting bi-modal and
encoder-decoder transformers", for CLIP's image tower as in the authors' CLIP notebook.

Target: logits_per_image for the text (logit_scale x cosine). For each accumulated block,
cam = mean over heads of (dA/d target * A) clamped at 0; R = I, then R = R + cam @ R from the first
accumulated block to the last; the map is R's class-token row over the patches.

timm towers pooled by their class token (EVA, EVA02) the same way, through their own blocks (RoPE,
registers dropped from the row); towers pooled otherwise are refused: the class token's row is what
GAME explains, and a MAP head (SigLIP) or a mean (ViTamin) never reads it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.explain.methods import timm_runs, vit_blocks
from eclip_desktop.core.explain.methods.base import Method, Option
from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.kinds import ALL_KINDS, TIMM_CONV, TIMM_VIT_AVG, TIMM_VIT_CLS, TIMM_VIT_MAP

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")

METHOD = Method(
    "game", "GAME (Chefer et al.)", "gradient-weighted attention of the last blocks, relevance propagated",
    module="game", needs="gradients", slow=True, kinds=ALL_KINDS,
    refuses={"resnet": "GAME propagates relevance through transformer attention blocks; a ResNet tower has none",
             TIMM_CONV: "GAME propagates relevance through transformer attention blocks; a convolutional tower "
                        "(ConvNeXt, FastViT) has none",
             TIMM_VIT_MAP: "GAME explains the class token's row, and this tower pools with a MAP attention head "
                           "(SigLIP) that has no class token",
             TIMM_VIT_AVG: "GAME explains the class token's row, which this tower's average pooling (ViTamin) never reads"},
    options=(
        Option("blocks", int, 1, "blocks", "how many of the last blocks to accumulate (1: the last only, as the "
               "authors' notebook)", minimum=1, maximum=64),
    ))


def relevance(probs, grads, prefix: int = 1):
    """R's class-token row over the patches, from each block's probabilities and gradients (1, heads, L, L);
    `prefix`: the tokens before the patches."""
    n = probs[0].shape[-1]
    r = torch.eye(n, device=probs[0].device)
    for a, g in zip(probs, grads):
        cam = (g.float() * a.float()).clamp(min=0).mean(dim=1)[0]
        r = r + cam @ r
    return r[0, prefix:]


def _timm_scores(job, blocks: int):
    analysis = job.analysis
    handle = analysis.handle
    visual = handle.visual
    found = timm_runs.blocks(visual)
    if blocks > len(found):
        raise ModelError(f"{METHOD.label}: blocks is {blocks}, but {handle.spec.architecture} has {len(found)} blocks")
    start = len(found) - blocks
    x = timm_runs.block_input(analysis, start)
    table = timm_runs.rope(analysis)
    with handle.lock, torch.enable_grad():
        probs = []
        for j, blk in enumerate(found[start:]):
            att = timm_runs.attention(blk, x, table)
            a = att.probs.detach().requires_grad_(True) if j == 0 else att.probs
            probs.append(a)
            x = timm_runs.finish(blk, x, att.y, a @ att.v)
        logits = handle.logit_scale * vit_blocks.cosines(timm_runs.embedding(visual, x), job.texts)[0]
        maps = []
        for t in range(logits.shape[0]):
            grads = torch.autograd.grad(logits[t], probs, retain_graph=t + 1 < logits.shape[0])
            maps.append(relevance([a.detach() for a in probs], grads, timm_runs.prefix(visual)))
    return torch.stack(maps).float().cpu()


def scores(job, blocks: int = 1, **_):
    if job.analysis.handle.kind == TIMM_VIT_CLS:
        return _timm_scores(job, blocks)
    analysis = job.analysis
    handle = analysis.handle
    visual = handle.visual
    found = vit_blocks.blocks(visual)
    vit_blocks.check_class_token_pooling(visual, METHOD.label)
    if blocks > len(found):
        raise ModelError(f"{METHOD.label}: blocks is {blocks}, but {handle.spec.architecture} has {len(found)} blocks")
    start = len(found) - blocks
    x = vit_blocks.block_input(analysis, start)
    with handle.lock, torch.enable_grad():
        probs = []
        for j, blk in enumerate(found[start:]):
            q, k, v = vit_blocks.project_qkv(blk, blk.ln_1(x))
            a = vit_blocks.probabilities(q, k, blk.attn.num_heads)
            if j == 0:
                # Nothing before it needs gradients: the first block's probabilities are the leaf.
                a = a.detach().requires_grad_(True)
            probs.append(a)
            x = vit_blocks.finish(blk, x, vit_blocks.attend(a, v))
        logits = handle.logit_scale * vit_blocks.cosines(vit_blocks.embedding(visual, x), job.texts)[0]
        maps = []
        for t in range(logits.shape[0]):
            grads = torch.autograd.grad(logits[t], probs, retain_graph=t + 1 < logits.shape[0])
            maps.append(relevance([a.detach() for a in probs], grads))
    return torch.stack(maps).float().cpu()

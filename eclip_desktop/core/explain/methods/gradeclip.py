"""Grad-ECLIP (Zhao et al., ICML 2024) for the image tower, as the authors' `grad_eclip_image.ipynb`.

The last block runs again from its kept input with its attention computed as the authors do: one head
over the full width (option `heads`: "single", the default; "model", the block's own heads, which
re-runs the model exactly). With g the gradient of the image-text cosine at the attention output
(before out_proj) at the class token, v_i the value of patch i and s_i the min-max normalised
cosine of q_cls and k_i (option `ksim`): map_i = ReLU(sum_c g_c v_ic s_i).

timm towers pooled by their class token (EVA, EVA02): the same through their own last block, q and k
as its attention uses them (normed, RoPE-turned), heads merged for the one-head attention, registers
dropped from the map. Towers pooled otherwise are refused (the class token is what it explains).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.explain.methods import timm_runs, vit_blocks
from eclip_desktop.core.explain.methods.base import Method, Option
from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.kinds import ALL_KINDS, TIMM_CONV, TIMM_VIT_AVG, TIMM_VIT_CLS, TIMM_VIT_MAP

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")

HEADS = ("single", "model")

# Flags and option keys are a public contract: --gradeclip-heads, --gradeclip-no-ksim;
# method_options {"heads", "ksim"}.
METHOD = Method(
    "gradeclip", "Grad-ECLIP", "gradient at the last attention output x values x q-k similarity",
    module="gradeclip", needs="gradients", slow=True, kinds=ALL_KINDS,
    refuses={"resnet": "Grad-ECLIP weights the values of a transformer block's attention; a ResNet tower has none",
             TIMM_CONV: "Grad-ECLIP weights the values of a transformer block's attention; a convolutional tower "
                        "(ConvNeXt, FastViT) has none",
             TIMM_VIT_MAP: "Grad-ECLIP follows the gradient at the class token's attention output, and this tower "
                           "pools with a MAP attention head (SigLIP) that has no class token",
             TIMM_VIT_AVG: "Grad-ECLIP follows the gradient at the class token's attention output, which this "
                           "tower's average pooling (ViTamin) never reads"},
    hint="Heads single: the authors' one-head attention; model: the block's own heads.",
    options=(
        Option("heads", str, "single", "heads",
               "attention of the re-run last block: single (one head over the full width, as the authors' code) "
               "or model (the block's own heads)", choices=HEADS),
        Option("ksim", bool, True, "q-k similarity", "drop the q-k similarity weighting of the patches",
               flag="--gradeclip-no-ksim"),
    ))


def qk_similarity(q, k, prefix: int = 1):
    """(N,) cosine of the class token's query with each patch's key, min-max normalised to [0, 1]."""
    f = torch.nn.functional
    c = f.normalize(k[0, prefix:].float(), dim=-1) @ f.normalize(q[0, 0].float(), dim=-1)
    return (c - c.min()) / (c.max() - c.min()).clamp_min(torch.finfo(c.dtype).tiny)


def _timm_scores(job, heads: str, ksim: bool):
    analysis = job.analysis
    handle = analysis.handle
    visual = handle.visual
    blk = timm_runs.blocks(visual)[-1]
    prefix = timm_runs.prefix(visual)
    x = analysis.states[-1]
    with handle.lock, torch.enable_grad():
        att = timm_runs.attention(blk, x, timm_runs.rope(analysis))
        q, k, v = (vit_blocks.merge_heads(t) for t in (att.q, att.k, att.v))  # (1, L, C)
        probs = att.probs if heads == "model" else vit_blocks.probabilities(q, k, 1)
        out = vit_blocks.attend(probs, v).detach().requires_grad_(True)
        heads_out = vit_blocks.split_heads(out, att.v.shape[1])
        cos = vit_blocks.cosines(timm_runs.embedding(visual, timm_runs.finish(blk, x, att.y, heads_out)), job.texts)[0]
        weighted = v[0, prefix:].float()
        if ksim:
            weighted = weighted * qk_similarity(q, k, prefix)[:, None]
        maps = []
        for t in range(cos.shape[0]):
            (grad,) = torch.autograd.grad(cos[t], out, retain_graph=t + 1 < cos.shape[0])
            maps.append(torch.relu(weighted @ grad[0, 0].float()))
    return torch.stack(maps).cpu()


def scores(job, heads: str = "single", ksim: bool = True, **_):
    if heads not in HEADS:
        raise ValueError(f"heads is {heads!r}; choose one of {', '.join(HEADS)}")
    if job.analysis.handle.kind == TIMM_VIT_CLS:
        return _timm_scores(job, heads, ksim)
    analysis = job.analysis
    handle = analysis.handle
    visual = handle.visual
    blk = vit_blocks.blocks(visual)[-1]
    vit_blocks.check_class_token_pooling(visual, METHOD.label)
    x = analysis.states[-1]
    with handle.lock, torch.enable_grad():
        q, k, v = vit_blocks.project_qkv(blk, blk.ln_1(x))
        probs = vit_blocks.probabilities(q, k, 1 if heads == "single" else blk.attn.num_heads)
        out = vit_blocks.attend(probs, v).detach().requires_grad_(True)
        cos = vit_blocks.cosines(vit_blocks.embedding(visual, vit_blocks.finish(blk, x, out)), job.texts)[0]
        weighted = v[0, 1:].float()
        if ksim:
            weighted = weighted * qk_similarity(q, k)[:, None]
        maps = []
        for t in range(cos.shape[0]):
            (grad,) = torch.autograd.grad(cos[t], out, retain_graph=t + 1 < cos.shape[0])
            maps.append(torch.relu(weighted @ grad[0, 0].float()))
    return torch.stack(maps).cpu()

"""Grad-CAM (Selvaraju et al. 2017) as pytorch-grad-cam computes it, for the image-text cosine.

Layer: ViT, the last block's ln_1 output without the class token (pytorch-grad-cam's ViT recipe,
`blocks[-1].norm1`); ResNet, layer4's output. timm towers the same way: ViT/EVA (SigLIP's MAP head,
class token, average), the last block's pre-attention norm (`norm1`; the block's input in EVA's
post-norm blocks) without the prefix tokens; ConvNeXt/FastViT, the last feature map (what the head
pools). Channel weights are the gradients' mean over the grid; cam = ReLU(sum_c w_c A_c). Only the
part of the tower after the layer runs again, from the analysis' kept states.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.explain.methods import timm_runs, vit_blocks
from eclip_desktop.core.explain.methods.base import Method
from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.kinds import ALL_KINDS, TIMM_ATTENTION_KINDS, TIMM_CONV

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")

METHOD = Method(
    "gradcam", "Grad-CAM", "gradient-weighted activations of the last block's input norm (ViT) or layer4 (ResNet), "
    "for the image-text cosine", module="gradcam", needs="gradients", slow=True, kinds=ALL_KINDS,
    hint="Grad-CAM as pytorch-grad-cam: ViT ln_1 of the last block, ResNet layer4 (conv towers: the last feature map).")


def _vit_layer_and_embedding(analysis):
    """The ln_1 output of the last block as a leaf (1, L, C), and the embedding computed from it."""
    visual = analysis.handle.visual
    blk = vit_blocks.blocks(visual)[-1]
    x = analysis.states[-1]
    layer = blk.ln_1(x).detach().requires_grad_(True)
    out = vit_blocks.attention_of_norm(blk, layer).out
    return layer, vit_blocks.embedding(visual, vit_blocks.finish(blk, x, out))


def attention_pool(visual, layer4):
    """The ResNet's attention pool for the mean token only (what encode_image returns), at any grid."""
    from eclip_desktop.core.model.features import interpolate_grid_embedding
    pool = visual.attnpool
    grid = (layer4.shape[-2], layer4.shape[-1])
    x = layer4.flatten(2).transpose(1, 2)
    x = torch.cat([x.mean(dim=1, keepdim=True), x], dim=1)
    x = x + interpolate_grid_embedding(pool.positional_embedding, grid).to(x.dtype)
    probs = vit_blocks.probabilities(pool.q_proj(x[:, :1]), pool.k_proj(x), pool.num_heads)
    return pool.c_proj(vit_blocks.attend(probs, pool.v_proj(x)))[:, 0]


def _resnet_layer_and_embedding(analysis):
    layer = analysis.states[1].detach().requires_grad_(True)  # (1, C, h, w)
    return layer, attention_pool(analysis.handle.visual, layer)


def _timm_vit_layer_and_embedding(analysis):
    """The last block's attention input (its pre-norm's output) and the embedding computed from it;
    gradients are taken at that tensor, as a hook on `norm1` would see them."""
    visual = analysis.handle.visual
    blk = timm_runs.blocks(visual)[-1]
    x = analysis.states[-1].detach().requires_grad_(True)
    att = timm_runs.attention(blk, x, timm_runs.rope(analysis))
    out = timm_runs.finish(blk, x, att.y, att.probs @ att.v)
    return att.y, timm_runs.embedding(visual, out)


def _timm_conv_layer_and_embedding(analysis):
    layer = analysis.states[0].detach().requires_grad_(True)  # the last feature map (1, C, h, w)
    visual = analysis.handle.visual
    return layer, visual.head(visual.trunk.forward_head(layer))


LAYERS = {"vit": _vit_layer_and_embedding, "resnet": _resnet_layer_and_embedding, TIMM_CONV: _timm_conv_layer_and_embedding,
          **{k: _timm_vit_layer_and_embedding for k in TIMM_ATTENTION_KINDS}}


def cam(layer, grad, kind: str, prefix: int = 1):
    """pytorch-grad-cam's GradCAM on one image: (1, L, C) tokens or (1, C, h, w) maps -> (N,).
    `prefix`: the tokens before the patches (class token, registers) a token layer drops."""
    if layer.dim() == 3:
        a, g = layer[0, prefix:], grad[0, prefix:]  # the prefix dropped, as the ViT recipe's reshape
    else:
        a, g = layer[0].flatten(1).T, grad[0].flatten(1).T  # (N, C), N row-major over (h, w)
    return torch.relu(a @ g.mean(0))


def scores(job, **_):
    analysis = job.analysis
    handle = analysis.handle
    with handle.lock, torch.enable_grad():
        layer, emb = LAYERS[handle.kind](analysis)
        prefix = timm_runs.prefix(handle.visual) if handle.kind in TIMM_ATTENTION_KINDS else 1
        cos = vit_blocks.cosines(emb, job.texts)[0]
        maps = []
        for t in range(cos.shape[0]):
            (grad,) = torch.autograd.grad(cos[t], layer, retain_graph=t + 1 < cos.shape[0])
            maps.append(cam(layer.detach().float(), grad.float(), handle.kind, prefix))
    return torch.stack(maps).cpu()

"""Grad-CAM (Selvaraju et al. 2017) as pytorch-grad-cam computes it, for the image-text cosine.

Layer: ViT, the last block's ln_1 output without the class token (pytorch-grad-cam's ViT recipe,
`blocks[-1].norm1`); ResNet, layer4's output. Channel weights are the gradients' mean over the grid;
cam = ReLU(sum_c w_c A_c). Only the part of the tower after the layer runs again, from the
analysis' kept states.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.explain.methods import vit_blocks
from eclip_desktop.core.explain.methods.base import Method
from eclip_desktop.core.lazy import lazy

if TYPE_CHECKING:
    import torch
else:
    torch = lazy("torch")

METHOD = Method(
    "gradcam", "Grad-CAM", "gradient-weighted activations of the last block's input norm (ViT) or layer4 (ResNet), "
    "for the image-text cosine", module="gradcam", needs="gradients", slow=True,
    hint="Grad-CAM as pytorch-grad-cam: ViT ln_1 of the last block, ResNet layer4.")


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


def cam(layer, grad, kind: str):
    """pytorch-grad-cam's GradCAM on one image: (1, L, C) tokens or (1, C, h, w) maps -> (N,)."""
    if kind == "vit":
        a, g = layer[0, 1:], grad[0, 1:]  # the class token dropped, as the ViT recipe's reshape
    else:
        a, g = layer[0].flatten(1).T, grad[0].flatten(1).T  # (N, C), N row-major over (h, w)
    return torch.relu(a @ g.mean(0))


def scores(job, **_):
    analysis = job.analysis
    handle = analysis.handle
    with handle.lock, torch.enable_grad():
        layer, emb = (_vit_layer_and_embedding if handle.kind == "vit" else _resnet_layer_and_embedding)(analysis)
        cos = vit_blocks.cosines(emb, job.texts)[0]
        maps = []
        for t in range(cos.shape[0]):
            (grad,) = torch.autograd.grad(cos[t], layer, retain_graph=t + 1 < cos.shape[0])
            maps.append(cam(layer.detach().float(), grad.float(), handle.kind))
    return torch.stack(maps).cpu()

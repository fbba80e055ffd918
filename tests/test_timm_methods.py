"""The comparison methods on timm image towers (issue 23): Grad-CAM against pytorch-grad-cam, attention
rollout, GAME and Grad-ECLIP against their procedures written out here with hooks on timm's own modules
(non-fused attention, probabilities caught where timm computes them), RISE against its formula; the
kinds each refuses, with the reason."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_comparison_methods import _close, _job, _with_hooks, library_grad_cam

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.explain.methods import METHODS, game, gradcam, gradeclip, rise, rollout
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model import kinds
from tests.test_timm_towers import TOWERS, handles, registered  # noqa: F401 (fixtures)

VITS = ["eclip-t-map", "eclip-t-pe", "eclip-t-cls", "eclip-t-eva", "eclip-t-avg"]
CONVS = ["eclip-t-conv", "eclip-t-fastvit"]


def _feature_layer(trunk):
    """The module whose output is the last feature map the head pools (what Grad-CAM's conv recipe hooks)."""
    return trunk.final_conv if hasattr(trunk, "final_conv") else trunk.norm_pre


def _grad_cam_reference(handle, pixels, texts) -> torch.Tensor:
    trunk = handle.visual.trunk
    if handle.kind == kinds.TIMM_CONV:
        layer, reshape = _feature_layer(trunk), None
    else:
        layer, npt = trunk.blocks[-1].norm1, trunk.num_prefix_tokens

        def reshape(t):  # the ViT recipe with every prefix token (class, registers) dropped
            side = int(round((t.shape[1] - npt) ** 0.5))
            return t[:, npt:].reshape(t.shape[0], side, side, t.shape[2]).permute(0, 3, 1, 2)
    return library_grad_cam(handle, pixels, texts, layer, reshape)


@pytest.mark.parametrize("name", VITS + CONVS)
def test_gradcam_equals_pytorch_grad_cam_on_timm_towers(handles, photo, name):
    handle = handles[name]
    job = _job(handle, photo)
    ours = gradcam.scores(job)
    assert ours.shape == (4, job.analysis.grid[0] * job.analysis.grid[1])
    assert _close(ours, _grad_cam_reference(handle, job.analysis.pixels(), job.texts))


# ------------------------------------------------------------------- probabilities where timm makes them

class _Probabilities:
    """Each block's attention probabilities, caught at the attention's dropout with timm's fused kernel
    off (timm then computes them explicitly); kept in the graph for gradients."""

    def __init__(self, trunk):
        self.trunk, self.found = trunk, []

    def __enter__(self):
        self.fused = [b.attn.fused_attn for b in self.trunk.blocks]
        for b in self.trunk.blocks:
            b.attn.fused_attn = False
        self.hooks = [b.attn.attn_drop.register_forward_hook(lambda m, i, o: self.found.append(o))
                      for b in self.trunk.blocks]
        return self

    def __exit__(self, *exc):
        for b, f in zip(self.trunk.blocks, self.fused):
            b.attn.fused_attn = f
        for h in self.hooks:
            h.remove()


def _map_query_attention(pool, x):
    """The MAP head's first latent's attention over what it reads, heads averaged, from its own layers."""
    b, n, c = x.shape
    heads = pool.num_heads
    q = pool.q(pool.latent.expand(b, -1, -1)).reshape(b, -1, heads, c // heads).transpose(1, 2)
    k = pool.kv(x).reshape(b, n, 2, heads, c // heads)[:, :, 0].transpose(1, 2)
    return torch.softmax(pool.q_norm(q) * pool.scale @ pool.k_norm(k).transpose(-2, -1), dim=-1).mean(1)[:, 0]


def _rollout_reference(handle, pixels) -> torch.Tensor:
    trunk = handle.visual.trunk
    npt = trunk.num_prefix_tokens
    read = []
    with torch.no_grad(), _Probabilities(trunk) as caught:
        pool = getattr(trunk, "attn_pool", None)
        if pool is not None:
            _with_hooks([pool], lambda m, args: read.append(args[0]), lambda: handle.model.encode_image(pixels), pre=True)
        else:
            handle.model.encode_image(pixels)
    joint = None
    for a in caught.found:
        a = a[0].mean(0) + torch.eye(a.shape[-1])
        a = a / a.sum(-1, keepdim=True)
        joint = a if joint is None else a @ joint
    length = joint.shape[0]
    if handle.kind == kinds.TIMM_VIT_CLS:
        row = F.one_hot(torch.tensor(0), length).float()
    elif handle.kind == kinds.TIMM_VIT_AVG:
        row = torch.cat([torch.zeros(npt), torch.full((length - npt,), 1.0 / (length - npt))])
    else:
        with torch.no_grad():
            att = _map_query_attention(pool, read[0])[0]
        row = att if att.shape[0] == length else torch.cat([torch.zeros(npt), att])
    return (row @ joint)[npt:]


@pytest.mark.parametrize("name", VITS)
def test_rollout_on_timm_towers_reads_the_pooling_row_of_the_product(handles, photo, name):
    handle = handles[name]
    pool = getattr(handle.visual.trunk, "attn_pool", None)
    saved = pool.latent.detach().clone() if pool is not None else None
    try:
        if pool is not None:  # a sharper query than random weights give, so that its row matters
            with torch.no_grad():
                pool.latent.mul_(40.0)
        job = _job(handle, photo, texts=["a cat", "a dog"])
        ours = rollout.scores(job)
        reference = _rollout_reference(handle, job.analysis.pixels())
    finally:
        if pool is not None:
            with torch.no_grad():
                pool.latent.copy_(saved)
    assert _close(ours, reference[None].repeat(2, 1))


def _game_reference(handle, pixels, texts, blocks: int) -> torch.Tensor:
    trunk = handle.visual.trunk
    x = pixels.clone().requires_grad_(True)
    with _Probabilities(trunk) as caught:
        emb = handle.model.encode_image(x)
    logits = handle.logit_scale * F.normalize(emb, dim=-1) @ texts.T
    probs = caught.found[-blocks:]
    maps = []
    for t in range(len(texts)):
        r = torch.eye(probs[0].shape[-1])
        for p in probs:
            (grad,) = torch.autograd.grad(logits[0, t], [p], retain_graph=True)
            r = r + (grad * p).clamp(min=0).mean(dim=1)[0] @ r
        maps.append(r[0, trunk.num_prefix_tokens:])
    return torch.stack(maps)


@pytest.mark.parametrize("name,blocks", [("eclip-t-cls", 1), ("eclip-t-cls", 2), ("eclip-t-eva", 1), ("eclip-t-eva", 3)])
def test_game_on_class_token_timm_towers(handles, photo, name, blocks):
    handle = handles[name]
    job = _job(handle, photo, keep=1)  # blocks before the kept one run again from the pixels
    ours = game.scores(job, blocks=blocks)
    assert _close(ours, _game_reference(handle, job.analysis.pixels(), job.texts, blocks))


def _grad_eclip_reference(handle, pixels, texts, ksim: bool) -> torch.Tensor:
    """The notebook's grad_eclip with the block's own heads, on a timm Attention block (fused qkv)."""
    trunk = handle.visual.trunk
    blk = trunk.blocks[-1]
    npt = trunk.num_prefix_tokens
    seen = {}
    x = pixels.clone().requires_grad_(True)
    hooks = [blk.norm1.register_forward_hook(lambda m, i, o: seen.setdefault("y", o)),
             blk.attn.norm.register_forward_pre_hook(lambda m, args: seen.setdefault("out", args[0]))]
    try:
        cosine = (F.normalize(handle.model.encode_image(x), dim=-1) @ texts.T)[0]
    finally:
        for h in hooks:
            h.remove()
    q, k, v = F.linear(seen["y"], blk.attn.qkv.weight, blk.attn.qkv.bias).chunk(3, dim=-1)
    sim = F.normalize(k[0, npt:], dim=-1) @ F.normalize(q[0, 0], dim=-1)
    sim = (sim - sim.min()) / (sim.max() - sim.min())
    maps = []
    for c in cosine:
        (grad,) = torch.autograd.grad(c, seen["out"], retain_graph=True)
        term = grad[0, :1] * v[0, npt:]
        maps.append(F.relu((term * sim[:, None]).sum(-1) if ksim else term.sum(-1)))
    return torch.stack(maps)


@pytest.mark.parametrize("ksim", [True, False])
def test_grad_eclip_on_a_class_token_timm_tower(handles, photo, ksim):
    handle = handles["eclip-t-cls"]
    job = _job(handle, photo)
    ours = gradeclip.scores(job, heads="model", ksim=ksim)
    assert _close(ours, _grad_eclip_reference(handle, job.analysis.pixels(), job.texts, ksim))
    single = gradeclip.scores(job, heads="single", ksim=ksim)  # the authors' one head: another map
    assert torch.isfinite(single).all() and (single - ours).abs().max() > 1e-4 * ours.abs().max()


def test_grad_eclip_runs_on_eva_with_rope(handles, photo):
    maps = gradeclip.scores(_job(handles["eclip-t-eva"], photo))
    assert maps.shape[0] == 4 and torch.isfinite(maps).all() and (maps > 0).any()


@pytest.mark.parametrize("name", ["eclip-t-map", "eclip-t-conv"])
def test_rise_on_timm_towers_is_its_formula(handles, photo, name):
    handle = handles[name]
    job = _job(handle, photo, texts=["a cat", "a dog"])
    size = job.analysis.input_size
    n, cells, keep = 6, 3, 0.5
    ours = rise.scores(job, masks=n, cells=cells, keep=keep, seed=3)
    masks = rise.MaskSet(n, cells, keep, 3, size).render(0, n)
    pixels = job.analysis.pixels()
    with torch.no_grad():
        emb = F.normalize(handle.model.encode_image(pixels * masks[:, None]), dim=-1)
    reference = torch.einsum("nt,nhw->thw", emb @ job.texts.T, masks) / (n * keep)
    assert ours.shape == (2, size, size) and _close(ours, reference)


def test_timm_kinds_each_method_applies_to_or_refuses_with_the_reason(handles, photo):
    expected = {  # method -> kinds it refuses among the timm ones
        "gradcam": set(), "rise": set(), "rollout": {kinds.TIMM_CONV},
        "game": {kinds.TIMM_CONV, kinds.TIMM_VIT_MAP, kinds.TIMM_VIT_AVG},
        "gradeclip": {kinds.TIMM_CONV, kinds.TIMM_VIT_MAP, kinds.TIMM_VIT_AVG},
    }
    for method, refused in expected.items():
        assert {k for k in kinds.TIMM_KINDS if METHODS[method].refusal(k)} == refused, method
    image = load_image(photo)
    words = {kinds.TIMM_CONV: "convolutional", kinds.TIMM_VIT_MAP: "MAP attention head", kinds.TIMM_VIT_AVG: "average"}
    for name, kind in (("eclip-t-conv", kinds.TIMM_CONV), ("eclip-t-map", kinds.TIMM_VIT_MAP),
                       ("eclip-t-avg", kinds.TIMM_VIT_AVG)):
        for method in ("game", "gradeclip", "rollout"):
            if kind not in expected[method]:
                continue
            with pytest.raises(ModelError, match=f"does not apply to {name}: .*{words[kind]}"):
                Engine(handles[name]).explain(image, ["a cat"], method=method)


def test_timm_towers_are_only_read_by_the_methods(handles, photo):
    for name in ("eclip-t-eva", "eclip-t-map", "eclip-t-fastvit"):
        handle = handles[name]
        before = {k: v.clone() for k, v in handle.model.state_dict().items()}
        engine = Engine(handle)
        for method in ("gradcam", "rollout", "game", "gradeclip"):
            if METHODS[method].refusal(handle.kind) is None:
                maps = engine.explain(load_image(photo), ["a cat", "a dog"], method=method).heatmaps
                assert all(np.isfinite(m.grid).all() for m in maps)
        assert all(torch.equal(before[k], v) for k, v in handle.model.state_dict().items())
        assert all(p.grad is None for p in handle.model.parameters()) and not handle.model.training
        assert engine.image_encoder_calls == 1

"""The comparison methods (Grad-CAM, attention rollout, GAME, Grad-ECLIP) against their authors'
procedures written out here independently (hooks on the open_clip modules, the reference
packages), on the tiny random models; their refusals, CLI round trip, and that the model is only read."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import write_image

from eclip_desktop.cli import main
from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.explain.analysis import ImageAnalysis
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.explain.methods import METHODS, MethodInput, game, gradcam, gradeclip, rollout
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model.loading import ModelSpec, load_model

TEXTS = ["a cat", "a dog", "a red car", "a photo of a house"]
COMPARISON = ("gradcam", "rollout", "game", "gradeclip")


def _job(handle, photo, texts=TEXTS, keep=None):
    """A MethodInput on the photo; keep=n: an analysis that kept only the last n block inputs."""
    engine = Engine(handle)
    a = engine.analyse([load_image(photo)])[0]
    if keep is not None:
        a = ImageAnalysis(handle, a.image, a.input_size, a.tokens, a.pooled, a.free_attention, a.grid, a.states[-keep:])
    return MethodInput(a, engine.texts.encode(texts), engine.texts, n_texts=len(texts))


def _close(ours: torch.Tensor, reference: torch.Tensor) -> bool:
    """Equal to the reference up to float error (and correlated >= 0.999 per text); asserts with the
    size of the difference, returns True so call sites read `assert _close(...)`."""
    ours, reference = ours.detach().double(), reference.detach().double()
    assert ours.shape == reference.shape
    assert reference.abs().max() > 0  # a map of zeros would prove nothing
    scale = float(reference.abs().max())
    assert torch.allclose(ours, reference, rtol=1e-4, atol=1e-5 * scale), float((ours - reference).abs().max()) / scale
    for o, r in zip(ours, reference):
        if r.std() > 0:
            assert np.corrcoef(o.numpy(), r.numpy())[0, 1] >= 0.999
    return True


def _with_hooks(modules, hook, fn, pre=False, **kw):
    handles = [(m.register_forward_pre_hook if pre else m.register_forward_hook)(hook, **kw) for m in modules]
    try:
        return fn()
    finally:
        for h in handles:
            h.remove()


# ------------------------------------------------------------------------------------- Grad-CAM

class _Cosine(torch.nn.Module):
    """The model as a classifier whose outputs are the image-text cosines (pytorch-grad-cam's target)."""

    def __init__(self, model, texts):
        super().__init__()
        self.model, self.texts = model, texts

    def forward(self, x):
        return F.normalize(self.model.encode_image(x), dim=-1) @ self.texts.T


def _pytorch_grad_cam(handle, pixels, texts) -> torch.Tensor:
    """pytorch-grad-cam's GradCAM cam before its min-max and resize (its get_cam_image, then ReLU)."""
    visual = handle.visual
    if handle.kind == "vit":
        assert visual.transformer.batch_first
        layer = visual.transformer.resblocks[-1].ln_1

        def reshape(t):  # the library's ViT recipe: class token dropped, tokens to the grid
            side = int(round((t.shape[1] - 1) ** 0.5))
            return t[:, 1:].reshape(t.shape[0], side, side, t.shape[2]).permute(0, 3, 1, 2)
    else:
        layer, reshape = visual.layer4, None
    return library_grad_cam(handle, pixels, texts, layer, reshape)


def library_grad_cam(handle, pixels, texts, layer, reshape) -> torch.Tensor:
    """Runs pytorch-grad-cam's GradCAM on `layer` for each text's cosine: the cam before its min-max
    and resize (its get_cam_image, then ReLU), flattened."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    maps = []
    with GradCAM(model=_Cosine(handle.model, texts), target_layers=[layer], reshape_transform=reshape) as cam:
        for t in range(len(texts)):
            x = pixels.clone().requires_grad_(True)  # frozen weights: the input carries the graph
            cam(x, targets=[ClassifierOutputTarget(t)])
            acts = cam.activations_and_grads.activations[0].numpy()
            grads = cam.activations_and_grads.gradients[0].numpy()
            raw = cam.get_cam_image(x, layer, None, acts, grads)
            maps.append(torch.from_numpy(np.maximum(raw, 0)[0].reshape(-1)))
    return torch.stack(maps)


@pytest.mark.parametrize("arch", ["eclip-tiny-vit", "eclip-tiny-rn224"])
def test_gradcam_equals_pytorch_grad_cam(arch, photo):
    torch.manual_seed(1)
    handle = load_model(ModelSpec(arch, "random", "cpu"))
    job = _job(handle, photo)
    ours = gradcam.scores(job)
    reference = _pytorch_grad_cam(handle, job.analysis.pixels(), job.texts)
    assert _close(ours, reference)
    assert (ours > 0).any(dim=1).sum() >= 2  # random weights: some texts' cams are all negative, hence 0


# ------------------------------------------------------------------------------------- rollout

def _attention_of_every_block(handle, pixels) -> list:
    """Each block's head-averaged attention, asked of its own nn.MultiheadAttention (need_weights)."""
    found = []

    def hook(mod, args, kwargs, output):
        found.append(mod.forward(*args, need_weights=True, average_attn_weights=True,
                                 attn_mask=kwargs.get("attn_mask"))[1][0])
    blocks = handle.visual.transformer.resblocks
    with torch.no_grad():
        _with_hooks([b.attn for b in blocks], hook, lambda: handle.model.encode_image(pixels), with_kwargs=True)
    return found


def _rollout_reference(handle, pixels) -> torch.Tensor:
    joint = None
    for a in _attention_of_every_block(handle, pixels):
        a = a + torch.eye(a.shape[-1])
        a = a / a.sum(-1, keepdim=True)
        joint = a if joint is None else a @ joint
    return joint[0, 1:]


@pytest.mark.parametrize("keep", [None, 1])
def test_rollout_is_the_product_of_every_blocks_attention(tiny_handles, photo, keep):
    handle = tiny_handles["eclip-tiny-vit"]
    job = _job(handle, photo, keep=keep)  # keep=1: the first blocks run again from the pixels
    ours = rollout.scores(job)
    reference = _rollout_reference(handle, job.analysis.pixels())
    assert _close(ours, reference[None].repeat(len(TEXTS), 1))


def test_rollout_runs_once_per_image(tiny_handles, photo, monkeypatch):
    calls = []
    real = rollout.rollout_row
    monkeypatch.setattr(rollout, "rollout_row", lambda a: calls.append(1) or real(a))
    engine = Engine(tiny_handles["eclip-tiny-vit"])
    img = load_image(photo)
    first = engine.explain(img, ["a cat"], method="rollout").heatmaps[0].grid
    second = engine.explain(img, ["a dog", "a car"], method="rollout").heatmaps
    assert len(calls) == 1 and engine.image_encoder_calls == 1
    assert all(np.array_equal(first, h.grid) for h in second)


# ----------------------------------------------------------------------------------------- GAME

def _explicit_attention(keep: list):
    """A forward hook that replaces nn.MultiheadAttention's output with the same attention written out,
    keeping its probabilities in the graph (what the authors' modified CLIP stores as attn_probs)."""
    def hook(mod, args, kwargs, output):
        x = args[0]
        b, n, c = x.shape
        h = mod.num_heads
        q, k, v = (t.reshape(b, n, h, c // h).transpose(1, 2)
                   for t in F.linear(x, mod.in_proj_weight, mod.in_proj_bias).chunk(3, dim=-1))
        probs = torch.softmax(q @ k.transpose(-2, -1) / (c // h) ** 0.5, dim=-1)
        keep.append(probs)
        return mod.out_proj((probs @ v).transpose(1, 2).reshape(b, n, c)), None
    return hook


def _game_reference(handle, pixels, texts, start_from_last: int) -> torch.Tensor:
    """Chefer et al.'s CLIP notebook `interpret`, image side, one text at a time."""
    blocks = handle.visual.transformer.resblocks
    probs = []
    x = pixels.clone().requires_grad_(True)
    emb = _with_hooks([b.attn for b in blocks], _explicit_attention(probs), lambda: handle.model.encode_image(x),
                      with_kwargs=True)
    logits = handle.model.logit_scale.exp() * F.normalize(emb, dim=-1) @ texts.T
    start = len(blocks) - start_from_last
    maps = []
    for t in range(len(texts)):
        r = torch.eye(probs[0].shape[-1])
        for i, blk_probs in enumerate(probs):
            if i < start:
                continue
            grad = torch.autograd.grad(logits[0, t], [blk_probs], retain_graph=True)[0]
            cam = (grad * blk_probs).clamp(min=0).mean(dim=1)[0]
            r = r + cam @ r
        maps.append(r[0, 1:])
    return torch.stack(maps)


@pytest.mark.parametrize("blocks,keep", [(1, None), (2, None), (3, None), (3, 1)])
def test_game_follows_the_authors_procedure(tiny_handles, photo, blocks, keep):
    handle = tiny_handles["eclip-tiny-vit"]
    job = _job(handle, photo, keep=keep)
    ours = game.scores(job, blocks=blocks)
    assert _close(ours, _game_reference(handle, job.analysis.pixels(), job.texts, blocks))


def test_game_refuses_more_blocks_than_the_tower_has(tiny_engine, photo):
    with pytest.raises(ModelError, match="has 3 blocks"):
        tiny_engine.explain(load_image(photo), ["a cat"], method="game", method_options={"blocks": 4})


# ------------------------------------------------------------------------------------ Grad-ECLIP

def _authors_attention_layer(q, k, v, num_heads):
    """Scaled dot-product attention in the notebook's (L, B, C) layout, `num_heads` over the full width."""
    tgt_len, bsz, embed_dim = q.shape
    head_dim = embed_dim // num_heads
    q = (q * head_dim ** -0.5).reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(-1, bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(-1, bsz * num_heads, head_dim).transpose(0, 1)
    w = torch.softmax(torch.bmm(q, k.transpose(1, 2)), dim=-1)
    return torch.bmm(w, v).transpose(0, 1).reshape(tgt_len, bsz, embed_dim)


def _grad_eclip_reference(handle, pixels, texts, heads, ksim):
    """grad_eclip_image.ipynb: clip_encode_dense(n=1), grad_eclip and sim_qk, for each text."""
    visual = handle.visual
    blk = visual.transformer.resblocks[-1]
    captured = []
    with torch.no_grad():
        _with_hooks([blk], lambda m, args: captured.append(args[0]), lambda: handle.model.encode_image(pixels), pre=True)
    x_in = captured[0].permute(1, 0, 2).clone().requires_grad_(True)  # NLD -> LND
    q, k, v = F.linear(blk.ln_1(x_in), blk.attn.in_proj_weight, blk.attn.in_proj_bias).chunk(3, dim=-1)
    attn_output = _authors_attention_layer(q, k, v, 1 if heads == "single" else blk.attn.num_heads)
    x = F.linear(attn_output, blk.attn.out_proj.weight, blk.attn.out_proj.bias) + x_in
    x = x + blk.mlp(blk.ln_2(x))
    x = visual.ln_post(x.permute(1, 0, 2)) @ visual.proj
    cosine = (F.normalize(x[:, 0], dim=-1) @ texts.T)[0]
    q_cls, k_patch = F.normalize(q[:1, 0, :], dim=-1), F.normalize(k[1:, 0, :], dim=-1)
    sim = (q_cls * k_patch).sum(-1)
    sim = (sim - sim.min()) / (sim.max() - sim.min())
    maps = []
    for c in cosine:
        grad = torch.autograd.grad(c, attn_output, retain_graph=True)[0]
        term = grad[:1, 0, :] * v[1:, 0, :]
        maps.append(F.relu((term * sim[:, None]).sum(-1) if ksim else term.sum(-1)))
    return torch.stack(maps), cosine


@pytest.mark.parametrize("heads", ["single", "model"])
@pytest.mark.parametrize("ksim", [True, False])
def test_grad_eclip_follows_the_authors_notebook(tiny_handles, photo, heads, ksim):
    handle = tiny_handles["eclip-tiny-vit"]
    job = _job(handle, photo)
    ours = gradeclip.scores(job, heads=heads, ksim=ksim)
    reference, cosine = _grad_eclip_reference(handle, job.analysis.pixels(), job.texts, heads, ksim)
    assert _close(ours, reference)
    own = (F.normalize(job.analysis.pooled, dim=-1) @ job.texts.T).detach()
    # The model's own heads re-run the model exactly; the authors' one head changes the embedding.
    assert torch.allclose(cosine.detach(), own, atol=1e-5) == (heads == "model")


def test_grad_eclip_options_change_the_map(tiny_handles, photo):
    job = _job(tiny_handles["eclip-tiny-vit"], photo)
    base = gradeclip.scores(job)
    assert (base - gradeclip.scores(job, heads="model")).abs().max() > 1e-4 * base.abs().max()
    assert (base - gradeclip.scores(job, ksim=False)).abs().max() > 1e-4 * base.abs().max()


# ------------------------------------------------------------------------------- engine and CLI

@pytest.mark.parametrize("method", ["rollout", "game", "gradeclip"])
def test_resnet_is_refused_with_the_reason(tiny_handles, photo, method):
    engine = Engine(tiny_handles["eclip-tiny-rn"])
    with pytest.raises(ModelError, match="does not apply to eclip-tiny-rn: .*ResNet"):
        engine.explain(load_image(photo), ["a cat"], method=method)
    assert METHODS[method].refusal("resnet") and not METHODS[method].refusal("vit")


def test_gradient_methods_work_under_no_grad(tiny_engine, photo):
    with torch.no_grad():
        for method in COMPARISON:
            maps = tiny_engine.explain(load_image(photo), ["a cat", "a dog"], method=method).heatmaps
            assert all(np.isfinite(m.grid).all() and m.grid.max() > m.grid.min() for m in maps)


def test_cli_explain_writes_the_gradcam_map(tmp_path, capsys):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    rc = main(["explain", img, "--text", "a cat", "--method", "gradcam", "--model", "eclip-tiny-vit",
               "--pretrained", "random", "--device", "cpu", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    sidecar = out / "photo__gradcam__native__a-cat.json"
    assert json.loads(sidecar.read_text())["method"] == "gradcam"
    values = np.load(sidecar.with_suffix(".npy"))
    assert values.shape == (48, 64) and 0 <= values.min() < values.max() <= 1
    assert sidecar.with_suffix(".png").is_file()


@pytest.mark.parametrize("method,flags,options", [
    ("gradcam", [], {}),
    ("rollout", [], {}),
    ("game", ["--game-blocks", "2"], {"blocks": 2}),
    ("gradeclip", ["--gradeclip-heads", "model", "--gradeclip-no-ksim"], {"heads": "model", "ksim": False}),
])
def test_reproduce_round_trips_the_options(saved_tiny, tmp_path, capsys, method, flags, options):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    rc = main(["explain", img, "--text", "a dog", "--method", method, *flags, "--out", str(out),
               "--model", "eclip-tiny-vit", "--pretrained", saved_tiny, "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    sidecar = out / f"photo__{method}__native__a-dog.json"
    assert json.loads(sidecar.read_text())["method_options"] == {**METHODS[method].defaults(), **options}
    assert main(["reproduce", str(sidecar), "--check"]) == 0, capsys.readouterr().err


def _hooks(model) -> list:
    return [m for m in model.modules()
            if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks]


@pytest.mark.parametrize("arch", ["eclip-tiny-vit", "eclip-tiny-rn"])
def test_the_model_is_only_read(arch, photo):
    handle = load_model(ModelSpec(arch, "random", "cpu"))
    before = {k: v.clone() for k, v in handle.model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in handle.model.named_parameters()}
    engine = Engine(handle)
    engine.analyse([load_image(photo)])
    calls = []
    if handle.kind == "vit":
        # the patch embedding never runs again: every block these methods need had its input kept
        probe = handle.visual.conv1.register_forward_hook(lambda *_: calls.append(1))
    for method in COMPARISON:
        if METHODS[method].refusal(handle.kind) is None:
            engine.explain(load_image(photo), ["a cat", "a dog"], method=method)
    if handle.kind == "vit":
        probe.remove()
        assert calls == [] and engine.image_encoder_calls == 1
    after = handle.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert {n: p.requires_grad for n, p in handle.model.named_parameters()} == flags
    assert all(p.grad is None for p in handle.model.parameters())
    assert not handle.model.training and _hooks(handle.model) == [] and not handle.visual._forward_hooks

"""open_clip's timm image towers (issue 23): dense features per kind, the hand-run attention parts
against timm's own modules, refusals, the tokenizer message and the CLI.

Tiny towers: timm's test models and its smallest EVA/PE/FastViT, wrapped by open_clip through model
configs registered from a temporary folder, with a one-layer text tower and random weights.
"""
import importlib.util
import json

import pytest
import torch
from timm.models.eva import Eva

from eclip_desktop.cli import main
from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.explain.methods import METHODS
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model import kinds
from eclip_desktop.core.model import timm_blocks as tb
from eclip_desktop.core.model.features import encode_dense, surgery_tokens
from eclip_desktop.core.model.loading import ModelSpec, load_model, visual_kind
from eclip_desktop.core.model.timm_features import rope_table, token_head, vit_dense
from eclip_desktop.core.model.tokenizers import build_tokenizer
from eclip_desktop.core.model.zoo import image_kind, tower_support
from tests.conftest import write_image

TEXT = {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}
# name: (timm model, timm_pool, timm_proj, input size (the trunk's default), embed_dim, kind)
TOWERS = {
    "eclip-t-map": ("test_vit3", "map", "none", 160, 96, kinds.TIMM_VIT_MAP),  # MAP reading a register token too
    "eclip-t-pe": ("vit_pe_core_tiny_patch16_384", "map", None, 384, 48, kinds.TIMM_VIT_MAP),  # EVA + RoPE + MAP
    "eclip-t-cls": ("test_vit", "token", None, 160, 48, kinds.TIMM_VIT_CLS),
    "eclip-t-eva": ("eva02_tiny_patch14_224", "token", None, 224, 48, kinds.TIMM_VIT_CLS),  # RoPE, q/k/v, SwiGLU
    "eclip-t-avg": ("test_vit2", "avg", None, 160, 48, kinds.TIMM_VIT_AVG),
    "eclip-t-conv": ("test_convnext", "", "linear", 96, 48, kinds.TIMM_CONV),  # head norm per location
    "eclip-t-fastvit": ("fastvit_t8", "avg", None, 96, 48, kinds.TIMM_CONV),
}


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    import open_clip
    folder = tmp_path_factory.mktemp("timm-configs")
    for name, (timm_name, pool, proj, size, dim, _) in TOWERS.items():
        cfg = {"embed_dim": dim, "text_cfg": TEXT,
               "vision_cfg": {"timm_model_name": timm_name, "timm_pool": pool, "timm_proj": proj, "image_size": size}}
        (folder / f"{name}.json").write_text(json.dumps(cfg))
    siglip = {"embed_dim": 96, "vision_cfg": {"timm_model_name": "test_vit3", "timm_pool": "map", "timm_proj": "none",
                                              "image_size": 160},
              "text_cfg": dict(TEXT, hf_tokenizer_name="timm/ViT-B-16-SigLIP")}
    (folder / "eclip-t-siglip-text.json").write_text(json.dumps(siglip))
    open_clip.add_model_config(folder)
    return folder


@pytest.fixture(scope="module")
def handles(registered):
    torch.manual_seed(0)
    return {name: load_model(ModelSpec(name, "random", "cpu")) for name in TOWERS}


@pytest.fixture(params=list(TOWERS))
def handle(request, handles):
    return handles[request.param]


def _pixels(handle, size=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    s = size or handle.image_size
    return torch.randn(2, 3, s, s, generator=g)


def test_kinds_are_told_apart_by_structure(handles):
    for name, h in handles.items():
        assert h.kind == TOWERS[name][5] == visual_kind(h.visual), name


def test_pooled_is_encode_image_and_the_model_is_only_read(handle):
    before = {k: v.clone() for k, v in handle.model.state_dict().items()}
    x = _pixels(handle)
    with torch.no_grad():
        reference = handle.model.encode_image(x)
    feats = encode_dense(handle.visual, handle.kind, x)
    torch.testing.assert_close(feats.pooled, reference, rtol=1e-5, atol=1e-6)
    n = feats.grid[0] * feats.grid[1]
    assert feats.tokens.shape == (2, n, reference.shape[-1]) and feats.free_attention.shape == (2, n)
    assert feats.kind == handle.kind
    if handle.kind in kinds.TIMM_ATTENTION_KINDS:
        vv = surgery_tokens(handle.visual, handle.kind, feats.surgery_states)
        assert vv.shape == feats.tokens.shape and torch.isfinite(vv).all()
        assert not torch.allclose(vv, feats.tokens)
    # Another input size: resampled positions / rebuilt RoPE, nothing kept on the model.
    other = encode_dense(handle.visual, handle.kind, _pixels(handle, size=handle.image_size // 2 + 16))
    assert other.tokens.shape[1] == other.grid[0] * other.grid[1] < n
    assert all(torch.equal(before[k], v) for k, v in handle.model.state_dict().items())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in handle.model.modules())


def test_map_per_token_path_equals_the_pooled_output_when_all_tokens_are_equal(handles):
    for name in ("eclip-t-map", "eclip-t-pe"):
        visual = handles[name].visual
        trunk = visual.trunk
        token = torch.randn(1, 1, trunk.embed_dim)
        x = token.expand(1, trunk.num_prefix_tokens + 25, -1).contiguous()
        with torch.no_grad():
            pooled = visual.head(trunk.forward_head(x))
            per_token = token_head(visual, handles[name].kind, x)
        assert per_token.shape[1] == 25
        torch.testing.assert_close(per_token, pooled[:, None].expand_as(per_token), rtol=1e-5, atol=1e-5)
        # ... and differs from it when the tokens differ (the check can fail).
        y = torch.randn_like(x)
        with torch.no_grad():
            assert not torch.allclose(token_head(visual, handles[name].kind, y)[:, 0], visual.head(trunk.forward_head(y)))


def test_free_attention_sums_to_one(handles):
    for name, h in handles.items():
        trunk = h.visual.trunk
        feats = encode_dense(h.visual, h.kind, _pixels(h))
        free = feats.free_attention
        assert (free >= 0).all()
        if h.kind in (kinds.TIMM_VIT_AVG, kinds.TIMM_CONV):
            torch.testing.assert_close(free.sum(1), torch.ones(2))  # the mean weights every location alike
            continue
        # Over the patches only (the project's convention): what the prefix tokens took is missing.
        assert (free.sum(1) <= 1 + 1e-5).all() and (free.sum(1) > 0.5).all(), name
        with torch.no_grad():
            x = trunk.norm(feats.surgery_states[-1])  # any token sequence: the full row sums to 1
            full = (tb.map_free_attention(trunk.attn_pool, x) if h.kind == kinds.TIMM_VIT_MAP
                    else tb.query_attention(list(trunk.blocks)[-1], x, rope_table(trunk, feats.grid)))
        torch.testing.assert_close(full.sum(1), torch.ones(2))


def _tiny_evas():
    """EVA variants not in the zoo's tiny towers: fused qkv with q/v bias, post-norm blocks (EVA02-E),
    grouped-query AttentionRope, gated attention with scale norm."""
    torch.manual_seed(1)
    common = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=0)
    return [Eva(**common, qkv_fused=True),
            Eva(**common, qkv_fused=True, use_post_norm=True),
            Eva(**common, attn_type="rope", qkv_fused=False, num_kv_heads=2, use_rot_pos_emb=True),
            Eva(**common, qkv_fused=False, init_values=0.5, scale_attn_inner=True, use_rot_pos_emb=True)]


def test_blocks_run_by_hand_match_timm(handles):
    towers = [h.visual.trunk for h in handles.values() if h.kind in kinds.TIMM_ATTENTION_KINDS] + _tiny_evas()
    seen = set()
    for trunk in towers:
        trunk.eval()
        n = trunk.num_prefix_tokens + trunk.patch_embed.num_patches
        x = torch.randn(2, n, trunk.embed_dim)
        rope = trunk.rope.get_embed() if getattr(trunk, "rope", None) is not None else None
        for blk in list(trunk.blocks)[-2:]:
            with torch.no_grad():
                expected = blk(x, rope=rope) if rope is not None else blk(x)
                mine, probs = tb.block_by_hand(blk, x, rope)
                torch.testing.assert_close(mine, expected, rtol=1e-4, atol=1e-5)
                torch.testing.assert_close(tb.query_attention(blk, x, rope), probs[:, :, 0].mean(1))
                y = tb.attention_input(blk, x)  # v projected alone == the v of the full projection
                torch.testing.assert_close(tb.values(blk.attn, y), tb.qkv(blk.attn, y)[2])
            seen.add((type(blk).__name__, type(blk.attn).__name__))
    assert {b.__name__ for b in tb.BLOCKS} == {b for b, _ in seen}
    assert {a.__name__ for a in tb.ATTENTIONS} == {a for _, a in seen}


def test_other_input_sizes_resize_as_timm_does(handles):
    # test_vit is built with dynamic_img_size: timm itself resamples its positions for any input.
    h = handles["eclip-t-cls"]
    x = _pixels(h, size=96)
    with torch.no_grad():
        torch.testing.assert_close(encode_dense(h.visual, h.kind, x).pooled, h.visual(x), rtol=1e-5, atol=1e-6)
    # RoPE rebuilt for another grid == the same EVA built for dynamic sizes.
    import timm
    fixed = timm.create_model("eva02_tiny_patch14_224", num_classes=0).eval()
    dynamic = timm.create_model("eva02_tiny_patch14_224", num_classes=0, dynamic_img_size=True).eval()
    dynamic.load_state_dict(fixed.state_dict())
    visual = torch.nn.Module()
    visual.trunk, visual.head = fixed, torch.nn.Sequential()
    x = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        torch.testing.assert_close(vit_dense(visual, kinds.TIMM_VIT_CLS, x).pooled, dynamic(x), rtol=1e-4, atol=1e-5)


def test_methods_declare_the_new_kinds():
    for kind in kinds.TIMM_KINDS:
        assert METHODS["itsm"].refusal(kind) is None
        reason = METHODS["surgery"].refusal(kind)
        assert (reason is None) == (kind in kinds.TIMM_ATTENTION_KINDS)
        for method in METHODS.values():
            why = method.refusal(kind)
            assert why is None or (isinstance(why, str) and len(why) > 10)
    assert "convolutional" in METHODS["surgery"].refusal(kinds.TIMM_CONV)


def test_engine_explains_every_pooling_and_refuses_with_the_reason(handles, photo):
    image = load_image(photo)
    for name in ("eclip-t-map", "eclip-t-conv"):
        engine = Engine(handles[name])
        ex = engine.explain(image, ["a cat", "a dog"], poolings=("native", "avg", "max", "masked_max"))
        assert len(ex.heatmaps) == 2 and set(ex.scores) == {"native", "avg", "max", "masked_max"}
    with pytest.raises(ModelError, match="convolutional tower"):
        Engine(handles["eclip-t-conv"]).explain(image, ["a cat"], method="surgery")
    unknown = [m for m in METHODS.values() if kinds.TIMM_VIT_MAP not in m.kinds and kinds.TIMM_VIT_MAP not in m.refuses]
    for method in unknown:  # methods not written for timm towers: one line, not a traceback
        with pytest.raises(ModelError, match="not implemented for timm-vit-map"):
            Engine(handles["eclip-t-map"]).explain(image, ["a cat"], method=method.name)


def test_unsupported_towers_are_refused_with_the_reason():
    with pytest.raises(ModelError, match="VisionTransformerRelPos is not supported"):
        image_kind("vit_relpos_medium_patch16_cls_224")
    with pytest.raises(ModelError, match="attentional pooler"):
        image_kind("coca_ViT-B-32")
    assert tower_support("convnext_base_w").kind == kinds.TIMM_CONV
    assert tower_support("ViT-B-16-SigLIP").kind == kinds.TIMM_VIT_MAP
    assert tower_support("EVA02-B-16").kind == kinds.TIMM_VIT_CLS


@pytest.mark.skipif(importlib.util.find_spec("transformers") is not None, reason="transformers is installed")
def test_hugging_face_tokenizer_without_transformers_is_one_clear_line(registered, capsys, photo, tmp_path):
    with pytest.raises(ModelError, match=r"timm/ViT-B-16-SigLIP.*pip install"):
        build_tokenizer("ViT-B-16-SigLIP")
    rc = main(["explain", photo, "--text", "a cat", "--out", str(tmp_path / "o"),
               "--model", "eclip-t-siglip-text", "--pretrained", "random", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "transformers" in err and "Traceback" not in err


def test_cli_explain_on_a_timm_model(registered, tmp_path, capsys):
    img = write_image(tmp_path / "scene.png", w=120, h=80)
    out = tmp_path / "out"
    tiny = ["--model", "eclip-t-pe", "--pretrained", "random", "--device", "cpu"]
    rc = main(["explain", img, "--text", "a cat", "--method", "surgery", "--pooling", "all", "--input-size", "192",
               "--out", str(out), *tiny])
    assert rc == 0, capsys.readouterr().err
    sidecar = json.loads((out / "scene__surgery__native__a-cat.json").read_text())
    assert sidecar["model"] == "eclip-t-pe" and sidecar["method"] == "surgery"
    capsys.readouterr()
    rc = main(["explain", img, "--text", "a cat", "--method", "surgery", "--out", str(out / "conv"),
               "--model", "eclip-t-conv", "--pretrained", "random", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1 and "CLIP Surgery does not apply" in err and err.count("\n") == 1


def test_models_lists_why(capsys):
    assert main(["models", "--filter", "convnext_base_w_320", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["explainable"] and rows[0]["kind"] == kinds.TIMM_CONV
    assert main(["models", "--filter", "coca_ViT-B-32"]) == 0
    assert "not explainable: vision transformers with an attentional pooler" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["eclip-t-conv", "eclip-t-avg"])
def test_train_refuses_masked_max_where_the_free_attention_is_uniform(registered, tmp_path, capsys, name):
    """A tower pooled by a plain mean has no query to guide masked max: refused before any step, one line."""
    out = tmp_path / "run"
    rc = main(["train", "--model", name, "--pooling", "masked_max", "--steps", "1", "--batch-size", "2",
               "--scenes", "4", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and "free attention is uniform" in err and "--pooling max" in err and "Traceback" not in err
    assert err.count("\n") == 1 and not out.exists()

"""Dense features: agree with encode_image, leave the model untouched, work at other sizes."""
import numpy as np
import pytest
import torch

from eclip_desktop.core.explain.heatmap import minmax
from eclip_desktop.core.explain.methods import MethodInput, itsm, surgery
from eclip_desktop.core.model.features import (
    encode_dense,
    interpolate_grid_embedding,
    surgery_tokens,
)
from eclip_desktop.core.model.loading import ModelSpec, load_model


def _check_dense_matches_and_model_unchanged(handle, size_factor=1.5):
    s = handle.image_size
    torch.manual_seed(1)
    pixels = torch.randn(2, 3, s, s)
    before = {k: v.clone() for k, v in handle.model.state_dict().items()}
    ref = handle.model.encode_image(pixels)
    feats = encode_dense(handle.visual, handle.kind, pixels)
    # The pooled embedding is what contrastive training aligned: it must be encode_image exactly.
    assert torch.allclose(feats.pooled, ref, atol=1e-5, rtol=1e-4)
    assert feats.tokens.shape[:2] == (2, feats.grid[0] * feats.grid[1])
    assert feats.tokens.shape[2] == ref.shape[1]
    after = handle.model.encode_image(pixels)
    assert torch.equal(ref, after)
    for k, v in handle.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    for m in handle.model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    # Another resolution: a finer grid through an interpolated copy; the model still unchanged.
    big = int(s * size_factor) // 32 * 32
    feats_big = encode_dense(handle.visual, handle.kind, torch.randn(1, 3, big, big))
    assert feats_big.grid[0] > feats.grid[0]
    assert torch.equal(handle.model.encode_image(pixels), ref)
    return feats


def test_tiny_models_dense_features(tiny_handle):
    feats = _check_dense_matches_and_model_unchanged(tiny_handle, size_factor=2)
    assert torch.allclose(feats.free_attention.sum(1), torch.ones(2), atol=0.3)
    assert (feats.free_attention >= 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["ViT-B-16", "ViT-B-32", "RN50"])
def test_full_size_architectures(arch):
    handle = load_model(ModelSpec(arch, "random", "cpu"))
    feats = _check_dense_matches_and_model_unchanged(handle)
    assert feats.grid == ((14, 14) if arch == "ViT-B-16" else (7, 7))
    st = surgery_tokens(handle.visual, handle.kind, feats.surgery_states)
    assert st.shape == feats.tokens.shape and torch.isfinite(st).all()


def test_positional_embedding_interpolation_is_a_copy():
    pos = torch.randn(1 + 16, 8)
    out = interpolate_grid_embedding(pos, (6, 6))
    assert out.shape == (37, 8)
    assert torch.equal(out[0], pos[0])
    assert interpolate_grid_embedding(pos, (4, 4)) is pos
    pos_before = pos.clone()
    interpolate_grid_embedding(pos, (8, 8))
    assert torch.equal(pos, pos_before)


def test_surgery_paths(tiny_engine, photo):
    from eclip_desktop.core.io.imageio import load_image
    a = tiny_engine.analyse([load_image(photo)])[0]
    texts = tiny_engine.texts.encode(["a cat", "a dog", "a tree"])
    # The class token Surgery uses for its text weights is the vanilla one (== encode_image).
    from eclip_desktop.core.explain.analysis import preprocess
    h = tiny_engine.handle
    ref = h.model.encode_image(preprocess(a.image.rgb, h.image_size, h.mean, h.std)[None])[0]
    assert torch.allclose(a.pooled, ref, atol=1e-5)
    # v-v path really changes the tokens ...
    assert not torch.allclose(a.surgery_tokens(), a.tokens)
    # ... and with both parts switched off, Surgery is exactly the raw ITSM.
    off = surgery.scores(MethodInput(a, texts, tiny_engine.texts, n_texts=len(texts)), vv=False, feature=False)
    assert torch.allclose(off, itsm.scores(MethodInput(a, texts)))
    on = surgery.scores(MethodInput(a, texts, tiny_engine.texts, n_texts=len(texts)))
    assert on.shape == off.shape and not torch.allclose(on, off)
    # Feature surgery removes what all texts share: scores sum to zero over the label set.
    fs_only = surgery.scores(MethodInput(a, texts, tiny_engine.texts, n_texts=len(texts)), vv=False, feature=True)
    assert torch.allclose(fs_only.sum(0), torch.zeros(fs_only.shape[1]), atol=1e-5)
    single = surgery.scores(MethodInput(a, texts[:1], tiny_engine.texts, n_texts=len(texts[:1])))
    assert single.shape == (1, a.tokens.shape[0]) and torch.isfinite(single).all()


def test_feature_surgery_closed_form_equals_explicit_for_a_batch():
    torch.manual_seed(3)
    tokens, pooled = torch.randn(3, 10, 16), torch.randn(3, 16)
    texts = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)
    closed = surgery.feature_surgery(tokens, pooled, texts)
    explicit = surgery.feature_surgery_explicit(tokens, pooled, texts)
    assert closed.shape == (3, 5, 10)
    assert torch.allclose(closed, explicit, atol=1e-5)


def test_constant_map_normalises_without_nan():
    out = minmax(np.full((4, 4), 0.3, dtype=np.float32))
    assert np.isfinite(out).all() and (out == 0).all()
    ramp = minmax(np.arange(6, dtype=np.float32))
    assert ramp.min() == 0 and ramp.max() == pytest.approx(1, abs=1e-5)

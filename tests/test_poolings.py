import pytest
import torch

from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model.poolings import (
    POOLINGS,
    expand_poolings,
    free_attention_mask,
    zero_shot,
)


@pytest.fixture
def analysis(tiny_engine, photo):
    return tiny_engine.analyse([load_image(photo)])[0]


def test_native_is_encode_image_and_others_follow_their_definition(analysis):
    from eclip_desktop.core.explain.analysis import preprocess
    h = analysis.handle
    ref = h.model.encode_image(preprocess(analysis.image.rgb, h.image_size, h.mean, h.std)[None])[0]
    assert torch.allclose(analysis.readout("native").embedding, ref, atol=1e-5)
    tokens = analysis.tokens
    assert torch.allclose(analysis.readout("avg").embedding, tokens.mean(0))
    assert torch.equal(analysis.readout("max").embedding, tokens.max(0).values)
    mm = analysis.readout("masked_max")
    assert mm.mask is not None and mm.mask.any() and not mm.mask.all()
    assert torch.equal(mm.embedding, tokens[mm.mask].max(0).values)
    assert (mm.embedding <= analysis.readout("max").embedding).all()


def test_contribution_maps(analysis):
    for name in POOLINGS:
        c = analysis.readout(name).contribution
        assert c.shape == (analysis.tokens.shape[0],)
        assert (c >= 0).all() and c.sum() == pytest.approx(1.0, abs=1e-4), name
    mm = analysis.readout("masked_max")
    assert (mm.contribution[~mm.mask] == 0).all()
    avg = analysis.readout("avg").contribution
    assert torch.allclose(avg, avg[0].expand_as(avg))


def test_mask_thresholds():
    a = torch.tensor([0.1, 0.5, 0.2, 0.9, 0.3])
    assert free_attention_mask(a).tolist() == [False, True, False, True, False]
    assert free_attention_mask(a, "topk", 0.2).tolist() == [False, False, False, True, False]
    assert free_attention_mask(torch.zeros(4), "topk", 0.0).sum() == 1
    with pytest.raises(ValueError, match="unknown threshold"):
        free_attention_mask(a, "median")


def test_expand_and_zero_shot():
    assert expand_poolings(["all"]) == ["native", "avg", "max", "masked_max"]
    assert expand_poolings(["max", "max", "avg"]) == ["max", "avg"]
    with pytest.raises(ValueError, match="unknown pooling"):
        expand_poolings(["mean"])
    texts = torch.nn.functional.normalize(torch.randn(3, 8), dim=-1)
    out = zero_shot(texts[1] * 5, texts, 100.0)
    assert sum(out["probability"]) == pytest.approx(1.0, abs=1e-5)
    assert max(range(3), key=lambda i: out["cosine"][i]) == 1

import pytest
import torch

from eclip_desktop.core.errors import TextError
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.io.imageio import load_image
from tests.conftest import write_image


def test_switching_text_pooling_method_never_reencodes(tiny_engine, photo):
    img = load_image(photo)
    e = tiny_engine
    first = e.explain(img, ["a cat"], poolings=["native"])
    assert e.image_encoder_calls == 1
    e.explain(img, ["a dog", "a tree"], poolings=["avg", "max", "masked_max"])
    e.explain(img, ["a dog"], method="surgery", poolings=["all"] and ["native"])
    e.explain(img, ["a dog", "a cat"], method="surgery")
    assert e.image_encoder_calls == 1
    again = e.explain(img, ["a cat"])
    assert (again.heatmaps[0].values == first.heatmaps[0].values).all()
    e.explain(img, ["a cat"], input_size=96)  # another input size is another analysis
    assert e.image_encoder_calls == 2


def test_heatmap_shape_range_and_scores(tiny_engine, tmp_path):
    img = load_image(write_image(tmp_path / "wide.png", w=150, h=40))
    exp = tiny_engine.explain(img, ["red", "blue"], poolings=["native", "masked_max"])
    for hm in exp.heatmaps:
        assert hm.values.shape == (40, 150) and hm.values.dtype.name == "float32"
        assert 0.0 <= hm.values.min() and hm.values.max() <= 1.0
        assert hm.raw_range[0] <= hm.raw_range[1]
    assert set(exp.scores) == {"native", "masked_max"}
    assert sum(exp.scores["native"]["probability"]) == pytest.approx(1.0, abs=1e-5)
    assert exp.contributions["masked_max"].shape == (40, 150)


def test_analysis_cache_is_bounded(tiny_handles, tmp_path):
    e = Engine(tiny_handles["eclip-tiny-vit"], cache_size=2)
    imgs = [load_image(write_image(tmp_path / f"{i}.png", seed=i)) for i in range(3)]
    e.analyse(imgs)
    assert e.cached(imgs[0]) is None and e.cached(imgs[2]) is not None


def test_text_bank_validation_and_cache(tiny_engine):
    bank = tiny_engine.texts
    with pytest.raises(TextError, match="empty prompt"):
        bank.encode(["   "])
    with pytest.raises(TextError, match="tokens, over the model's 77-token context"):
        bank.encode(["word " * 100])
    a = bank.encode(["a cat", "a dog"])
    calls = bank.encoder_calls
    b = bank.encode(["a dog", "a cat"])
    assert bank.encoder_calls == calls
    assert torch.equal(a[0], b[1])
    ens = bank.encode(["a cat"], ensemble=True)
    assert torch.allclose(ens.norm(dim=-1), torch.ones(1), atol=1e-5)
    assert not torch.allclose(ens[0], a[0])
    assert bank.empty_embedding().shape == a[0].shape


@pytest.mark.parametrize("arch", ["eclip-tiny-vit", pytest.param("ViT-B-16", marks=pytest.mark.slow)])
def test_trimmed_text_encoding_equals_full_context(arch, tiny_handles):
    from eclip_desktop.core.model.loading import ModelSpec, load_model
    from eclip_desktop.core.model.text import encode_text_trimmed
    h = tiny_handles[arch] if arch in tiny_handles else load_model(ModelSpec(arch, "random", "cpu"))
    tokens = h.tokenizer(["a cat", "a photo of a very small red bird on a branch", ""])
    full = h.model.encode_text(tokens)
    trimmed = encode_text_trimmed(h.model, tokens)
    assert torch.allclose(full, trimmed, atol=1e-4, rtol=1e-4)


def test_bench_runs_and_reports_paired_ratios():
    from eclip_desktop.core.evaluation.bench import run_bench
    from eclip_desktop.core.explain.methods import method_names
    from eclip_desktop.core.model.loading import ModelSpec
    result = run_bench(ModelSpec("eclip-tiny-vit", "random", "cpu"), repeats=2, methods=["itsm", "surgery"])
    assert len(result["rows"]) == 6
    # methods that read the cached analysis run no whole-encoder forward of their own
    assert all(row["encoder_forwards"] == 0 for row in result["rows"].values())
    every = run_bench(ModelSpec("eclip-tiny-rn", "random", "cpu"), repeats=1)
    assert len(every["rows"]) == 3 * (len(method_names()) - len(every["refused"]))
    assert all(why for why in every["refused"].values())
    for row in result["rows"].values():
        assert row["seconds"] > 0 and row["x_bare"] == pytest.approx(row["seconds"] / row["paired_bare_seconds"])
    assert "first map of a new image" in result["table"]

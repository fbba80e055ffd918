"""Fine-tuning timm towers (issue 23): `train --pretrained ... --pooling masked_max` takes the guide's
free attention per kind (the MAP head's query attention, the class token's row in the last block of an
EVA with RoPE) from a frozen copy; only the last visual parts move; the result loads and explains.
Convolutional towers train the other poolings (masked max is refused there, tests/test_timm_towers.py)."""
import open_clip
import pytest
import torch
from safetensors.torch import load_file, save_file

from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model.features import dense_forward
from eclip_desktop.core.model.loading import ModelSpec, load_model
from eclip_desktop.core.training import step as training_step
from eclip_desktop.core.training.trainer import TrainConfig, train
from tests.test_timm_towers import registered  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _cache_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path / "cache"))


def _weights(tmp_path, name: str) -> tuple[str, dict]:
    torch.manual_seed(2)
    model = open_clip.create_model(name, pretrained=None)
    original = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    path = tmp_path / f"{name}.safetensors"
    save_file(original, str(path))
    return str(path), original


@pytest.mark.parametrize("name,last", [("eclip-t-map", "visual.trunk.attn_pool."), ("eclip-t-eva", "visual.trunk.blocks.11.")])
def test_masked_max_finetune_of_a_timm_tower_is_guided_by_its_own_query(registered, tmp_path, monkeypatch,  # noqa: F811
                                                                          photo, name, last):
    weights, original = _weights(tmp_path, name)
    seen = []
    real = training_step.pooled_for_training

    def pooled(visual, kind, pixels, pooling, tau="mean", topk=0.25, guide=None):
        frozen = guide is not None and guide is not visual and not any(p.requires_grad for p in guide.parameters())
        with torch.no_grad():
            # The guide's attention is the frozen start's own free attention: not uniform, sums to <= 1.
            free = dense_forward(guide, kind, pixels).free_attention
        seen.append(frozen and free.std(1).min() > 0 and bool((free.sum(1) <= 1 + 1e-5).all()))
        return real(visual, kind, pixels, pooling, tau, topk, guide)
    monkeypatch.setattr(training_step, "pooled_for_training", pooled)
    out = tmp_path / "out"
    card = train(TrainConfig(architecture=name, pooling="masked_max", pretrained=weights, scenes=8, batch_size=4,
                             steps=2, lr=1e-3, warmup=1, device="cpu", out=str(out), checkpoint_every=0))
    assert seen == [True, True] and card["pooling"] == "masked_max"
    tuned = load_file(str(out / "masked_max.safetensors"))
    assert set(tuned) == set(original)
    for k in (k for k in original if not k.startswith("visual.")):  # the text tower is frozen
        assert torch.equal(tuned[k], original[k].half()), k
    for k in (k for k in original if k.startswith(("visual.trunk.patch_embed", "visual.trunk.blocks.0."))):
        assert torch.equal(tuned[k], original[k].half()), k  # so are the early visual layers
    moved = [k for k in original if k.startswith(last)]
    assert moved and any(not torch.equal(tuned[k], original[k].half()) for k in moved)
    handle = load_model(ModelSpec(name, str(out / "masked_max.safetensors"), "cpu"))
    maps = Engine(handle).explain(load_image(photo), ["a red circle"], poolings=("masked_max",)).heatmaps
    assert maps and maps[0].grid.max() > maps[0].grid.min()


def test_a_convolutional_tower_finetunes_its_head(registered, tmp_path):  # noqa: F811
    weights, original = _weights(tmp_path, "eclip-t-conv")
    out = tmp_path / "out"
    train(TrainConfig(architecture="eclip-t-conv", pooling="max", pretrained=weights, scenes=8, batch_size=4,
                      steps=2, lr=1e-3, warmup=1, device="cpu", out=str(out), checkpoint_every=0))
    tuned = load_file(str(out / "max.safetensors"))
    head = [k for k in original if k.startswith(("visual.trunk.head.", "visual.head."))]
    assert head and any(not torch.equal(tuned[k], original[k].half()) for k in head)
    for k in (k for k in original if k.startswith("visual.trunk.stem")):
        assert torch.equal(tuned[k], original[k].half()), k

import time

import pytest
import torch
from safetensors.torch import save_file

from eclip_desktop.core.errors import DeviceError, ModelError
from eclip_desktop.core.model import device as devmod
from eclip_desktop.core.model.loading import ModelSpec, list_pretrained_tags, load_model


def test_auto_device_and_dtype_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devmod, "mps_available", lambda: False)
    dev = devmod.resolve_device("auto")
    assert dev.type == "cpu" and devmod.resolve_dtype(dev) == torch.float32
    with pytest.raises(DeviceError, match="CUDA was requested"):
        devmod.resolve_device("cuda")
    with pytest.raises(DeviceError, match="MPS"):
        devmod.resolve_device("mps")
    with pytest.raises(DeviceError, match="only supported on a GPU"):
        devmod.resolve_dtype(dev, "fp16")


def test_gpu_dtype_choice(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert devmod.resolve_dtype(torch.device("cuda")) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert devmod.resolve_dtype(torch.device("cuda")) == torch.bfloat16


def test_unknown_model_suggests_names():
    with pytest.raises(ModelError, match="did you mean.*ViT-B-16"):
        load_model(ModelSpec("ViT-B-61", "random", "cpu"))


def test_unknown_tag_lists_tags():
    with pytest.raises(ModelError, match="unknown pretrained tag 'nope'.*openai"):
        load_model(ModelSpec("ViT-B-16", "nope", "cpu"))
    assert "openai" in list_pretrained_tags("ViT-B-16")


@pytest.mark.parametrize("offline_env", [True, False])
def test_missing_weights_fail_fast_with_advice(monkeypatch, offline_env):
    if offline_env:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        # A closed local port stands for an unreachable hub: the probe must not hang.
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        import huggingface_hub.constants as c
        monkeypatch.setattr(c, "ENDPOINT", "http://127.0.0.1:9")
    t0 = time.perf_counter()
    with pytest.raises(ModelError, match="not downloaded yet.*--pretrained"):
        load_model(ModelSpec("ViT-B-16", "openai", "cpu"))
    assert time.perf_counter() - t0 < 30  # refused at once, not after open_clip's ~46 s of retries


def test_checkpoint_round_trip_and_mismatch(tmp_path, tiny_handles):
    vit = tiny_handles["eclip-tiny-vit"]
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in vit.model.state_dict().items()}, str(path))
    loaded = load_model(ModelSpec("eclip-tiny-vit", str(path), "cpu"))
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(loaded.model.encode_image(x), vit.model.encode_image(x), atol=1e-6)
    assert loaded.weights == str(path) and loaded.identity != vit.identity
    with pytest.raises(ModelError, match="does not match the architecture eclip-tiny-rn"):
        load_model(ModelSpec("eclip-tiny-rn", str(path), "cpu"))
    with pytest.raises(ModelError, match="does not exist"):
        load_model(ModelSpec("eclip-tiny-vit", str(tmp_path / "nope.safetensors"), "cpu"))
    bad = tmp_path / "weights.txt"
    bad.write_text("x")
    with pytest.raises(ModelError, match="not a .safetensors"):
        load_model(ModelSpec("eclip-tiny-vit", str(bad), "cpu"))
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ModelError):
        load_model(ModelSpec("eclip-tiny-vit", str(corrupt), "cpu"))


def test_model_is_frozen_and_in_eval(tiny_handle):
    assert not tiny_handle.model.training
    assert not any(p.requires_grad for p in tiny_handle.model.parameters())

"""The same checks on every device this machine has (CPU everywhere; CUDA/MPS where present)."""
import numpy as np
import pytest
import torch

from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model.device import available_devices
from eclip_desktop.core.model.features import encode_dense
from eclip_desktop.core.model.loading import ModelSpec, load_model

DEVICES = [d for d in available_devices() if d != "auto"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("arch", ["eclip-tiny-vit", "eclip-tiny-rn"])
def test_dense_features_on_device(device, arch, photo):
    handle = load_model(ModelSpec(arch, "random", device))
    assert handle.device.type == device
    expected_dtype = torch.float32 if device == "cpu" else (torch.bfloat16, torch.float16)
    assert handle.dtype == expected_dtype or handle.dtype in expected_dtype
    x = torch.randn(2, 3, handle.image_size, handle.image_size, device=handle.device, dtype=handle.dtype)
    ref = handle.model.encode_image(x).float().cpu()
    feats = encode_dense(handle.visual, handle.kind, x)
    tol = 1e-4 if device == "cpu" else 5e-2  # half precision on GPUs
    assert torch.allclose(feats.pooled, ref, atol=tol * ref.abs().max().item(), rtol=tol)
    engine = Engine(handle)
    exp = engine.explain(load_image(photo), ["a cat", "a dog"], method="surgery", poolings=["all"] and
                         ["native", "masked_max"])
    assert all(np.isfinite(h.values).all() for h in exp.heatmaps)

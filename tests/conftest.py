import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the network

import numpy as np
import pytest
import torch
from PIL import Image

from eclip_desktop.core.engine import Engine
from eclip_desktop.core.models import ModelSpec, load_model

TINY = ("eclip-tiny-vit", "eclip-tiny-rn")


@pytest.fixture(scope="session")
def tiny_handles():
    torch.manual_seed(0)
    return {name: load_model(ModelSpec(name, "random", "cpu")) for name in TINY}


@pytest.fixture(params=TINY)
def tiny_handle(request, tiny_handles):
    return tiny_handles[request.param]


@pytest.fixture
def tiny_engine(tiny_handles):
    return Engine(tiny_handles["eclip-tiny-vit"])


def write_image(path, w=96, h=72, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return str(path)


@pytest.fixture
def photo(tmp_path):
    return write_image(tmp_path / "photo.png")

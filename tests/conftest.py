import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the network

import numpy as np
import pytest
import torch
from PIL import Image

from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.model.loading import ModelSpec, load_model

TINY = ("eclip-tiny-vit", "eclip-tiny-rn")
SYSTEM_WORDNET = "/usr/share/wordnet"


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tests run tiny models on a small shared CPU: one intra-op thread is several times faster
    than two that wait for each other's time slices."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def wn_env(tmp_path_factory):
    """(base dir, Hierarchy) built once per session from Debian's WordNet, in private data and
    cache dirs; tests that use it set ECLIP_DESKTOP_DATA/CACHE to base/data and base/cache."""
    from eclip_desktop.core.wordnet import provider
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy
    base = tmp_path_factory.mktemp("wordnet-session")
    mp = pytest.MonkeyPatch()
    mp.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
    mp.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))
    for var in ("ECLIP_DESKTOP_WORDNET", "WNHOME", "WNSEARCHDIR"):
        mp.delenv(var, raising=False)
    location = provider.find_wordnet(system_dirs=[SYSTEM_WORDNET], allow_download=False)
    yield base, Hierarchy(wordnet_root=location.root)
    mp.undo()


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


def load_script(name: str):
    """A script of scripts/ as a module (they are not a package), for testing its functions."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_image(path, w=96, h=72, mode="RGB", seed=0):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).convert(mode).save(path)
    return str(path)


@pytest.fixture
def photo(tmp_path):
    return write_image(tmp_path / "photo.png")


class CodeCarryingPickle:
    """Unpickling this creates `marker`: a file that holds it tells whether a loader ran code from it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture(scope="session")
def trained_family_dir(tmp_path_factory):
    """A folder of `train` outputs like resources/models/eclip-shapes: two tiny siblings, 2 steps each."""
    from eclip_desktop.core.training.trainer import TrainConfig, train
    root = tmp_path_factory.mktemp("family")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path_factory.mktemp("cache")))
        for pooling in ("native", "masked_max"):
            train(TrainConfig(pooling=pooling, architecture="eclip-tiny-vit", scenes=64, batch_size=8, steps=2,
                              lr=1e-3, warmup=1, device="cpu", out=str(root), checkpoint_every=0))
    return root


@pytest.fixture
def saved_tiny(tmp_path):
    """The tiny random ViT saved as a weights file: maps made with it can be reproduced."""
    from safetensors.torch import save_file
    path = tmp_path / "tiny.safetensors"
    state = load_model(ModelSpec("eclip-tiny-vit", "random", "cpu")).model.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return str(path)


def pytest_collection_modifyitems(config, items):
    # Tests on a freshly trained family folder share one ~45 s training fixture: slow as a group.
    for item in items:
        if "trained_family_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)

"""A masked-max model is read out with the mask threshold it was trained with (evaluation's zero-shot)."""
import json

import pytest
import torch
from safetensors.torch import save_file

from eclip_desktop.core.model.trained import trained_tau


def _weights(path, metadata):
    save_file({"w": torch.zeros(1)}, str(path), metadata=metadata)
    return str(path)


def test_the_weights_metadata_names_the_threshold(tmp_path):
    assert trained_tau(_weights(tmp_path / "a.safetensors", {"pooling": "masked_max", "tau": "topk"})) == "topk"
    assert trained_tau(_weights(tmp_path / "b.safetensors", {"pooling": "masked_max", "tau": "mean"})) == "mean"


def test_the_card_speaks_for_weights_without_metadata(tmp_path):
    w = _weights(tmp_path / "masked_max.safetensors", {"pooling": "masked_max"})
    assert trained_tau(w) == "mean"
    (tmp_path / "masked_max.json").write_text(json.dumps({"pooling": "masked_max", "tau": "topk"}))
    assert trained_tau(w) == "topk"


@pytest.mark.parametrize("card", ['{"tau": "median"}', "not json", '{"tau": 3}'])
def test_unknown_or_damaged_provenance_falls_back_to_the_default(tmp_path, card):
    w = _weights(tmp_path / "m.safetensors", {"tau": "bogus"})
    (tmp_path / "m.json").write_text(card)
    assert trained_tau(w) == "mean"


def test_tags_and_missing_files_use_the_default(tmp_path):
    assert trained_tau("openai") == "mean"
    assert trained_tau(str(tmp_path / "gone.safetensors")) == "mean"


def test_a_readout_asking_for_the_trained_threshold_uses_the_weights_own(tiny_handles, tmp_path):
    import dataclasses

    from eclip_desktop.core.explain.engine import Engine
    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.core.model.trained import readout_tau

    assert readout_tau("trained", "topk") == "topk" and readout_tau("mean", "topk") == "mean"
    from conftest import write_image
    image = load_image(write_image(tmp_path / "a.png", w=80, h=64, seed=3))
    handle = dataclasses.replace(tiny_handles["eclip-tiny-vit"], trained_tau="topk")
    assert handle.describe()["trained_tau"] == "topk"
    engine = Engine(handle)
    texts = ["a red circle", "a blue square", "a green triangle"]

    def scores(tau):
        return engine.explain(image, texts, poolings=["masked_max"], tau=tau).scores["masked_max"]["cosine"]

    assert scores("trained") == scores("topk")
    assert scores("trained") != scores("mean")  # the two thresholds pool over different tokens here

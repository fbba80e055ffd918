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

"""`train --init`: continuing a Shapes World run from earlier weights at another input size, and the
ideal-map ceiling of a token grid that motivates it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
from safetensors.torch import load_file, save_file

from eclip_desktop.cli import main
from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.evaluation.grid_ceiling import grid_ceiling, ideal_grid_map
from eclip_desktop.core.model.features import interpolate_grid_embedding
from eclip_desktop.core.model.loading import register_project_configs
from eclip_desktop.core.training.init_weights import load_resized
from eclip_desktop.core.training.trainer import TrainConfig, TrainingError, train

POS = "visual.attnpool.positional_embedding"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _cache_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _model(arch: str, seed: int = 0):
    register_project_configs()
    torch.manual_seed(seed)
    return open_clip.create_model(arch, pretrained=None)


@pytest.fixture()
def rn128_weights(tmp_path):
    path = tmp_path / "small.safetensors"
    save_file({k: v.contiguous() for k, v in _model("eclip-tiny-rn128").state_dict().items()}, str(path))
    return path


def test_weights_of_a_smaller_input_size_load_with_resized_positions(rn128_weights):
    source = load_file(str(rn128_weights))
    model = _model("eclip-tiny-rn224", seed=1)
    assert load_resized(model, rn128_weights) == [POS]
    state = model.state_dict()
    assert state[POS].shape == (1 + 7 * 7, source[POS].shape[1])
    assert torch.allclose(state[POS], interpolate_grid_embedding(source[POS], (7, 7)))
    assert torch.equal(state[POS][0], source[POS][0])  # the mean token's position is not a grid cell
    for name in ("visual.stem.0.weight" if "visual.stem.0.weight" in source else "visual.conv1.weight",
                 "visual.attnpool.c_proj.weight", "token_embedding.weight", "logit_scale"):
        assert torch.equal(state[name], source[name]), name


def test_training_continues_from_init_weights(tmp_path, rn128_weights):
    card = train(TrainConfig(pooling="masked_max", architecture="eclip-tiny-rn224", init=str(rn128_weights),
                             scenes=16, batch_size=4, steps=1, warmup=1, device="cpu", out=str(tmp_path / "o"),
                             checkpoint_every=0))
    assert card["init"] == str(rn128_weights) and card["config"]["init"] == str(rn128_weights)
    trained = load_file(str(tmp_path / "o" / "masked_max.safetensors"))
    assert trained[POS].shape[0] == 50
    source = load_file(str(rn128_weights))
    # one optimiser step moved the weights it started from, it did not start from a fresh init
    delta = (trained["visual.attnpool.c_proj.weight"].float() - source["visual.attnpool.c_proj.weight"]).abs()
    assert 0 < delta.max() < 0.05


def test_bad_init_weights_are_refused_with_a_reason(tmp_path, rn128_weights):
    other = _model("eclip-tiny-rn224")
    with pytest.raises(EclipError, match="do not exist"):
        load_resized(other, tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not weights at all")
    with pytest.raises(EclipError, match="cannot read --init weights"):
        load_resized(other, junk)
    wider = tmp_path / "wide.safetensors"
    save_file({k: v.contiguous() for k, v in _model("eclip-tiny-rn").state_dict().items()}, str(wider))
    with pytest.raises(EclipError, match="do not fit this architecture|has width"):
        load_resized(other, wider)
    with pytest.raises(TrainingError, match="give one of them"):
        train(TrainConfig(pooling="avg", init=str(rn128_weights), pretrained=str(rn128_weights), out=str(tmp_path)))


def test_cli_init_with_another_architecture_fails_cleanly(tmp_path, rn128_weights, capsys):
    rc = main(["train", "--pooling", "avg", "--model", "eclip-tiny-vit", "--init", str(rn128_weights),
               "--steps", "1", "--batch-size", "2", "--scenes", "8", "--device", "cpu", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert "do not fit this architecture" in err[0] and "missing" in err[0]
    assert not (tmp_path / "o" / "avg.safetensors").exists()


def test_ideal_grid_map_is_the_covered_fraction_per_cell():
    mask = np.zeros((8, 8), bool)
    mask[:4, :4] = True
    mask[4:6, 4:8] = True
    np.testing.assert_allclose(ideal_grid_map(mask, (2, 2)), [[1.0, 0.0], [0.0, 0.5]])
    with pytest.raises(ValueError, match="at least 1 x 1"):
        ideal_grid_map(mask, (0, 2))
    with pytest.raises(ValueError, match="non-empty 2-D"):
        ideal_grid_map(np.zeros((3,), bool), (2, 2))


def test_a_coarse_grid_caps_pointing_a_fine_one_does_not():
    coarse = grid_ceiling(4, 40, 128, n_objects=(1, 1))
    fine = grid_ceiling(16, 40, 128, n_objects=(1, 1))
    assert coarse["n"] == fine["n"] == 40
    assert coarse["pointing"] < 0.85 <= fine["pointing"]
    assert fine["miou_fg"] > coarse["miou_fg"]


def test_family_cards_spell_out_both_stages():
    from dataclasses import asdict

    from conftest import load_script

    from eclip_desktop.core.training import recipe
    module = load_script("train_family")
    first = asdict(TrainConfig(pooling="avg"))
    assert module.train_command(first, "OUT/stage1") == (
        f"eclip-desktop train --pooling avg --model {recipe.ARCHITECTURE} --scenes {recipe.SCENES} --steps "
        f"{recipe.STEPS} --batch-size {recipe.BATCH_SIZE} --lr 0.001 --warmup 100 --schedule cosine --tau mean "
        f"--seed 0 --data-seed 0 --captions {recipe.CAPTIONS} --objects {recipe.OBJECTS} --out OUT/stage1")
    second = asdict(TrainConfig(pooling="avg", seed=1, name="avg_seed1", init="OUT/stage1/avg_seed1.safetensors",
                                **recipe.STAGE2))
    line = module.train_command(second, "OUT")
    assert line.startswith(f"eclip-desktop train --pooling avg --model {recipe.FAMILY_ARCHITECTURE} "
                           "--init OUT/stage1/avg_seed1.safetensors --scenes 8000 --steps 600 --batch-size 64 ")
    assert line.endswith("--seed 1 --data-seed 0 --captions " + recipe.CAPTIONS + " --objects 1 --name avg_seed1 --out OUT")

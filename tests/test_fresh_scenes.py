"""`train --fresh-scenes`: every batch new Shapes World scenes drawn on demand (nothing cached or
repeated); deterministic by step, so a cancelled and resumed run ends where an uninterrupted one does."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from safetensors.torch import load_file

from eclip_desktop.cli import main
from eclip_desktop.core.errors import CancelledError
from eclip_desktop.core.shapes import generate_scene
from eclip_desktop.core.training.data import fresh_scene_batches, fresh_scene_index
from eclip_desktop.core.training.trainer import TrainConfig, TrainingError, train


@pytest.fixture(autouse=True)
def _cache_env(monkeypatch, tmp_path):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path / "cache"))


def cfg(out, **kw) -> TrainConfig:
    base = dict(pooling="native", architecture="eclip-tiny-vit", fresh_scenes=True, batch_size=8, steps=6, lr=1e-3,
                warmup=1, data_seed=5, device="cpu", out=str(out), checkpoint_every=0)
    base.update(kw)
    return TrainConfig(**base)


def test_no_scene_is_drawn_twice_across_steps_ranks_and_items():
    seen = [fresh_scene_index(s, r, 3, 8, i) for s in range(20) for r in range(3) for i in range(8)]
    assert len(set(seen)) == len(seen) == 20 * 3 * 8 and min(seen) == 0 and max(seen) == len(seen) - 1


def test_batches_are_the_scenes_of_their_indices():
    batches = list(fresh_scene_batches(7, 32, 4, 2, 4, rank=1, world=2))
    assert len(batches) == 2
    images, captions = batches[0]
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8 and len(captions) == 4
    for i in range(4):
        scene = generate_scene(7, fresh_scene_index(2, 1, 2, 4, i), size=32, n_objects=(1, 3))
        assert np.array_equal(images[i], scene.image) and captions[i] == scene.caption


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    whole = train(cfg(tmp_path / "whole"))
    assert whole["data"]["source"] == "shapes:fresh:5" and whole["data"]["items"] == 6 * 8
    assert whole["data"]["fresh_scenes"] is True
    assert not any((tmp_path / "cache").glob("shapes/*.npz"))  # nothing cached
    calls = []

    def cancelled():
        calls.append(1)
        return len(calls) == 4  # at the start of step index 3

    with pytest.raises(CancelledError, match="cancelled at step 3"):
        train(cfg(tmp_path / "cut"), cancelled=cancelled)
    resumed = train(replace(cfg(tmp_path / "cut"), resume=True))
    assert [h["step"] for h in resumed["history"]] == [4, 6]
    a, b = load_file(str(tmp_path / "whole" / "native.safetensors")), load_file(str(tmp_path / "cut" / "native.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    # Another data seed draws other scenes, so other weights.
    other = train(cfg(tmp_path / "other", data_seed=6))
    c = load_file(str(tmp_path / "other" / "native.safetensors"))
    assert other["final_loss"] != whole["final_loss"] or any(not np.array_equal(a[k].numpy(), c[k].numpy()) for k in a)


def test_fresh_scenes_only_for_shapes_world(tmp_path):
    with pytest.raises(TrainingError, match="--fresh-scenes draws Shapes World scenes"):
        train(cfg(tmp_path, data=str(tmp_path)))


def test_family_base_draws_fresh_scenes_and_siblings_their_set(tmp_path, capsys):
    out = tmp_path / "family"
    args = ["train", "--pooling", "avg", "--pooling", "max", "--base-steps", "3", "--fresh-scenes", "--model",
            "eclip-tiny-vit", "--batch-size", "8", "--warmup", "1", "--finetune-steps", "2", "--finetune-batch-size", "8",
            "--finetune-scenes", "16", "--finetune-warmup", "1", "--checkpoint-every", "0", "--device", "cpu",
            "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    base = json.loads((out / "base" / "native.json").read_text())
    sibling = json.loads((out / "max.json").read_text())
    assert base["config"]["fresh_scenes"] and base["data"]["source"].startswith("shapes:fresh:")
    assert not sibling["config"]["fresh_scenes"] and sibling["data"]["source"] == "shapes:16:0"
    assert "--fresh-scenes" in sibling["command"]
    # The finished family re-planned with --resume is recognised stage by stage (fresh_scenes is identity).
    assert main(args + ["--resume"]) == 0
    assert "finished earlier" in capsys.readouterr().err


def test_resume_refuses_other_data_than_the_checkpoint_was_trained_on(tmp_path):
    with pytest.raises(CancelledError):
        train(cfg(tmp_path), cancelled=lambda: True)
    with pytest.raises(TrainingError, match="--fresh-scenes True, not False"):
        train(replace(cfg(tmp_path), fresh_scenes=False, scenes=16, resume=True))
    with pytest.raises(TrainingError, match="--data-seed 5, not 9"):
        train(replace(cfg(tmp_path), data_seed=9, resume=True))

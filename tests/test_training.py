"""`eclip-desktop train`: from scratch on Shapes World, every pooling, checkpoints and resume,
fine-tuning with a frozen text tower, caption folders / manifests, torchrun (DDP on gloo) and the CLI.

Everything runs on the CPU with the tiny project architectures and a handful of steps."""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import open_clip
import pytest
import torch
from conftest import CodeCarryingPickle, write_image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from eclip_desktop.cli import main
from eclip_desktop.core.errors import CancelledError, DatasetError
from eclip_desktop.core.model.loading import (
    ModelSpec,
    load_model,
    register_project_configs,
)
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.training import step as training_step
from eclip_desktop.core.training import trainer
from eclip_desktop.core.training.data import caption_folder_data
from eclip_desktop.core.training.trainer import TrainConfig, TrainingError, train

REPO = Path(__file__).resolve().parents[1]
CARD_KEYS = {"format", "name", "architecture", "pooling", "tau", "init", "config", "model_config", "data",
             "steps", "world_size", "device", "machine", "torch", "wall_seconds", "final_loss",
             "final_batch_acc", "history", "eclip_desktop", "weights"}


@pytest.fixture(scope="module")
def shapes_cache(tmp_path_factory):
    """One Shapes World cache for the module: every run with the same seed/count reuses the scenes."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def _cache_env(monkeypatch, shapes_cache):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(shapes_cache))



def tiny(out, **kw) -> TrainConfig:
    """A run that costs a few seconds: batch 8, 64 scenes, 2 steps, no periodic checkpoints."""
    base = dict(architecture="eclip-tiny-vit", scenes=64, batch_size=8, steps=2, lr=1e-3, warmup=1,
                device="cpu", out=str(out), checkpoint_every=0)
    base.update(kw)
    return TrainConfig(**base)


# ----------------------------------------------------------------------------- from scratch


@pytest.fixture(scope="module")
def scratch_run(tmp_path_factory, shapes_cache):
    """40 steps of masked-max training from scratch; keeps the live model to compare with its file."""
    out = tmp_path_factory.mktemp("scratch")
    built, progress = {}, []
    real_build = trainer.build_model

    def build(cfg, device):
        result = real_build(cfg, device)
        built["model"] = result[0]
        return result

    cfg = TrainConfig(pooling="masked_max", architecture="eclip-tiny-vit", scenes=400, batch_size=32, steps=40,
                      lr=2e-3, warmup=5, data_seed=3, device="cpu", out=str(out), checkpoint_every=0)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECLIP_DESKTOP_CACHE", str(shapes_cache))
        mp.setattr(trainer, "build_model", build)
        card = train(cfg, progress=progress.append)
    return SimpleNamespace(card=card, out=out, model=built["model"].eval(), progress=progress)


def test_scratch_loss_falls(scratch_run):
    history = scratch_run.card["history"]
    assert [h["step"] for h in history] == [1, 25, 40]  # step 1, every 25 steps, the last step
    assert all(math.isfinite(h["loss"]) and 0.0 <= h["acc"] <= 1.0 for h in history)
    first, last = history[0]["loss"], history[-1]["loss"]
    assert last < first * 0.97, f"EMA loss did not fall: {first:.3f} -> {last:.3f}"
    assert scratch_run.card["final_loss"] == pytest.approx(last)
    assert [p["step"] for p in scratch_run.progress] == [1, 25, 40]
    assert all(p["steps"] == 40 and p["rank"] == 0 and p["s_per_step"] > 0 for p in scratch_run.progress)


def test_scratch_outputs_and_card(scratch_run):
    out = scratch_run.out
    assert (out / "masked_max.safetensors").is_file()
    assert not (out / "masked_max.ckpt.pt").exists()
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))
    card = json.loads((out / "masked_max.json").read_text())
    assert card == json.loads(json.dumps(scratch_run.card))  # the file is what train() returned
    assert CARD_KEYS <= set(card)
    assert card["architecture"] == "eclip-tiny-vit" and card["pooling"] == "masked_max"
    assert card["init"] == "scratch" and card["steps"] == 40 and card["world_size"] == 1
    assert card["weights"] == "masked_max.safetensors" and card["device"] == "cpu"
    assert card["wall_seconds"] > 0
    assert card["data"]["seed"] == 3 and card["data"]["items"] == 400 and card["data"]["skipped"] == 0
    assert card["data"]["source"] == "shapes:400:3"
    assert card["config"]["batch_size"] == 32 and card["model_config"]["embed_dim"] == 64
    # The scenes were cached for the next run with the same seed.
    assert list((Path(os.environ["ECLIP_DESKTOP_CACHE"]) / "shapes").glob("train-s3-n400-64px-*.npz"))


def test_scratch_checkpoint_round_trips(scratch_run):
    path = scratch_run.out / "masked_max.safetensors"
    with safe_open(str(path), "pt") as f:
        assert f.metadata() == {"architecture": "eclip-tiny-vit", "pooling": "masked_max", "tau": "mean"}
    saved = load_file(str(path))
    live = scratch_run.model.state_dict()
    assert set(saved) == set(live)
    for k, v in saved.items():
        assert v.dtype == torch.float16
        assert torch.equal(v, live[k].half()), k

    handle = load_model(ModelSpec("eclip-tiny-vit", str(path), "cpu"))
    assert handle.weights == str(path) and handle.kind == "vit"
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = scratch_run.model.encode_image(x).float()
        got = handle.model.encode_image(x.to(handle.dtype)).float()
        register_project_configs()
        torch.manual_seed(123)
        untrained = open_clip.create_model("eclip-tiny-vit").eval().encode_image(x).float()
    scale = want.abs().max()
    assert torch.allclose(got, want, atol=2e-2 * float(scale), rtol=0), (got - want).abs().max()
    assert not torch.allclose(untrained, want, atol=2e-2 * float(scale), rtol=0)


@pytest.mark.parametrize("architecture,pooling", [("eclip-tiny-vit", p) for p in pooling_names()]
                         + [("eclip-tiny-rn", "masked_max")])
def test_every_pooling_trains(tmp_path, architecture, pooling):
    card = train(tiny(tmp_path, pooling=pooling, architecture=architecture))
    assert card["pooling"] == pooling and card["architecture"] == architecture
    assert [h["step"] for h in card["history"]] == [1, 2]
    assert all(math.isfinite(h["loss"]) for h in card["history"])
    weights = load_file(str(tmp_path / f"{pooling}.safetensors"))
    assert all(torch.isfinite(v.float()).all() for v in weights.values())


def test_bad_config_is_refused_before_work(tmp_path):
    with pytest.raises(TrainingError, match="unknown pooling 'mean'"):
        train(tiny(tmp_path, pooling="mean"))
    with pytest.raises(TrainingError, match="at least 1 step"):
        train(tiny(tmp_path, pooling="avg", steps=0))
    with pytest.raises(TrainingError, match="batch of at least 2"):
        train(tiny(tmp_path, pooling="avg", batch_size=1))
    with pytest.raises(TrainingError, match="unknown schedule 'linear'"):
        train(tiny(tmp_path, schedule="linear"))
    with pytest.raises(TrainingError, match="unknown caption kind 'poem'"):
        train(tiny(tmp_path, captions="template,poem"))
    with pytest.raises(TrainingError, match="'x' for 'name' is not a number"):
        train(tiny(tmp_path, captions="name:x"))
    with pytest.raises(TrainingError, match="no caption kind with a positive weight"):
        train(tiny(tmp_path, captions="name:0"))
    with pytest.raises(TrainingError, match="--objects must be N or MIN-MAX, got 'two'"):
        train(tiny(tmp_path, objects="two"))
    with pytest.raises(TrainingError, match="within 1..6 with MIN <= MAX, got '3-1'"):
        train(tiny(tmp_path, objects="3-1"))
    assert not list(tmp_path.iterdir())


def test_caption_kinds_objects_and_schedule_options():
    from eclip_desktop.core.training.config import lr_at, parse_caption_kinds, parse_objects
    assert parse_caption_kinds("all") is None
    assert parse_caption_kinds("name,template") == {"name": 1.0, "template": 1.0}
    assert parse_caption_kinds("name:0.6, gloss:0.4") == {"name": 0.6, "gloss": 0.4}
    assert parse_objects("1") == (1, 1) and parse_objects("1-3") == (1, 3)
    constant = TrainConfig(lr=1e-3, warmup=10, steps=100, schedule="constant")
    cosine = TrainConfig(lr=1e-3, warmup=10, steps=100, schedule="cosine")
    assert lr_at(4, constant) == lr_at(4, cosine) == pytest.approx(5e-4)  # the same warmup
    assert lr_at(99, constant) == 1e-3 and lr_at(99, cosine) < 1e-5


def test_single_object_name_captions_data(tmp_path):
    from eclip_desktop.core.shapes import class_names
    from eclip_desktop.core.training.data import shapes_training_data
    data = shapes_training_data(5, 40, 32, {"name": 1.0}, (1, 1))
    assert data.images.shape == (40, 32, 32, 3)
    names = class_names()
    # colour-free captions of one shape each: every caption names exactly one shape and no colour
    for c in data.captions:
        assert sum(n in c.split() or f"{n}." in c.split() for n in names) == 1, c
        assert not any(col in c for col in ("red", "green", "blue", "yellow", "orange", "purple"))
    again = shapes_training_data(5, 40, 32, {"name": 1.0}, (1, 1))  # from the cache: the same scenes
    assert np.array_equal(again.images, data.images) and again.captions == data.captions


# ----------------------------------------------------------------------------- checkpoints and resume


def test_cancel_then_resume_continues_from_the_checkpoint(tmp_path, monkeypatch):
    cfg = tiny(tmp_path, pooling="avg", name="run", steps=5, checkpoint_every=2)
    ckpt = tmp_path / "run.ckpt.pt"
    seen_periodic = []

    def cancelled():
        seen_periodic.append(ckpt.is_file())
        if len(seen_periodic) == 4:  # at the start of step index 3
            seen_periodic.append(torch.load(ckpt, weights_only=False)["step"])
            return True
        return False

    with pytest.raises(CancelledError, match="cancelled at step 3"):
        train(cfg, cancelled=cancelled)
    assert seen_periodic == [False, False, True, True, 2]  # checkpoint_every=2 wrote one after step 2
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 3 and state["architecture"] == "eclip-tiny-vit" and state["pooling"] == "avg"
    assert not (tmp_path / "run.safetensors").exists()  # a cancelled run writes no weights

    real_load = trainer.load_checkpoint
    loaded = {}

    def load_checkpoint(path, model, opt, c):
        step, elapsed = real_load(path, model, opt, c)
        loaded["step"] = step
        loaded["same"] = all(torch.equal(model.state_dict()[k], v) for k, v in state["model"].items())
        return step, elapsed

    monkeypatch.setattr(trainer, "load_checkpoint", load_checkpoint)
    progress = []
    card = train(replace(cfg, resume=True), progress=progress.append)
    assert loaded == {"step": 3, "same": True}
    assert [p["step"] for p in progress] == [4, 5]  # resumed at step 4, ran to the end
    assert [h["step"] for h in card["history"]] == [4, 5] and card["steps"] == 5
    assert card["wall_seconds"] >= state["elapsed"]
    assert (tmp_path / "run.safetensors").is_file() and (tmp_path / "run.json").is_file()
    assert not ckpt.exists()  # a finished run removes its checkpoint


def test_a_running_checkpoint_can_be_explored_with_pretrained(tmp_path):
    # `eval/explain --pretrained <out>/<name>.ckpt.pt` reads the weights of a run that is still going
    from eclip_desktop.core.model.loading import ModelError, ModelSpec, load_model
    cfg = tiny(tmp_path, pooling="avg", name="run")
    with pytest.raises(CancelledError):
        train(cfg, cancelled=lambda: True)
    ckpt = tmp_path / "run.ckpt.pt"
    state = torch.load(ckpt, weights_only=True)["model"]
    handle = load_model(ModelSpec("eclip-tiny-vit", str(ckpt), "cpu"))
    assert all(torch.equal(handle.model.state_dict()[k], v) for k, v in state.items())
    with pytest.raises(ModelError, match="does not match the architecture eclip-tiny-rn"):
        load_model(ModelSpec("eclip-tiny-rn", str(ckpt), "cpu"))


def test_resume_refuses_another_architecture_or_pooling(tmp_path):
    cfg = tiny(tmp_path, pooling="avg", name="run")
    with pytest.raises(CancelledError):
        train(cfg, cancelled=lambda: True)
    ckpt = tmp_path / "run.ckpt.pt"
    assert torch.load(ckpt, weights_only=False)["step"] == 0

    with pytest.raises(TrainingError, match=r"architecture eclip-tiny-vit, not eclip-tiny-rn.*--out"):
        train(replace(cfg, architecture="eclip-tiny-rn", resume=True))
    with pytest.raises(TrainingError, match="trained with pooling avg, not max"):
        train(replace(cfg, pooling="max", resume=True))
    assert ckpt.is_file()  # a refused resume keeps the checkpoint
    assert not (tmp_path / "run.safetensors").exists()

    ckpt.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="cannot read checkpoint"):
        train(replace(cfg, resume=True))

    # A checkpoint whose pickle would run code is refused before anything in it runs.
    marker = tmp_path / "code-ran"
    torch.save({"model": {}, "optimizer": {}, "architecture": cfg.architecture, "pooling": cfg.pooling,
                "step": 0, "payload": CodeCarryingPickle(marker)}, ckpt)
    with pytest.raises(TrainingError, match="cannot read checkpoint.*read safely"):
        train(replace(cfg, resume=True))
    assert not marker.exists()


# ----------------------------------------------------------------------------- fine-tuning


def test_finetune_keeps_text_tower_and_trains_last_visual_block(tmp_path, monkeypatch):
    register_project_configs()
    torch.manual_seed(1)
    base = open_clip.create_model("eclip-tiny-vit")
    original = {k: v.detach().contiguous() for k, v in base.state_dict().items()}
    weights = tmp_path / "base.safetensors"
    save_file(original, str(weights))

    guides = []
    real_pooled = training_step.pooled_for_training

    def pooled(visual, kind, pixels, pooling, tau="mean", topk=0.25, guide=None):
        guides.append(guide is not None and guide is not visual
                      and not any(p.requires_grad for p in guide.parameters()))
        return real_pooled(visual, kind, pixels, pooling, tau, topk, guide)

    monkeypatch.setattr(training_step, "pooled_for_training", pooled)
    out = tmp_path / "out"
    card = train(tiny(out, pooling="masked_max", pretrained=str(weights)))
    assert guides == [True, True]  # masked max took its mask from the frozen copy at every step
    assert card["init"] == str(weights)

    tuned = load_file(str(out / "masked_max.safetensors"))
    assert set(tuned) == set(original)
    text_keys = [k for k in original if not k.startswith("visual.")]
    assert "token_embedding.weight" in text_keys and any(k.startswith("transformer.") for k in text_keys)
    for k in text_keys:  # text tower and logit scale are frozen
        assert torch.equal(tuned[k], original[k].half()), k
    for k in (k for k in original if k.startswith(("visual.conv1", "visual.transformer.resblocks.0."))):
        assert torch.equal(tuned[k], original[k].half()), k  # early visual layers are frozen too
    last = [k for k in original if k.startswith("visual.transformer.resblocks.2.")]
    assert last and any(not torch.equal(tuned[k], original[k].half()) for k in last)


# ----------------------------------------------------------------------------- caption folders


def _folder(root: Path) -> Path:
    root.mkdir()
    for i, (name, caption) in enumerate([("a", "a red circle"), ("b", "a blue square")]):
        write_image(root / f"{name}.png", w=40, h=30, seed=i)
        (root / f"{name}.txt").write_text(caption + "\n", encoding="utf-8")
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n definitely not an image")
    (root / "corrupt.txt").write_text("a broken picture", encoding="utf-8")
    write_image(root / "nocaption.jpg", seed=5)
    write_image(root / "empty.png", seed=6)
    (root / "empty.txt").write_text("  \n", encoding="utf-8")
    write_image(root / "latin1.png", seed=7)
    (root / "latin1.txt").write_bytes(b"\xff\xfe caf\xe9")  # not UTF-8
    (root / "notes.md").write_text("ignored: not an image", encoding="utf-8")
    return root


def test_caption_folder_trains_and_counts_skipped(tmp_path):
    folder = _folder(tmp_path / "pairs")
    card = train(tiny(tmp_path / "out", pooling="avg", data=str(folder), steps=1, batch_size=2))
    assert card["data"]["items"] == 2 and card["data"]["skipped"] == 4
    assert card["data"]["source"] == str(folder)
    assert (tmp_path / "out" / "avg.safetensors").is_file()

    data = caption_folder_data(str(folder), 32)
    assert data.images.shape == (2, 32, 32, 3) and data.images.dtype.name == "uint8"
    assert data.captions == ["a red circle", "a blue square"]
    reasons = {Path(p).name: why for p, why in data.skipped}
    assert set(reasons) == {"corrupt.png", "nocaption.jpg", "empty.png", "latin1.png"}
    assert "no caption" in reasons["nocaption.jpg"] and "no caption" in reasons["empty.png"]
    assert "UTF-8" in reasons["latin1.png"]


def test_jsonl_and_csv_manifests(tmp_path):
    write_image(tmp_path / "x.png", seed=1)
    write_image(tmp_path / "y.png", seed=2)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    lines = [{"image": "x.png", "caption": "a green star"}, {"image": "y.png", "caption": "two circles"},
             {"image": "missing.png", "caption": "gone"}, {"image": "x.png", "caption": ""}]
    (tmp_path / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in lines[:2]) + "\n\n"
                                             + "\n".join(json.dumps(r) for r in lines[2:]) + "\n")
    data = caption_folder_data(str(tmp_path), 16)  # a folder with manifest.jsonl uses the manifest
    assert data.captions == ["a green star", "two circles"] and data.images.shape == (2, 16, 16, 3)
    assert sorted(Path(p).name for p, _ in data.skipped) == ["missing.png", "x.png"]

    csv_path = tmp_path / "list.csv"
    csv_path.write_text('caption,image\n"a red, round thing",x.png\nbroken,bad.png\n,y.png\n', encoding="utf-8")
    data = caption_folder_data(str(csv_path), 16)
    assert data.captions == ["a red, round thing"]
    assert sorted(Path(p).name for p, _ in data.skipped) == ["bad.png", "y.png"]


def test_unusable_training_data_raises_dataset_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        caption_folder_data(str(empty), 32)

    useless = tmp_path / "useless"
    useless.mkdir()
    (useless / "a.png").write_bytes(b"corrupt")
    (useless / "a.txt").write_text("a caption")
    write_image(useless / "b.png")
    with pytest.raises(DatasetError, match=r"none of the 2 items .* is usable \(first problem: .*a\.png"):
        caption_folder_data(str(useless), 32)

    with pytest.raises(DatasetError, match="does not exist"):
        caption_folder_data(str(tmp_path / "nowhere"), 32)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"image": "a.png", "caption": "ok"}\n{"image": "b.png", caption}\n')
    with pytest.raises(DatasetError, match=re.escape(f"{bad}:2:")):
        caption_folder_data(str(bad), 32)
    bad.write_text('{"image": "a.png", "caption": "ok"}\n\n["a list"]\n')
    with pytest.raises(DatasetError, match=re.escape(f"{bad}:3:") + ".*'image' and 'caption'"):
        caption_folder_data(str(bad), 32)

    no_cols = tmp_path / "cols.csv"
    no_cols.write_text("file,text\na.png,hello\n")
    with pytest.raises(DatasetError, match="needs 'image' and 'caption' columns"):
        caption_folder_data(str(no_cols), 32)

    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"image,caption\na.png,caf\xe9\n")
    with pytest.raises(DatasetError, match="UTF-8"):
        caption_folder_data(str(latin), 32)


# ----------------------------------------------------------------------------- torchrun / DDP


@pytest.mark.slow
def test_torchrun_two_processes_on_gloo(tmp_path, shapes_cache):
    torchrun = Path(sys.executable).with_name("torchrun")
    assert torchrun.is_file(), torchrun
    out = tmp_path / "ddp"
    env = {**os.environ, "ECLIP_DESKTOP_CACHE": str(shapes_cache), "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    for var in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "eclip_desktop", "train", "--pooling", "avg",
         "--steps", "3", "--scenes", "64", "--batch-size", "8", "--device", "cpu", "--out", str(out),
         "--checkpoint-every", "0"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    card = json.loads((out / "avg.json").read_text())
    assert card["world_size"] == 2 and card["steps"] == 3 and card["pooling"] == "avg"
    weights = load_file(str(out / "avg.safetensors"))
    assert weights and all(torch.isfinite(v.float()).all() for v in weights.values())
    # Only rank 0 writes, so only rank 0 reports what it wrote.
    assert len(re.findall(r"^wrote .*avg\.safetensors", proc.stderr, re.M)) == 1, proc.stderr

    # --pooling all: several runs in one torchrun process share one process group (a destroyed
    # group cannot be made again there).
    family_out = tmp_path / "family"
    proc = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "eclip_desktop", "train", "--pooling", "all",
         "--steps", "1", "--scenes", "64", "--batch-size", "8", "--device", "cpu", "--out", str(family_out),
         "--checkpoint-every", "0", "--eval-every", "0"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert sorted(p.stem for p in family_out.glob("*.safetensors")) == sorted(pooling_names())
    assert all(json.loads((family_out / f"{p}.json").read_text())["world_size"] == 2 for p in pooling_names())
    assert len(re.findall(r"^training ", proc.stderr, re.M)) == 4, proc.stderr


# ----------------------------------------------------------------------------- CLI


def test_cli_train_rejects_bad_inputs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--pooling", "mean", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    assert "invalid choice: 'mean'" in capsys.readouterr().err

    rc = main(["train", "--pooling", "avg", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o"),
               "--steps", "1", "--batch-size", "2", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err == [f"eclip-desktop: error: training data {tmp_path / 'missing'} does not exist"]

    rc = main(["train", "--pooling", "avg", "--steps", "0", "--out", str(tmp_path / "o"), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "at least 1 step" in err[0]
    assert not (tmp_path / "o" / "avg.safetensors").exists()


def test_cli_train_all_poolings_makes_a_family_folder(tmp_path, capsys):
    from eclip_desktop.core.model import family
    tiny = ["--model", "eclip-tiny-vit", "--scenes", "32", "--batch-size", "8", "--steps", "2", "--warmup", "1",
            "--eval-every", "0", "--checkpoint-every", "0", "--device", "cpu"]
    s1, s2 = tmp_path / "s1", tmp_path / "s2"
    assert main(["train", "--pooling", "all", *tiny, "--out", str(s1)]) == 0
    err = capsys.readouterr().err
    assert [line for line in err.splitlines() if line.startswith("training ")] == [
        f"training {p} ({i + 1}/4)" for i, p in enumerate(pooling_names())]
    assert family.available_poolings(str(s1)) == pooling_names()
    cards = {p: json.loads((s1 / f"{p}.json").read_text()) for p in pooling_names()}
    assert {c["pooling"] for c in cards.values()} == set(pooling_names())

    # A second stage from the folder: each pooling starts from its own sibling.
    assert main(["train", "--pooling", "all", *tiny, "--init", str(s1), "--out", str(s2)]) == 0
    capsys.readouterr()
    for p in pooling_names():
        assert json.loads((s2 / f"{p}.json").read_text())["config"]["init"] == str(s1 / f"{p}.safetensors")

    rc = main(["train", "--pooling", "all", *tiny, "--name", "run", "--out", str(tmp_path / "s3")])
    assert rc == 1 and "--name names one model" in capsys.readouterr().err

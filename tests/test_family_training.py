"""`eclip-desktop train --base-steps N …`: one base, every pooling fine-tuned from it; resumable by
content, never replacing outputs unasked; and the masked-max guide refusal. Tiny models, seconds each."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import load_script
from safetensors.torch import load_file, save_file

from eclip_desktop.cli import main
from eclip_desktop.core.model import family
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.training import family_run
from eclip_desktop.core.training.trainer import TrainConfig, TrainingError, train


@pytest.fixture(autouse=True)
def _cache_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


TINY = ["--model", "eclip-tiny-vit", "--scenes", "96", "--batch-size", "16", "--lr", "0.002", "--warmup", "2",
        "--finetune-steps", "3", "--finetune-batch-size", "8", "--finetune-scenes", "48", "--finetune-warmup", "1",
        "--checkpoint-every", "0", "--device", "cpu"]


def family_cmd(out, *extra, base_steps="20"):
    return ["train", "--pooling", "all", "--base-steps", base_steps, *TINY, *extra, "--out", str(out)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("fam") / "family"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
        assert main(family_cmd(out)) == 0
    return out


def test_family_end_to_end(trained):
    base_card = json.loads((trained / "base" / "native.json").read_text())
    losses = [h["loss"] for h in base_card["history"]]
    assert base_card["steps"] == 20 and losses[-1] < losses[0]  # the base learns
    assert family.is_family(str(trained)) and family.available_poolings(str(trained)) == pooling_names()
    base = load_file(str(trained / "base" / "native.safetensors"))
    sha = family_run.sha256_file(trained / "base" / "native.safetensors")
    for p in pooling_names():
        card = json.loads((trained / f"{p}.json").read_text())
        assert [s["stage"] for s in card["stages"]] == ["base", "finetune"]
        assert card["stages"][0]["weights_sha256"] == sha == card["base"]["sha256"]
        assert "--base-steps 20" in card["command"] and "--finetune-steps 3" in card["command"]
        assert card["config"]["pretrained"].endswith("native.safetensors") and card["steps"] == 3
        assert card["wall_seconds_all_stages"] >= card["wall_seconds"]
        tuned = load_file(str(trained / f"{p}.safetensors"))
        assert all((tuned[k] == base[k]).all() for k in base if not k.startswith("visual."))  # text frozen


def test_existing_outputs_are_not_replaced_without_overwrite(trained, capsys):
    before = {p: (trained / f"{p}.safetensors").stat().st_mtime_ns for p in pooling_names()}
    assert main(family_cmd(trained)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists; pass --resume" in err
    assert main(family_cmd(trained, "--resume")) == 0  # everything finished: nothing is trained again
    err = capsys.readouterr().err
    assert err.count("finished earlier") == 5
    assert before == {p: (trained / f"{p}.safetensors").stat().st_mtime_ns for p in pooling_names()}
    # Another plan (longer base) over the same folder: refused by content, not by name.
    assert main(family_cmd(trained, "--resume", base_steps="21")) == 1
    assert "steps 20 (planned 21)" in capsys.readouterr().err


def test_resume_continues_the_interrupted_stage(tmp_path, monkeypatch, capsys):
    out = tmp_path / "fam"
    real_train = family_run.train
    calls = []

    def interrupted(cfg, progress=None, cancelled=None):
        calls.append(cfg.pooling)
        if len(calls) == 3:  # the avg sibling: stop it after two steps, as a killed run would
            steps = iter(range(100))
            return real_train(cfg, progress, cancelled=lambda: next(steps) >= 2)
        return real_train(cfg, progress)

    monkeypatch.setattr(family_run, "train", interrupted)
    assert main(family_cmd(out)) == 1
    assert "training cancelled at step 2" in capsys.readouterr().err
    assert (out / "avg.ckpt.pt").is_file() and not (out / "avg.safetensors").exists()
    assert main(family_cmd(out)) == 1 and "exists; pass --resume" in capsys.readouterr().err
    # A checkpoint of another plan is refused …
    assert main(family_cmd(out, "--resume", "--finetune-lr", "0.01")) == 1
    assert "lr 0.0005 (planned 0.01)" in capsys.readouterr().err
    monkeypatch.setattr(family_run, "train", real_train)
    assert main(family_cmd(out, "--resume")) == 0
    err = capsys.readouterr().err
    # base and native were finished; avg resumes; max and masked_max start
    assert "continuing from step 2" in err and err.count("finished earlier") == 2
    avg = json.loads((out / "avg.json").read_text())
    assert avg["history"][0]["step"] == 3 and avg["steps"] == 3  # continued, not restarted
    assert family.available_poolings(str(out)) == pooling_names()
    assert main(family_cmd(out, "--overwrite")) == 0  # starts again, everything replaced


def test_family_flags_need_base_steps(tmp_path, capsys):
    assert main(["train", "--pooling", "avg", "--finetune-steps", "3", "--out", str(tmp_path)]) == 1
    assert "add --base-steps" in capsys.readouterr().err
    assert main(family_cmd(tmp_path, "--steps", "5")) == 1
    assert "--steps sets one run's length" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the guide


def _weights(tmp_path, pooling, *, card=False, metadata=True):
    cfg = TrainConfig(pooling=pooling, architecture="eclip-tiny-vit", scenes=32, batch_size=8, steps=1, warmup=1,
                      device="cpu", out=str(tmp_path / pooling), checkpoint_every=0)
    train(cfg)
    path = tmp_path / pooling / f"{pooling}.safetensors"
    if not metadata:  # a file without provenance: only the card (or nothing) says how it was trained
        save_file(load_file(str(path)), str(path))
    if not card:
        (tmp_path / pooling / f"{pooling}.json").unlink()
    return path


def test_masked_max_refused_from_an_untrained_guide(tmp_path, capsys):
    avg = _weights(tmp_path, "avg")
    cfg = TrainConfig(pooling="masked_max", architecture="eclip-tiny-vit", pretrained=str(avg), scenes=32,
                      batch_size=8, steps=1, warmup=1, device="cpu", out=str(tmp_path / "ft"), checkpoint_every=0)
    with pytest.raises(TrainingError, match="trained with pooling 'avg'.*class token.*--allow-untrained-guide"):
        train(cfg)
    assert train(replace(cfg, allow_untrained_guide=True))["pooling"] == "masked_max"
    assert train(replace(cfg, pooling="avg"))["pooling"] == "avg"  # only masked max reads the guide
    rc = main(["train", "--pooling", "masked_max", "--model", "eclip-tiny-vit", "--pretrained", str(avg),
               "--steps", "1", "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "never trained as a pooling" in err
    # A family whose base pooling cannot guide masked max is refused before any training.
    assert main(family_cmd(tmp_path / "f", "--base-pooling", "max")) == 1
    assert "never trains the class token" in capsys.readouterr().err and not (tmp_path / "f" / "base").exists()


def test_guide_provenance_from_card_and_native_allowed(tmp_path):
    from eclip_desktop.core.training.guide import weights_pooling
    maxw = _weights(tmp_path, "max", card=True, metadata=False)
    assert weights_pooling(str(maxw)) == ("max", "its model card max.json")
    native = _weights(tmp_path, "native")
    assert weights_pooling(str(native))[0] == "native"
    assert weights_pooling("openai")[0] == "native"  # published CLIPs were trained with their own pooling
    bare = _weights(tmp_path, "masked_max", metadata=False)
    assert weights_pooling(str(bare))[0] is None  # unknown provenance: allowed (a user's own file)
    cfg = TrainConfig(pooling="masked_max", architecture="eclip-tiny-vit", pretrained=str(native), scenes=32,
                      batch_size=8, steps=1, warmup=1, device="cpu", out=str(tmp_path / "ft"), checkpoint_every=0)
    assert train(cfg)["pooling"] == "masked_max"


def test_guide_from_other_weights(tmp_path, monkeypatch, capsys):
    """The remedy from a shifted sibling: masked max fine-tuned from avg weights, guided by the base."""
    from eclip_desktop.core.training import step as training_step
    avg, native = _weights(tmp_path, "avg"), _weights(tmp_path, "native")
    guides = []
    real = training_step.pooled_for_training

    def pooled(visual, kind, pixels, pooling, tau="mean", topk=0.25, guide=None):
        guides.append(guide)
        return real(visual, kind, pixels, pooling, tau, topk, guide)

    monkeypatch.setattr(training_step, "pooled_for_training", pooled)
    cfg = TrainConfig(pooling="masked_max", architecture="eclip-tiny-vit", pretrained=str(avg), guide=str(native),
                      scenes=32, batch_size=8, steps=1, warmup=1, device="cpu", out=str(tmp_path / "ft"),
                      checkpoint_every=0)
    train(cfg)
    want = load_file(str(native))
    got = guides[0].state_dict()
    assert all((got[k].half() == want["visual." + k]).all() for k in got)  # the base's attention, not avg's
    # overwrite: the first run's outputs are there; the guide must be refused on its own account.
    with pytest.raises(TrainingError, match="--guide .*trained with pooling 'avg'"):
        train(replace(cfg, guide=str(avg), overwrite=True))
    with pytest.raises(TrainingError, match="use it with --pooling masked_max"):
        train(replace(cfg, pooling="avg"))


def test_family_cards_freeze_the_whole_chain_behind_init(tmp_path):
    """A base that continues weights which continued others: every run of the chain is in the cards,
    oldest first, with the SHA-256 of its weights, so moving the earlier files loses nothing."""
    from eclip_desktop.core.training.provenance import init_stages, sha256_file
    first, second = tmp_path / "first", tmp_path / "second"
    small = ["--model", "eclip-tiny-vit", "--scenes", "48", "--batch-size", "8", "--warmup", "1",
             "--checkpoint-every", "0", "--device", "cpu", "--pooling", "native"]
    assert main(["train", *small, "--steps", "3", "--out", str(first)]) == 0
    assert main(["train", *small, "--steps", "2", "--data-seed", "4", "--init", str(first / "native.safetensors"),
                 "--out", str(second)]) == 0
    chain = init_stages(second / "native.safetensors")
    assert [s["stage"] for s in chain] == [1, 2] and [s["steps"] for s in chain] == [3, 2]
    assert chain[0]["weights_sha256"] == sha256_file(first / "native.safetensors")
    assert chain[1]["weights_sha256"] == sha256_file(second / "native.safetensors")
    assert f"--init {first / 'native.safetensors'}" in chain[1]["command"] and "--data-seed 4" in chain[1]["command"]
    assert chain[1]["data"] == "shapes:48:4"
    out = tmp_path / "family"
    assert main(family_cmd(out, "--init", str(second / "native.safetensors"), base_steps="2")) == 0
    card = json.loads((out / "masked_max.json").read_text())
    assert card["stages"][0]["init_stages"] == chain
    assert card["wall_seconds_all_stages"] > sum(s["wall_seconds"] for s in chain)
    # Cards that point at each other are a loop, not a history: the chain stops instead of looping.
    for d, other in ((first, second), (second, first)):
        c = json.loads((d / "native.json").read_text())
        c["config"]["init"] = str(other / "native.safetensors")
        (d / "native.json").write_text(json.dumps(c))
    assert len(init_stages(second / "native.safetensors")) == 2
    assert init_stages(tmp_path / "nowhere.safetensors") is None


def test_evaluate_family_script_reads_both_suites(trained, tmp_path, capsys):
    module = load_script("evaluate_family")
    out = tmp_path / "rows.json"
    args = ["--family", str(trained), "--gen", "3", "--gen2", "3", "--shapes", "0", "--methods", "itsm",
            "--no-cards", "--json", str(out)]
    assert module.main(args) == 0
    results = json.loads(out.read_text())
    assert sorted(results) == ["itsm_gen2-3", "itsm_gen3"]
    assert sorted(r["pooling"] for r in results["itsm_gen2-3"]["rows"]) == sorted(pooling_names())
    assert "| masked_max | gen2:3 | itsm |" in capsys.readouterr().out
    before = out.read_text()
    assert module.main(args) == 1 and "--overwrite" in capsys.readouterr().err  # nothing replaced unasked
    assert out.read_text() == before


def test_pointing_objects_script_splits_where_maxima_land(trained, capsys):
    from eclip_desktop.core.evaluation.evaluate import synthetic_items
    from eclip_desktop.core.explain.engine import engines_for
    from eclip_desktop.core.shapes import class_names
    module = load_script("pointing_objects")
    engine = engines_for(str(trained), None, ["masked_max"], "cpu")["masked_max"]
    one = module.where_maxima_land(engine, synthetic_items("shapes", 3, 1000, (1, 1), 64), class_names())
    assert sum(one.values()) == 3 and one["other object"] == 0  # one object: nothing else to land on
    three = module.where_maxima_land(engine, synthetic_items("shapes", 3, 1000, (3, 3), 64), class_names())
    assert 3 <= sum(three.values()) <= 9  # one map per class present
    assert module.main(["--family", str(trained), "--scenes", "2"]) == 0
    table = capsys.readouterr().out
    assert "| 1 | 2 |" in table and table.count("\n| ") >= 4

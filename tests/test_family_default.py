"""The default embedded family, eclip-shapes-vit-ft (issue 12): one base ViT trained with its class
token, each pooling a short fine-tune of it. Shipped with cards that record both stages, opened by
default, and showing on 60 scenes of the generalisation suite what docs/RESULTS.md reports on 300:
the avg sibling's maps prefer the background (semantic shift), masked max's the object."""
import json

import numpy as np
import pytest
from test_app import (  # noqa: F401
    WAIT_MS,
    make_window,
    no_dangling_threads_or_timers,
    settings,
)

from eclip_desktop.cli import main
from eclip_desktop.core.evaluation.evaluate import evaluate_maps, gen_items, zero_shot_accuracy
from eclip_desktop.core.explain import engine as engine_mod
from eclip_desktop.core.model import family
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.shapes import class_names
from eclip_desktop.core.training.provenance import sha256_file

FT = "eclip-shapes-vit-ft"
SCENES = 60


@pytest.fixture(scope="module")
def quick():
    """ITSM on 60 suite scenes (seed 2000, 1-3 objects), zero-shot on 60 single-object ones (seed 2001)."""
    engines = engine_mod.engines_for(FT, None, ["avg", "masked_max"], "cpu")
    rows = {}
    for p, engine in engines.items():
        rows[p] = evaluate_maps(engine, gen_items(SCENES, 2000), class_names(), "itsm")
        rows[p]["zero_shot"] = zero_shot_accuracy(engine, gen_items(SCENES, 2001, n_objects=1), class_names(), p)
    return rows


def test_it_is_the_default_and_shipped_with_its_stages():
    assert family.FAMILY == FT and family.embedded_families()[0] == FT
    assert family.available_poolings() == pooling_names()
    assert family.default_spec("cpu") == family.family_spec("masked_max", "cpu", name=FT)
    base = family.family_dir(FT) / "base" / "native.safetensors"
    sha = sha256_file(base)
    for p in pooling_names():
        card = family.card(p)
        assert card["pooling"] == p and card["architecture"] == "eclip-tiny-vit64"
        assert [s["stage"] for s in card["stages"]] == ["base", "finetune"]
        assert card["base"]["sha256"] == sha and card["stages"][0]["weights_sha256"] == sha
        assert card["command"].startswith("eclip-desktop train --pooling all --model eclip-tiny-vit64 ")
        assert "--base-steps 4000" in card["command"] and "--finetune-steps 400" in card["command"]
        assert "--scenes 150000" in card["command"]  # the base's scenes are fresh, not the earlier 30,000
        # The runs the base continued, oldest first: three from scratch, then two bases on 30,000 and
        # on 150,000 scenes, each with its weights' SHA-256 where the weights were kept.
        earlier = card["stages"][0]["init_stages"]
        assert [s["stage"] for s in earlier] == [1, 2, 3, 4, 5]
        assert [s.get("data") for s in earlier[3:]] == ["shapes:30000:0", "shapes:150000:20"]
        assert all(len(s["weights_sha256"]) == 64 for s in earlier[3:])
        assert card["wall_seconds_all_stages"] < 4 * 3600  # the whole family within the 4 h
        assert family.checkpoint_path(p).stat().st_size < 8 * 2**20


def test_quick_suite_evaluation_matches_the_reported_claims(quick):
    avg, masked = quick["avg"], quick["masked_max"]
    # Reduced targets of issue 12. Measured on these 60 scenes: avg mSC -12.2 with 69 % of maps
    # background-preferred, pointing 0.12, fg-mIoU 5.1; masked max (top-k threshold) +37.9 with 6 %,
    # pointing 0.31, fg-mIoU 23.5; zero-shot 0.42 / 0.37 (docs/RESULTS.md, 300 scenes: -13.2 / 73 %,
    # +37.1 / 7 %).
    assert avg["msc"] <= -10 and avg["bg_preferred"] >= 0.6, avg
    assert masked["msc"] >= 25 and masked["bg_preferred"] <= 0.2, masked
    assert masked["miou_fg"] > avg["miou_fg"] + 8 and masked["pointing"] > avg["pointing"]
    for p, row in quick.items():
        assert row["zero_shot"] >= 0.3, f"{p}: zero-shot {row['zero_shot']:.2f} on 8 classes (chance 0.125)"


def test_default_model_explains_the_sample(tmp_path, capsys):
    sample = str(family.RESOURCES / "samples" / "shapes_scene.png")
    rc = main(["explain", sample, "--text", "a photo of an ellipse.", "--pooling", "avg", "--pooling",
               "masked_max", "--out", str(tmp_path), "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    meta = json.loads(next(tmp_path.glob("*__masked_max__*.json")).read_text())
    assert meta["model"] == "eclip-tiny-vit64" and meta["pretrained"].endswith(f"{FT}/masked_max.safetensors")
    # The masked-max sibling was trained with the top-k threshold and is read out with it; the sidecar
    # states the concrete threshold, so `reproduce` needs no knowledge of the weights' training.
    assert meta["tau"] == "topk" and family.card("masked_max")["tau"] == "topk"
    # Every sibling records the family command's threshold; only masked max reads it.
    assert json.loads(next(tmp_path.glob("*__avg__*.json")).read_text())["tau"] == family.card("avg")["tau"]
    rc = main(["reproduce", str(next(tmp_path.glob("*__masked_max__*.json"))), "--check", "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    avg = np.load(next(tmp_path.glob("*__avg__*.npy")))
    masked = np.load(next(tmp_path.glob("*__masked_max__*.npy")))
    assert avg.shape == masked.shape == (256, 256)
    assert not np.allclose(avg, masked), "each pooling is its own fine-tuned model"


def test_first_launch_opens_the_pooling_grid_with_the_family(qtbot, make_window):
    from eclip_desktop.viewer.samples import sample_path
    w = make_window(model="auto")
    # The first screen is the pooling grid: every sibling's map of the sample, shift and remedy side by side.
    qtbot.waitUntil(lambda: all(("itsm", p) in w.maps for p in pooling_names()) and not w.compute.is_busy()
                    and len(w.views.grid.contents()) == len(pooling_names()), timeout=4 * WAIT_MS)
    assert w.layout_name == "poolings" and w.layout_actions["poolings"].isChecked()
    assert w.model is not None and w.model.family and w.model.architecture == FT and w.analysis.pooling == "masked_max"
    assert w.image_list.current_path() == str(sample_path())
    assert w.model_info["model"] == "eclip-tiny-vit64" and "cpu" in w.status.device_label.text()
    tiles = w.views.grid.contents()
    assert all(t.full is not None and float(np.ptp(t.full)) > 0.1 for t in tiles)
    assert not w.banner.isVisible()

"""A folder of `eclip-desktop train` outputs is a model family: --model DIR in the CLI, File >
Open Model Family in the app; each pooling is its own sibling model, as with the embedded family."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import write_image
from test_app import WAIT_MS, make_window, settings, wait_for_map  # noqa: F401

from eclip_desktop.cli import main
from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.explain import engine as engine_mod
from eclip_desktop.core.model import family


def test_a_train_output_folder_is_a_family(trained_family_dir, tmp_path):
    name = str(trained_family_dir)
    assert family.is_family(name) and family.available_poolings(name) == ["native", "masked_max"]
    assert family.default_pooling(name) == "masked_max"
    spec = family.family_spec("native", "cpu", name=name)
    assert spec.architecture == "eclip-tiny-vit" and spec.pretrained == str(trained_family_dir / "native.safetensors")
    engines = engine_mod.engines_for(name, None, ["native", "masked_max"], "cpu")
    assert engines["native"].handle.weights != engines["masked_max"].handle.weights
    with pytest.raises(ModelError, match=r"family .* has no model trained with pooling 'avg' \(have: native, masked_max\)"):
        family.family_spec("avg", name=name)

    # Weights without their card, an empty folder, a missing path: not families.
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(trained_family_dir / "native.safetensors", partial)
    for folder in (partial, tmp_path / "empty", tmp_path / "missing"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        assert not family.is_family(str(folder)) and family.available_poolings(str(folder)) == []
    with pytest.raises(ModelError, match=r"not a model family.*<pooling>.json card"):
        engine_mod.engines_for(str(partial), None, ["native"], "cpu")
    assert family.is_family("eclip-shapes") and not family.is_family("ViT-B-16")


def test_explain_with_a_family_folder_uses_each_sibling(trained_family_dir, tmp_path, capsys):
    image = write_image(tmp_path / "scene.png", w=48, h=40)
    out = tmp_path / "out"
    rc = main(["explain", str(image), "--text", "a photo of a circle.", "--model", str(trained_family_dir),
               "--pooling", "all", "--device", "cpu", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    sidecars = {json.loads(p.read_text())["pooling"]: json.loads(p.read_text())
                for p in out.glob("scene__itsm__*__a-photo-of-a-circle.json")}
    assert sorted(sidecars) == ["masked_max", "native"]  # 'all' = the siblings the folder has
    for pooling, meta in sidecars.items():
        assert meta["pretrained"] == str(trained_family_dir / f"{pooling}.safetensors")
    maps = [np.load(out / f"scene__itsm__{p}__a-photo-of-a-circle.npy") for p in ("native", "masked_max")]
    assert maps[0].shape == (40, 48) and not np.array_equal(*maps)  # two models, two maps

    capsys.readouterr()
    rc = main(["explain", str(image), "--text", "a circle", "--model", str(tmp_path), "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "is not a model family" in err[0]


def test_the_app_opens_a_family_folder(qtbot, make_window, trained_family_dir, tmp_path):
    w = make_window(model=None, open_sample=False)
    w.files.open_paths([write_image(tmp_path / "scene.png")])
    (tmp_path / "notes").mkdir()
    w.controls.picker.open_family(str(tmp_path / "notes"))  # not a family: said in the banner, nothing loads
    assert "holds no trained models" in w.banner.text() and w.model is None

    w.controls.picker.open_family(str(trained_family_dir))
    qtbot.waitUntil(lambda: w.model is not None, timeout=WAIT_MS)
    assert w.model.family and w.model.architecture == str(trained_family_dir)
    assert w.analysis.pooling == "native"  # the pooling in use stays when the family has it
    assert [p for p, a in w.pooling_actions.items() if a.isEnabled()] == ["native", "masked_max"]
    assert "family folder" in w.model.label()
    assert w.controls.picker.choice() == w.model.on_device("auto")
    wait_for_map(qtbot, w)
    assert w.models.current_engine().handle.weights == str(trained_family_dir / "native.safetensors")
    w.pooling_actions["masked_max"].trigger()
    qtbot.waitUntil(lambda: ("itsm", "masked_max") in w.maps, timeout=WAIT_MS)
    assert w.models.current_engine().handle.weights == str(trained_family_dir / "masked_max.safetensors")
    assert w.maps[("itsm", "masked_max")].trained_with_pooling


def test_a_session_remembers_the_family_folder(qtbot, make_window, trained_family_dir, tmp_path):
    w = make_window(model=None, open_sample=False)
    w.files.open_paths([write_image(tmp_path / "scene.png")])
    w.controls.picker.open_family(str(trained_family_dir))
    qtbot.waitUntil(lambda: w.model is not None, timeout=WAIT_MS)
    w.pooling_actions["masked_max"].trigger()
    wait_for_map(qtbot, w)
    assert w.sessions.save_session(str(tmp_path / "s.eclip.json"))

    again = make_window(model=None, open_sample=False)
    assert again.sessions.open_session(str(tmp_path / "s.eclip.json"))
    qtbot.waitUntil(lambda: again.model is not None, timeout=WAIT_MS)
    assert again.model.family and again.model.architecture == str(trained_family_dir)
    assert again.analysis.pooling == "masked_max"
    assert again.controls.picker.architecture() == str(trained_family_dir)
    wait_for_map(qtbot, again)
    assert again.models.current_engine().handle.weights == str(trained_family_dir / "masked_max.safetensors")


def test_models_lists_the_embedded_families_first(capsys):
    assert main(["models", "--filter", "eclip-shapes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    # The default family first, then the others by name.
    assert lines[0].startswith("eclip-shapes-vit-ft: embedded family of eclip-tiny-vit64, one model per pooling")
    assert lines[1].startswith("eclip-shapes: embedded family of eclip-tiny-rn224, one model per pooling (native, avg")
    assert lines[2].startswith("eclip-shapes-vit: embedded family of eclip-tiny-vit64")
    assert main(["models", "--filter", "shapes-vit", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["eclip-shapes-vit-ft", "eclip-shapes-vit"]
    assert rows[1] == {"model": "eclip-shapes-vit", "tags": [], "cached": [], "family": True,
                       "poolings": ["native", "avg", "max", "masked_max"], "architecture": "eclip-tiny-vit64"}


def test_an_unreadable_card_is_named_not_fatal(trained_family_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(trained_family_dir, broken)
    (broken / "native.json").write_text("{not json")
    assert family.family_architecture(str(broken)) == "unknown architecture"
    with pytest.raises(ModelError, match="model card .*native.json is missing or unreadable"):
        family.family_spec("native", name=str(broken))
    assert family.family_architecture(str(trained_family_dir)) == "eclip-tiny-vit"

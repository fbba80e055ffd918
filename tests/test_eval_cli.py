"""`eclip-desktop eval`: Shapes World and VOC-layout data, every pooling, both methods, the embedded
family (one trained model per pooling) and the errors a user can make. Tiny models on the CPU."""
from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from eclip_desktop.cli import main
from eclip_desktop.core.explain import engine as engine_mod
from eclip_desktop.core.model import family
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.shapes.writer import write_voc

TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]
MAP_KEYS = ("n", "miou_fg", "theta_fg", "miou_mean", "theta_mean", "msc", "pointing", "bg_preferred")
ROW_KEYS = {"pooling", "model", "weights", "zero_shot", "seconds", *MAP_KEYS}



def run_eval_cli(capsys, tmp_path, *args):
    out = tmp_path / "eval.json"
    out.unlink(missing_ok=True)  # each call is a new result: eval never replaces one without --overwrite
    rc = main(["eval", *args, "--json", str(out)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err, (json.loads(out.read_text()) if out.is_file() else None)


def check_ranges(row):
    assert ROW_KEYS <= set(row), ROW_KEYS - set(row)
    assert isinstance(row["n"], int) and row["n"] > 0
    assert 0.0 <= row["miou_fg"] <= 100.0 and 0.0 <= row["miou_mean"] <= 100.0
    assert 0.0 <= row["theta_fg"] <= 1.0 and 0.0 <= row["theta_mean"] <= 1.0
    assert -100.0 <= row["msc"] <= 100.0
    for k in ("pointing", "bg_preferred", "zero_shot"):
        assert 0.0 <= row[k] <= 1.0, k
    assert all(math.isfinite(row[k]) for k in MAP_KEYS)


def test_shapes_all_poolings_one_model(tmp_path, capsys):
    torch.manual_seed(0)
    rc, out, err, result = run_eval_cli(capsys, tmp_path, "--dataset", "shapes:12", "--method", "itsm",
                                        "--pooling", "all", *TINY)
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("shapes:12 - itsm - Shapes World held-out scenes")
    header = lines[1].split()
    assert header[:3] == ["pooling", "model", "miou_fg"] and header[-2:] == ["zero_shot", "n"]
    assert [ln.split()[0] for ln in lines[3:]] == pooling_names()  # one table row per pooling

    assert result["dataset"] == "shapes:12" and result["method"] == "itsm"
    assert result["scenes"] == 12 and result["seed"] == 1000 and result["objects"] == [1, 3]
    rows = result["rows"]
    assert [r["pooling"] for r in rows] == pooling_names() and len(rows) == 4
    for r in rows:
        check_ranges(r)
        assert r["model"] == "eclip-tiny-vit" and r["weights"] == "random"
        assert r["n"] >= 12  # every scene has at least one shape class to explain
    # One model: pooling is only a readout, so the maps (and their metrics) are shared.
    for k in MAP_KEYS:
        assert len({r[k] for r in rows}) == 1, k


def test_shapes_objects_per_scene(tmp_path, capsys):
    rc, out, err, result = run_eval_cli(capsys, tmp_path, "--dataset", "shapes:6:1000:1", "--method", "itsm", *TINY)
    assert rc == 0, err
    assert "(1-1 objects)" in out.splitlines()[0] and result["objects"] == [1, 1]
    assert result["rows"][0]["n"] == 6  # one object, so one (scene, class) pair per scene


def test_surgery_method_on_shapes(tmp_path, capsys):
    torch.manual_seed(0)
    rc, out, err, itsm = run_eval_cli(capsys, tmp_path, "--dataset", "shapes:8", "--method", "itsm", *TINY)
    assert rc == 0, err
    torch.manual_seed(0)  # the same random model
    rc, out, err, surgery = run_eval_cli(capsys, tmp_path, "--dataset", "shapes:8", "--method", "surgery", *TINY)
    assert rc == 0, err
    assert "shapes:8 - surgery -" in out
    assert surgery["method"] == "surgery" and len(surgery["rows"]) == 1
    row = surgery["rows"][0]
    check_ranges(row)
    assert row["pooling"] == "native" and row["n"] == itsm["rows"][0]["n"]
    # Same model and scenes, another method: the maps (not the zero-shot readout) change.
    assert itsm["rows"][0]["zero_shot"] == row["zero_shot"]
    assert any(itsm["rows"][0][k] != row[k] for k in ("miou_fg", "miou_mean", "msc"))


def test_voc_layout_dataset(tmp_path, capsys):
    root = tmp_path / "voc"
    ids = write_voc(root, seed=5, count=6, size=64)
    assert len(ids) == 6
    rc, out, err, result = run_eval_cli(capsys, tmp_path, "--dataset", f"voc:{root}", "--pooling", "avg", *TINY)
    assert rc == 0, err
    assert result["dataset"] == f"voc:{root}" and result["images"] >= 1 and result["skipped"] == 0
    (row,) = result["rows"]
    assert row["pooling"] == "avg" and row["n"] > 0
    check_ranges(row)


# ----------------------------------------------------------------------------- embedded family


@pytest.fixture
def installed_family(trained_family_dir, monkeypatch):
    monkeypatch.setattr(family, "FAMILY_DIR", trained_family_dir)
    return trained_family_dir


def test_family_engines_are_the_trained_siblings(installed_family):
    assert family.available_poolings() == ["native", "masked_max"]
    assert family.card("native")["architecture"] == "eclip-tiny-vit"
    engines = engine_mod.engines_for(family.FAMILY, None, ["native", "masked_max"], "cpu")
    assert list(engines) == ["native", "masked_max"]
    native, masked = engines["native"], engines["masked_max"]
    assert native is not masked and native.handle.model is not masked.handle.model
    files = {}
    for pooling, engine in engines.items():
        path = installed_family / f"{pooling}.safetensors"
        assert engine.handle.weights == str(path) and engine.handle.spec.architecture == "eclip-tiny-vit"
        files[pooling] = load_file(str(path))
        live = engine.handle.model.state_dict()
        for k, v in files[pooling].items():  # the handle holds exactly that file's weights
            assert torch.equal(live[k].to(torch.float16), v), (pooling, k)
    assert any(not torch.equal(files["native"][k], files["masked_max"][k]) for k in files["native"])


def test_eval_family_rows_use_their_own_model(installed_family, tmp_path, capsys):
    rc, out, err, result = run_eval_cli(capsys, tmp_path, "--dataset", "shapes:4", "--model", family.FAMILY,
                                        "--pooling", "native", "--pooling", "masked_max", "--device", "cpu")
    assert rc == 0, err
    rows = {r["pooling"]: r for r in result["rows"]}
    assert list(rows) == ["native", "masked_max"]
    assert rows["native"]["weights"] == str(installed_family / "native.safetensors")
    assert rows["masked_max"]["weights"] == str(installed_family / "masked_max.safetensors")
    for r in rows.values():
        check_ranges(r)
        assert r["model"] == "eclip-tiny-vit"

    rc = main(["eval", "--dataset", "shapes:4", "--model", family.FAMILY, "--pooling", "max", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert "no model trained with pooling 'max' (have: native, masked_max)" in err[0]


# ----------------------------------------------------------------------------- user errors


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("eclip-desktop: error: ")
    return err[0]


def test_unknown_dataset_kind(tmp_path, capsys):
    assert main(["eval", "--dataset", "bogus:x", *TINY]) == 1
    line = _one_error_line(capsys)
    assert "unknown dataset kind 'bogus'" in line and "voc:DIR" in line


def test_missing_voc_directory(tmp_path, capsys):
    missing = tmp_path / "nonexistent"
    assert main(["eval", "--dataset", f"voc:{missing}", *TINY]) == 1
    assert str(missing) in _one_error_line(capsys)


def test_json_output_that_cannot_be_written(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    target = blocker / "out.json"
    assert main(["eval", "--dataset", "shapes:2", *TINY, "--json", str(target)]) == 1
    assert "not writable" in _one_error_line(capsys)
    assert blocker.read_text() == "not a directory"

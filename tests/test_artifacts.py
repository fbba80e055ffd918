"""The one artifacts writer: every sidecar the CLI or the window writes reproduces (ensemble on and off),
grid sidecars name every tile, resume trusts content and provenance, and NaN never reaches a file."""
import json
import os
import shutil

import numpy as np
import pytest
import torch

from eclip_desktop.cli import main
from eclip_desktop.core.errors import OutputError
from eclip_desktop.core.export.artifacts import text_slug, text_slugs
from eclip_desktop.core.export.reproduce import TOLERANCE, reproduce_check
from eclip_desktop.core.model.loading import ModelSpec, load_model
from tests.conftest import write_image


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    """A saved tiny model: random weights only reproduce once they are a file."""
    from safetensors.torch import save_file
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    torch.manual_seed(3)
    state = load_model(ModelSpec("eclip-tiny-vit", "random", "cpu")).model.state_dict()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return str(path)


def model_args(ckpt):
    return ["--model", "eclip-tiny-vit", "--pretrained", ckpt, "--device", "cpu"]


def reproduces(sidecar) -> float:
    _, diff, _ = reproduce_check(sidecar)
    assert diff <= TOLERANCE, (sidecar, diff)
    return diff


def rows_of(out):
    return json.loads((out / "index.json").read_text())["rows"]


# --- names ---------------------------------------------------------------------------------------

def test_texts_differing_only_in_punctuation_get_distinct_names():
    assert text_slug("a cat") == "a-cat"
    assert text_slug("a photo of a circle.") == "a-photo-of-a-circle"  # the CLIP convention keeps its name
    others = {text_slug(t) for t in ("a photo of a circle?", "a photo of a circle!", "A photo of a circle.",
                                      "a photo of a circle...")}
    assert len(others) == 4 and "a-photo-of-a-circle" not in others
    slugs = text_slugs(["a dog", "a dog."])  # one label set: both plain forms, made distinct
    assert len(set(slugs.values())) == 2


# --- round trips: CLI ----------------------------------------------------------------------------

@pytest.mark.parametrize("ensemble", [False, True])
def test_explain_sidecars_reproduce(ckpt, tmp_path, capsys, ensemble):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    rc = main(["explain", img, "--text", "a cat", "--text", "a red car?", "--pooling", "max", "--out", str(out),
               *model_args(ckpt)] + (["--ensemble"] if ensemble else []))
    assert rc == 0, capsys.readouterr().err
    names = sorted(p.name for p in out.glob("*.json"))
    assert len(names) == 3 and any(n.startswith("photo__itsm__max__a-red-car-") for n in names)
    for name in names:
        meta = json.loads((out / name).read_text())
        assert meta["weights_sha256"] and meta.get("ensemble", False) == (ensemble if meta["text"] else False)
        reproduces(out / name)


@pytest.mark.parametrize("ensemble", [False, True])
def test_export_sidecars_reproduce_and_grid_names_every_tile(ckpt, tmp_path, capsys, ensemble):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    rc = main(["export", "--images", img, "--text", "a cat", "--text", "a dog", "--pooling", "native",
               "--pooling", "max", "--method", "itsm", "--method", "surgery", "--grid", "pooling", "--out", str(out),
               *model_args(ckpt)] + (["--ensemble"] if ensemble else []))
    assert rc == 0, capsys.readouterr().err
    for name in ("photo__surgery__max__a-dog.json", "photo__itsm__native__a-cat.json",
                 "photo__contribution__max.json"):
        reproduces(out / name)
    grid = json.loads((out / "photo__grid-pooling.json").read_text())
    assert grid["files"] == {"figure": "photo__grid-pooling.png"}
    assert [(t["pooling"], t["method"], t["text"], t["model"], t["pretrained"]) for t in grid["tile_sources"]] == \
        [(p, "itsm", "a cat", "eclip-tiny-vit", ckpt) for p in ("native", "max")]
    assert all(t["weights_sha256"] and t["map"].startswith("photo__itsm__") for t in grid["tile_sources"])
    capsys.readouterr()
    assert main(["reproduce", str(out / "photo__grid-pooling.json"), "--check"]) == 0  # tile by tile
    assert capsys.readouterr().out.count("tile photo__itsm__") == 2


# --- round trips: the window ---------------------------------------------------------------------

class FakeContext:
    """What the worker gives a job, without Qt: its engine cache and no-op reporting."""

    def __init__(self):
        from eclip_desktop.viewer.jobs.compute import WorkerState
        self.state = WorkerState()

    def check(self):
        pass

    def progress(self, text):
        pass

    def partial(self, obj):
        pass

    def let_others_run(self):
        pass


@pytest.mark.parametrize("ensemble", [False, True])
def test_window_map_and_grid_exports_reproduce(ckpt, tmp_path, ensemble):
    """The window's export path end to end below Qt: the worker's map sets, then Export Map and the
    pooling grid as the window's export presenter calls them."""
    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.core.model.poolings import pooling_names
    from eclip_desktop.viewer.figure import export_grid, export_map
    from eclip_desktop.viewer.jobs.compute import MapRequest, _map_sets
    from eclip_desktop.viewer.layouts import get_layout
    from eclip_desktop.viewer.state import AnalysisState, DisplayState, ModelChoice
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    choice = ModelChoice("eclip-tiny-vit", ckpt, "cpu")
    pairs = (("itsm", "native"), ("itsm", "max"))
    req = MapRequest(img, choice, pairs, ("a cat", "a dog"), ensemble=ensemble, tau="topk")
    maps = _map_sets(FakeContext(), req, choice, load_image(img))
    ms = maps[("itsm", "max")]
    assert ms.ensemble is ensemble and ms.tau == "topk" and ms.model_info["pretrained"] == ckpt
    out = tmp_path / "window"
    image = load_image(img)
    paths = export_map(out, image, ms.heatmaps[1], "max", ms.scores, ["a cat", "a dog"], 1, DisplayState(),
                       False, ms.model_info, {}, ensemble=ms.ensemble, tau=ms.tau)
    meta = json.loads(paths[2].read_text())
    assert meta["ensemble"] is ensemble and meta["tau"] == "topk" and meta["input_size"] == 64
    assert meta["written_by"] == "eclip-desktop GUI" and meta["scores"]["cosine"] == ms.scores["cosine"][1]
    reproduces(paths[2])
    tiles = get_layout("poolings").figure_tiles(maps, AnalysisState(), choice)
    grid = export_grid(out, image, "pooling", tiles, ["photo.png: one tile per pooling", "x"], DisplayState(),
                       ms.model_info)
    gmeta = json.loads(grid[1].read_text())
    # one tile per pooling the worker read out (one model: every readout from its one pass), in grid order
    shown = [p for p in pooling_names() if ("itsm", p) in maps]
    assert {"native", "max"} <= set(shown)
    assert [(t["pooling"], t["method"], t["text"], t["pretrained"]) for t in gmeta["tile_sources"]] == \
        [(p, "itsm", "a cat", ckpt) for p in shown]
    assert all(len(t["weights_sha256"]) == 64 for t in gmeta["tile_sources"])
    assert gmeta["model"] == "eclip-tiny-vit" and gmeta["pretrained"] == ckpt  # one model: named once too
    with pytest.raises(OutputError, match="exists"):  # never replaced without the user's yes
        export_grid(out, image, "pooling", tiles, ["t"], DisplayState(), ms.model_info)


# --- resume: content and provenance --------------------------------------------------------------

def stamps(out):
    return {p.name: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith("index.")}


def test_resume_refuses_another_models_rows_and_keeps_them(ckpt, tmp_path, capsys):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    base = ["export", "--images", img, "--text", "a cat", "--out", str(out)]
    assert main(base + model_args(ckpt)) == 0
    before = stamps(out)
    other = tmp_path / "other.safetensors"
    shutil.copy(ckpt, other)
    with open(other, "r+b") as f:  # same architecture, other weights
        f.seek(-8, os.SEEK_END)
        f.write(b"\x00" * 8)
    capsys.readouterr()
    rc = main(base + ["--model", "eclip-tiny-vit", "--pretrained", str(other), "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1 and "failed" in err
    rows = rows_of(out)
    assert {r["status"] for r in rows} == {"failed"}
    assert all(r["error"].startswith("stale: made by another request") and "pretrained" in r["error"]
               for r in rows)
    assert stamps(out) == before  # the other model's maps are kept, not replaced
    assert main(base + ["--model", "eclip-tiny-vit", "--pretrained", str(other), "--device", "cpu",
                        "--overwrite"]) == 0
    assert json.loads((out / "photo__itsm__native__a-cat.json").read_text())["pretrained"] == str(other)


def test_resume_refuses_a_changed_image_and_writes_a_punctuation_variant_beside(ckpt, tmp_path, capsys):
    img = tmp_path / "photo.png"
    write_image(img, w=64, h=48, seed=1)
    out = tmp_path / "out"
    args = ["export", "--images", str(img), "--out", str(out), *model_args(ckpt)]
    assert main(args + ["--text", "a photo of a circle."]) == 0
    first = stamps(out)
    assert main(args + ["--text", "a photo of a circle?"]) == 0  # its own names: nothing skipped, nothing lost
    rows = rows_of(out)
    assert [r["status"] for r in rows if r["method"] == "itsm"] == ["ok"]
    assert all(stamps(out)[n] == t for n, t in first.items() if "contribution" not in n)
    write_image(img, w=64, h=48, seed=2)  # same name, other pixels
    capsys.readouterr()
    assert main(args + ["--text", "a photo of a circle."]) == 1
    rows = rows_of(out)
    assert all(r["status"] == "failed" and "image_sha256" in r["error"] for r in rows)


def test_resume_keeps_rows_of_an_older_export_folder(ckpt, tmp_path, capsys):
    """Sidecars written before `alpha` and `weights_sha256` existed are judged on the other fields."""
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    args = ["export", "--images", img, "--text", "a cat", "--out", str(out), *model_args(ckpt)]
    assert main(args) == 0
    for sidecar in out.glob("photo__*.json"):
        meta = json.loads(sidecar.read_text())
        meta.pop("alpha"), meta.pop("weights_sha256")
        sidecar.write_text(json.dumps(meta))
    assert main(args) == 0, capsys.readouterr().err
    assert {r["status"] for r in rows_of(out)} == {"skipped"}
    fresh = tmp_path / "fresh"  # a sidecar that has the key must match it
    assert main([*args[:-7], str(fresh), *args[-6:]]) == 0
    assert main([*args[:-7], str(fresh), "--alpha", "0.7", *args[-6:]]) == 1
    assert all("alpha" in r["error"] for r in rows_of(fresh))


@pytest.mark.parametrize("damage", ["truncated npy", "broken json", "empty png", "missing png"])
def test_resume_redoes_a_damaged_row_without_overwrite(ckpt, tmp_path, capsys, damage):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    args = ["export", "--images", img, "--text", "a cat", "--out", str(out), *model_args(ckpt)]
    assert main(args) == 0
    stem = out / "photo__itsm__native__a-cat"
    if damage == "truncated npy":
        data = stem.with_suffix(".npy").read_bytes()
        stem.with_suffix(".npy").write_bytes(data[: len(data) // 2])
    elif damage == "broken json":
        stem.with_suffix(".json").write_text('{"image": ')
    elif damage == "empty png":
        stem.with_suffix(".png").write_bytes(b"")
    else:
        stem.with_suffix(".png").unlink()
    keep = (out / "photo__contribution__native.npy").stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0, capsys.readouterr().err
    status = {r["method"]: r["status"] for r in rows_of(out)}
    assert status == {"itsm": "ok", "contribution": "skipped"}
    assert (out / "photo__contribution__native.npy").stat().st_mtime_ns == keep
    reproduces(stem.with_suffix(".json"))


# --- non-finite numbers --------------------------------------------------------------------------

def test_a_nan_model_writes_nothing(ckpt, tmp_path, capsys):
    from safetensors.torch import load_file, save_file
    state = load_file(ckpt)
    state = {k: (torch.full_like(v, float("nan")) if k == "visual.proj" else v) for k, v in state.items()}
    bad = tmp_path / "nan.safetensors"
    save_file(state, str(bad))
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    for cmd in (["explain", img], ["export", "--images", img]):
        rc = main([*cmd, "--text", "a cat", "--out", str(out), "--model", "eclip-tiny-vit", "--pretrained", str(bad),
                   "--device", "cpu"])
        err = capsys.readouterr().err
        assert rc == 1 and "NaN" in err
        assert not [p for p in out.iterdir() if not p.name.startswith("index.")]


def test_sidecar_with_nan_is_refused_before_any_file(tmp_path):
    from eclip_desktop.core.export.artifacts import write_artifacts
    t = [tmp_path / "m.png", tmp_path / "m.npy", tmp_path / "m.json"]
    with pytest.raises(OutputError, match="raw_range"):
        write_artifacts(*t, np.zeros((4, 4), np.float32), np.zeros((4, 4, 3), np.uint8),
                        {"raw_range": [0.0, float("nan")]}, overwrite=False)
    assert not list(tmp_path.iterdir())

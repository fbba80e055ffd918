"""Exports carry what the window shows: per-tile raw ranges and the model in grid figures and
sidecars, captions wrapped (never cut), a uniform contribution map labelled so, top concepts in
ConVis figures."""
import csv
import json

import numpy as np

from eclip_desktop.cli import main
from eclip_desktop.core.export.concepts_job import top_concepts_line
from eclip_desktop.core.export.grid_lines import model_line, tile_lines
from eclip_desktop.core.figures.render import side_by_side
from tests.conftest import write_image

TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]


def test_grid_sidecar_and_title_carry_ranges_and_the_model(tmp_path, capsys):
    img = write_image(tmp_path / "a.png")
    out = tmp_path / "out"
    assert main(["export", "--images", img, "--text", "a photo of a circle.", "--pooling", "native", "--pooling", "max",
                 "--grid", "pooling", "--out", str(out), *TINY]) == 0, capsys.readouterr().err
    grid = json.loads((out / "a__grid-pooling.json").read_text())
    for src in grid["tile_sources"]:
        lo, hi = src["raw_range"]
        tile = json.loads((out / f"{src['map']}.json").read_text())
        assert [lo, hi] == tile["raw_range"] and lo <= hi
    assert any(line.startswith("model: eclip-tiny-vit") for line in grid["title"])
    rows = list(csv.DictReader((out / "index.csv").open()))
    contrib = {r["pooling"]: r["uniform"] for r in rows if r["method"] == "contribution"}
    assert contrib == {"native": "False", "max": "False"}


def test_a_uniform_contribution_is_labelled(tmp_path, capsys):
    img = write_image(tmp_path / "a.png")
    out = tmp_path / "out"
    assert main(["export", "--images", img, "--text", "a circle", "--pooling", "avg", "--out", str(out), *TINY]) == 0
    meta = json.loads((out / "a__contribution__avg.json").read_text())
    assert meta["uniform"] is True and "all zeros" in meta["uniform_note"]
    assert not np.load(out / "a__contribution__avg.npy").any()
    rows = list(csv.DictReader((out / "index.csv").open()))
    assert [r["uniform"] for r in rows if r["method"] == "contribution"] == ["True"]
    assert "uniform (no contrast" in tile_lines("avg", {"uniform": True})[-1]


def test_captions_wrap_instead_of_being_cut():
    panel = np.zeros((64, 64, 3), np.uint8)
    short = side_by_side([panel, panel], ["native", "max"])
    long = side_by_side([panel, panel], ["native", "masked max \u00b7 p = 0.792, cos = 0.311 \u00b7 raw 0.01 \u2026 0.2"])
    assert long.shape[0] > short.shape[0]  # more rows, not an ellipsis


def test_lines_for_tiles_titles_and_concepts():
    assert tile_lines("circle.n.01", {"method": "convis", "support": {"supported": True, "p_value": 0.004}}) == \
        ["circle.n.01", "supported (p = 0.004)"]
    assert tile_lines("native", {"raw_range": [0.1, 0.25]}, {"probability": 0.5, "cosine": 0.2})[-1] == "raw 0.1 \u2026 0.25"
    assert model_line([{"model": "m", "pretrained": "/x/fam/a.safetensors"},
                       {"model": "m", "pretrained": "/x/fam/b.safetensors"}]) == \
        "models: m (fam/a.safetensors), m (fam/b.safetensors)"
    assert top_concepts_line({"by_mass": [{"synset": "circle.n.01"}, {"synset": "ellipse.n.01"}]}).endswith(
        "circle.n.01, ellipse.n.01")
    assert "not listed" in top_concepts_line({"unknown_set": "why"})


def test_the_windows_convis_export_carries_the_listing_and_its_recipe(tmp_path):
    from types import SimpleNamespace

    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.viewer.figure import export_convis, export_grid
    from eclip_desktop.viewer.state import DisplayState
    image = load_image(write_image(tmp_path / "a.png"))
    values = np.linspace(0, 1, image.width * image.height, dtype=np.float32).reshape(image.height, image.width)
    result = SimpleNamespace(synset="circle.n.01", gloss="a ring", set_name="shapes", windows=730, concepts=None,
                             support=None, values=values, unknown_set="", set_hash="ab" * 20,
                             request=SimpleNamespace(set_key="shapes"))
    dock = [{"synset": "ellipse.n.01", "gloss": "an oval", "mass": 0.7, "best_rank": 0}]
    info = {"model": "eclip-tiny-vit", "pretrained": "random"}
    targets = export_convis(tmp_path / "out", image, result, DisplayState(), info, concepts=dock)
    meta = json.loads(next(t for t in targets if t.suffix == ".json").read_text())
    assert meta["top_concepts"] == dock  # the dock's listing, not []
    assert meta["algorithm"]["seed"] == 0 and meta["concept_set"]["hash"] == "ab" * 20
    assert meta["concept_set"]["spec"] == "shapes"
    # A window grid names the model in its title and keeps each tile's raw range.
    tiles = [(values, ["native", "raw 0 \u2026 1"], {"caption": "native", "model": "eclip-tiny-vit",
                                                       "pretrained": "random", "raw_range": [0.0, 1.0]})]
    grid = export_grid(tmp_path / "g", image, "poolings", tiles, ["a: one tile per pooling"], DisplayState(), info)
    gmeta = json.loads(grid[1].read_text())
    assert "model: eclip-tiny-vit (random)" in gmeta["title"] and gmeta["tile_sources"][0]["raw_range"] == [0.0, 1.0]

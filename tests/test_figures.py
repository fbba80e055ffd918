"""Vector (SVG) figures, comparison grids, and reproducing a map from its sidecar."""
import base64
import io
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from eclip_desktop.cli import main
from eclip_desktop.core.export.reproduce import reproduce_map
from eclip_desktop.core.figures.grids import grid_figure, pooling_grid
from eclip_desktop.core.figures.render import overlay
from eclip_desktop.core.figures.svg import figure_svg
from tests.conftest import write_image

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"
TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]


def _panel(h=40, w=56, seed=0):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    heat = np.linspace(0, 1, h * w, dtype=np.float32).reshape(h, w)
    return overlay(rgb, heat, cmap="viridis")


def test_svg_figure_has_vector_text_gradient_and_embedded_panel():
    panel = _panel()
    lines = ["\u201ccaf\u00e9 <au lait> & cr\u00e8me\u201d", "eclip-tiny-vit (random) \u00b7 ITSM"]
    svg = figure_svg(panel, lines, "viridis", colorbar_label="similarity")
    root = ET.fromstring(svg.encode("utf-8"))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert lines[0] in texts and lines[1] in texts  # escaped in the file, exact once parsed
    assert {"0.00", "0.50", "1.00", "similarity"} <= set(texts)
    grads = list(root.iter(f"{SVG}linearGradient"))
    assert len(grads) == 1 and len(grads[0].findall(f"{SVG}stop")) >= 16
    images = list(root.iter(f"{SVG}image"))
    assert len(images) == 1
    href = images[0].get(XLINK)
    assert href.startswith("data:image/png;base64,")
    decoded = np.array(Image.open(io.BytesIO(base64.b64decode(href.split(",", 1)[1]))))
    assert decoded.shape == panel.shape and np.array_equal(decoded, panel)
    # Proportional: a larger panel gets a larger figure.
    big = ET.fromstring(figure_svg(_panel(400, 560), lines, "viridis").encode())
    assert float(big.get("width")) > float(root.get("width"))


def test_grid_grows_with_tiles_and_tiles_differ_where_maps_differ():
    rgb = np.full((48, 64, 3), 128, np.uint8)
    a = np.zeros((48, 64), np.float32)
    b = np.ones((48, 64), np.float32)
    two = grid_figure(rgb, [(a, ["A"]), (a, ["B"])], cmap="jet", title_lines=["t"])
    three = grid_figure(rgb, [(a, ["A"]), (a, ["B"]), (b, ["C"])], cmap="jet", title_lines=["t"])
    assert two.dtype == np.uint8 and two.ndim == 3
    assert three.shape[1] > two.shape[1] and three.shape[0] == two.shape[0]
    # Tiles are the upscaled panels (short side 256, here 48 -> x6 = 288 x 384) laid out after an
    # 8 px pad; compare the centres of tile 1 and 2 (same map) and tile 3 (another map).
    low, high = (tuple(int(v) for v in overlay(rgb[:1, :1], m[:1, :1], "jet")[0, 0]) for m in (a, b))

    def colours_across(fig):  # the colours along the figure's middle row, which crosses every tile
        return {tuple(int(v) for v in px) for px in fig[fig.shape[0] // 2]}

    same = pooling_grid(rgb, {"native": (a, None), "avg": (a, None), "max": (a, None)}, cmap="jet")
    mixed = pooling_grid(rgb, {"native": (a, None), "avg": (a, None), "max": (b, {"cosine": 0.1,
                                                                                  "probability": 0.5})}, cmap="jet")
    assert same.shape == mixed.shape
    assert low in colours_across(same) and high not in colours_across(same)
    assert {low, high} <= colours_across(mixed)
    # The changed tile is the last one: the first two tiles are pixel-identical in both figures.
    cols = np.flatnonzero((same != mixed).any(axis=(0, 2)))
    assert cols.min() > same.shape[1] // 2


def test_export_svg_and_pooling_grid(tmp_path, capsys):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    rc = main(["export", "--images", img, "--text", "caf\u00e9", "--text", "a dog", "--pooling", "all",
               "--grid", "pooling", "--grid", "prompt", "--format", "svg", "--out", str(out), *TINY])
    _, err = capsys.readouterr()
    assert rc == 0, err
    root = ET.parse(out / "photo__itsm__native__a-dog.svg").getroot()
    assert any("a dog" in "".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    meta = json.loads((out / "photo__itsm__native__a-dog.json").read_text())
    assert meta["files"]["figure"].endswith(".svg")
    rows = json.loads((out / "index.json").read_text())["rows"]
    for kind, tiles in (("pooling", 4), ("prompt", 2)):
        row = next(r for r in rows if r["method"] == f"grid-{kind}")
        assert row["status"] == "ok" and row["files"] == [f"photo__grid-{kind}.png", f"photo__grid-{kind}.json"]
        grid = np.array(Image.open(out / row["files"][0]))
        assert grid.shape[1] > 256 * tiles  # one upscaled tile per pooling / prompt
    with open(out / "index.csv", encoding="utf-8") as f:
        assert "photo__grid-pooling.png" in f.read()
    # Resume: the grid is complete, so nothing is redone.
    rc = main(["export", "--images", img, "--text", "caf\u00e9", "--text", "a dog", "--pooling", "all",
               "--grid", "pooling", "--grid", "prompt", "--format", "svg", "--out", str(out), *TINY])
    capsys.readouterr()
    assert rc == 0
    assert all(r["status"] == "skipped" for r in json.loads((out / "index.json").read_text())["rows"])


def test_grid_needs_texts(tmp_path, capsys):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    rc = main(["export", "--images", img, "--synset", "dog.n.01", "--grid", "prompt", "--out",
               str(tmp_path / "o"), *TINY])
    assert rc == 1 and "--grid" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["itsm", "surgery"])
def test_reproduce_round_trip_and_check(saved_tiny, tmp_path, capsys, method):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    rc = main(["explain", img, "--text", "caf\u00e9", "--text", "a dog", "--method", method, "--pooling", "max",
               "--out", str(out), "--model", "eclip-tiny-vit", "--pretrained", saved_tiny, "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    sidecar = out / f"photo__{method}__max__a-dog.json"
    saved = np.load(sidecar.with_suffix(".npy"))
    assert np.abs(reproduce_map(sidecar) - saved).max() < 1e-5
    assert np.abs(reproduce_map(out / "photo__contribution__max.json")
                  - np.load(out / "photo__contribution__max.npy")).max() < 1e-5
    capsys.readouterr()
    assert main(["reproduce", str(sidecar), "--check"]) == 0
    assert "max |difference|" in capsys.readouterr().out
    np.save(sidecar.with_suffix(".npy"), np.clip(saved + 0.01, 0, 1).astype(np.float32))
    assert main(["reproduce", str(sidecar), "--check"]) == 1
    assert "differs" in capsys.readouterr().err
    assert main(["reproduce", str(sidecar)]) == 0  # without --check it only reports


def test_reproduce_refuses_random_weights(tmp_path, capsys):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    assert main(["explain", img, "--text", "a dog", "--out", str(out), *TINY]) == 0
    capsys.readouterr()
    assert main(["reproduce", str(out / "photo__itsm__native__a-dog.json")]) == 1
    assert "random" in capsys.readouterr().err


def test_export_contour_layout_and_width(tmp_path, capsys):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    rc = main(["export", "--images", img, "--text", "a dog", "--contour", "percentile:80", "--layout", "side",
               "--width", "300", "--out", str(out), *TINY])
    assert rc == 0, capsys.readouterr().err
    fig = np.array(Image.open(out / "photo__itsm__native__a-dog.png"))
    assert fig.shape[1] > 2 * 300  # image and overlay, 300 px each, then the colorbar
    meta = json.loads((out / "photo__itsm__native__a-dog.json").read_text())
    assert meta["figure_options"] == {"format": "png", "layout": "side", "width": 300, "contour": "percentile:80"}
    assert np.load(out / "photo__itsm__native__a-dog.npy").shape == (48, 64)  # raw map: the image's size
    for bad, message in (("--contour", "halfway"), ("--contour", "fixed:2")):
        rc = main(["export", "--images", img, "--text", "a dog", bad, message, "--out", str(tmp_path / "b"), *TINY])
        assert rc == 1 and "--contour" in capsys.readouterr().err
    rc = main(["export", "--images", img, "--text", "a dog", "--width", "-3", "--out", str(tmp_path / "b"), *TINY])
    assert rc == 1 and "--width" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_figure_panel_outline_and_layout():
    from eclip_desktop.core.figures.panel import (
        compose_panel,
        parse_contour,
        threshold_mask,
    )
    rgb = np.full((40, 60, 3), 128, np.uint8)
    values = np.zeros((40, 60), np.float32)
    values[10:30, 20:40] = 1.0
    assert parse_contour("otsu") == ("otsu", 0.0) and parse_contour("fixed:0.25") == ("fixed", 0.25)
    with pytest.raises(ValueError, match="percentile needs a level within 0..100"):
        parse_contour("percentile:120")
    mask = threshold_mask(values, "otsu")
    assert mask.sum() == 400  # exactly the bright square
    plain = compose_panel(rgb, values, "gray", 0.5)
    outlined = compose_panel(rgb, values, "gray", 0.5, mask=mask)
    assert plain.shape == outlined.shape == (40, 60, 3)
    assert not np.array_equal(plain, outlined)  # the outline is drawn
    side = compose_panel(rgb, values, "gray", 0.5, width=120, layout="side")
    assert side.shape[1] > 240 and side.shape[0] > 80


def test_compose_panel_hatches_the_side_above_the_threshold():
    from eclip_desktop.core.figures.panel import compose_panel
    rgb = np.full((60, 60, 3), 100, np.uint8)
    values = np.zeros((60, 60), np.float32)
    mask = np.zeros((60, 60), bool)
    mask[10:40, 10:40] = True
    plain = compose_panel(rgb, values, "gray", 0.0, mask=mask)
    hatched = compose_panel(rgb, values, "gray", 0.0, mask=mask, hatch=True)
    changed = (hatched != plain).any(axis=2)
    assert changed[12:38, 12:38].any() and not changed[45:, 45:].any()  # inside only

"""The generalisation suite (`--dataset gen`): deterministic by seed, exact masks, a renderer and
backgrounds that Shapes World does not have, and `eval` runs on it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from eclip_desktop.cli import main
from eclip_desktop.core.errors import DatasetError
from eclip_desktop.core.evaluation.datasets import parse_dataset_arg
from eclip_desktop.core.shapes import class_names, generate_scene
from eclip_desktop.core.shapes.generalisation import GEN_BACKGROUNDS, SIZE_RANGE, generate_gen_scene


def test_deterministic_by_seed_and_index():
    a, b = generate_gen_scene(2000, 3), generate_gen_scene(2000, 3)
    assert np.array_equal(a.image, b.image)
    assert [o.shape for o in a.objects] == [o.shape for o in b.objects]
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(a.objects, b.objects))
    c = generate_gen_scene(2001, 3)
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


def test_variety_and_ranges():
    scenes = [generate_gen_scene(2000, i) for i in range(40)]
    sizes = {s.image.shape[0] for s in scenes}
    assert min(sizes) >= SIZE_RANGE[0] and max(sizes) <= SIZE_RANGE[1] and len(sizes) > 20
    assert all(s.image.shape[0] == s.image.shape[1] and s.image.dtype == np.uint8 for s in scenes)
    assert {s.background for s in scenes} == set(GEN_BACKGROUNDS)
    assert {len(s.objects) for s in scenes} == {1, 2, 3}
    assert any(s.jpeg_quality for s in scenes) and any(s.jpeg_quality is None for s in scenes)
    assert {o.shape for s in scenes for o in s.objects} == set(class_names())
    assert all(len(generate_gen_scene(2000, i, n_objects=1).objects) == 1 for i in range(10))


def test_masks_are_exact_and_disjoint():
    for i in range(20):
        s = generate_gen_scene(2000, i)
        total = np.zeros(s.image.shape[:2], int)
        for o in s.objects:
            assert o.mask.dtype == bool and o.mask.shape == s.image.shape[:2] and o.mask.sum() >= 50
            total += o.mask
        assert total.max() == 1  # objects never overlap, so every class mask is exact
        # The object's pixels differ from the background around them: the mask is where it is drawn.
        assert set(s.class_masks()) == {o.shape for o in s.objects}


def test_mask_matches_the_drawing_on_a_flat_scene():
    # Without artefacts a flat-filled object's mask interior has the fill colour: find one and check.
    for i in range(200):
        s = generate_gen_scene(2000, i, n_objects=1)
        o = s.objects[0]
        if o.fill == "flat" and s.jpeg_quality is None and s.background == "gradient":
            import cv2
            inner = cv2.erode(o.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            inside = s.image[inner].astype(float)
            assert inside.std(0).max() < 30  # noise of at most sigma 8, lines aside
            break
    else:
        pytest.skip("no flat object on a clean gradient in the first 200 scenes")


def test_not_shapes_world():
    # The same (seed, index) draws an unrelated scene from Shapes World's.
    s = generate_gen_scene(5, 0, size=64)
    w = generate_scene(5, 0, size=64)
    assert not np.array_equal(s.image, w.image)


def test_parse_gen_argument():
    assert parse_dataset_arg("gen") == ("gen", {"count": 100, "seed": 2000, "objects": (1, 3)})
    assert parse_dataset_arg("gen:60") == ("gen", {"count": 60, "seed": 2000, "objects": (1, 3)})
    assert parse_dataset_arg("gen:60:7:1-2") == ("gen", {"count": 60, "seed": 7, "objects": (1, 2)})
    for bad, msg in (("gen:0", "positive"), ("gen:5:x", "seed"), ("gen:5:1:2:3", "too many fields in 'gen"),
                     ("gen:5:1:9", "objects per scene")):
        with pytest.raises(DatasetError, match=msg):
            parse_dataset_arg(bad)
    with pytest.raises(ValueError, match="n_objects"):
        generate_gen_scene(0, 0, n_objects=(2, 1))


def test_eval_on_the_suite(tmp_path, capsys):
    out = tmp_path / "gen.json"
    rc = main(["eval", "--dataset", "gen:6:2000", "--model", "eclip-tiny-vit", "--pretrained", "random",
               "--device", "cpu", "--pooling", "native", "--pooling", "masked_max", "--json", str(out)])
    assert rc == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert "generalisation suite" in result["protocol"] and result["scenes"] == 6
    assert [r["pooling"] for r in result["rows"]] == ["native", "masked_max"]
    assert all(r["n"] >= 6 and 0 <= r["pointing"] <= 1 for r in result["rows"])


def test_ood_refused_on_the_suite(capsys):
    """ConVis runs on the suite (with its support test); the OOD evaluation reads image folders only."""
    rc = main(["eval", "--dataset", "gen:4", "--method", "ood", "--in-synset", "circle", "--model", "eclip-tiny-vit",
               "--pretrained", "random", "--device", "cpu"])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--method ood does not run on" in err

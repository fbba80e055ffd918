"""The second generalisation suite (`--dataset gen2`): deterministic by seed, masks exact for the
image as drawn and never shared by two classes, named figures visible and what their names say,
distractors never counted as classes, and `eval` runs on it."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import load_script

from eclip_desktop.cli import main
from eclip_desktop.core.errors import DatasetError
from eclip_desktop.core.evaluation.datasets import parse_dataset_arg
from eclip_desktop.core.shapes import class_names, generate_scene
from eclip_desktop.core.shapes import generalisation2 as g2
from eclip_desktop.core.shapes.generalisation import generate_gen_scene
from eclip_desktop.core.shapes.generalisation2 import (
    DISTRACTORS,
    MIN_AREA,
    MIN_VISIBLE,
    SIZE_RANGE,
    STYLES,
    generate_gen2_scene,
)
from eclip_desktop.core.shapes.generalisation2_paint import BACKGROUNDS2, LIGHTINGS


@pytest.fixture(scope="module")
def scenes():
    return [generate_gen2_scene(3000, i) for i in range(40)]


def test_deterministic_by_seed_and_index():
    a, b = generate_gen2_scene(3000, 3), generate_gen2_scene(3000, 3)
    assert np.array_equal(a.image, b.image)
    assert [o.shape for o in a.objects] == [o.shape for o in b.objects]
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(a.objects, b.objects))
    assert all(np.array_equal(x.mask, y.mask) for x, y in zip(a.distractors, b.distractors))
    c = generate_gen2_scene(3001, 3)
    assert a.image.shape != c.image.shape or not np.array_equal(a.image, c.image)


def test_unrelated_to_shapes_world_and_the_first_suite():
    s = generate_gen2_scene(5, 0, size=96)
    assert not np.array_equal(s.image, generate_scene(5, 0, size=96).image)
    assert not np.array_equal(s.image, generate_gen_scene(5, 0, size=96).image)


def test_variety_and_ranges(scenes):
    sizes = {s.image.shape[0] for s in scenes}
    assert min(sizes) >= SIZE_RANGE[0] and max(sizes) <= SIZE_RANGE[1] and len(sizes) > 25
    assert all(s.image.shape[0] == s.image.shape[1] and s.image.shape[2] == 3 and s.image.dtype == np.uint8
               for s in scenes)
    assert {s.background for s in scenes} == set(BACKGROUNDS2)
    assert {s.style for s in scenes} == set(STYLES)
    assert {s.lighting for s in scenes} == set(LIGHTINGS)
    assert {len(s.objects) for s in scenes} == {1, 2, 3}
    assert {len(s.distractors) for s in scenes} == {0, 1, 2, 3}
    assert {d.kind for s in scenes for d in s.distractors} == set(DISTRACTORS)
    assert {o.shape for s in scenes for o in s.objects} == set(class_names())
    assert any(o.visible_fraction < 0.99 for s in scenes for o in s.objects)  # occlusion happens
    assert all(len(generate_gen2_scene(3000, i, n_objects=1).objects) == 1 for i in range(10))


def test_masks_are_disjoint_and_distractors_are_never_classes(scenes):
    assert not set(DISTRACTORS) & set(class_names())
    for s in scenes:
        owners = np.zeros(s.image.shape[:2], int)
        for m in [o.mask for o in s.objects] + [d.mask for d in s.distractors]:
            assert m.dtype == bool and m.shape == s.image.shape[:2]
            owners += m
        assert owners.max() <= 1  # no pixel belongs to two figures, named or not
        masks = s.class_masks()
        assert set(masks) == {o.shape for o in s.objects} and set(masks) <= set(class_names())
        distractor_pixels = np.zeros(s.image.shape[:2], bool)
        for d in s.distractors:
            assert d.kind in DISTRACTORS and d.mask.any()
            distractor_pixels |= d.mask
        assert not any((m & distractor_pixels).any() for m in masks.values())
        names = list(masks)
        assert all(not (masks[a] & masks[b]).any() for i, a in enumerate(names) for b in names[i + 1:])


def test_named_figures_stay_visible_in_one_piece(scenes):
    for s in scenes:
        for o in s.objects:
            assert o.visible_fraction >= MIN_VISIBLE and o.mask.sum() >= MIN_AREA
            n, _, stats, _ = cv2.connectedComponentsWithStats(o.mask.astype(np.uint8), connectivity=8)
            assert stats[1:, cv2.CC_STAT_AREA].max() >= 0.97 * o.mask.sum()
            outside = np.pad(~o.mask, 1, constant_values=True).astype(np.uint8)
            cv2.floodFill(outside, None, (0, 0), 2)
            assert (outside == 1).sum() <= max(2, 0.005 * o.mask.sum())  # no occluder sits wholly inside
            ys, xs = np.nonzero(o.mask)  # wholly inside the frame, never cut by its edge
            assert xs.min() > 0 and ys.min() > 0 and xs.max() < s.image.shape[1] - 1 and ys.max() < s.image.shape[0] - 1


def test_masks_are_the_pixels_each_figure_paints(monkeypatch):
    # Paint figure k in channel k alone, on black, without shadows or finish: a pixel is in figure k's
    # mask exactly when figure k makes at least half its colour (channel value >= 128 after rounding).
    painted = []

    def colour(layer, style, below, rng):
        c = np.zeros(3, np.float32)
        c[len(painted)] = 255
        painted.append(layer)
        return c

    monkeypatch.setattr(g2, "_colour", colour)
    monkeypatch.setattr(g2.paint, "background", lambda kind, rng, side: np.zeros((side, side, 3), np.float32))
    monkeypatch.setattr(g2.paint, "shadow", lambda cov, offset, blur: np.zeros_like(cov))
    monkeypatch.setattr(g2.paint, "finish", lambda img, rng: (np.clip(np.rint(img), 0, 255).astype(np.uint8),
                                                              "none", (1.0, 1.0, 1.0)))
    checked = overlapping = 0
    for i in range(80):
        painted.clear()
        try:
            s = generate_gen2_scene(3000, i)
        except IndexError:  # more than three layers: no channel left for the fourth
            continue
        objects, distractors = iter(s.objects), iter(s.distractors)  # each list keeps the depth order
        for k, layer in enumerate(painted):
            figure = next(objects) if layer.named else next(distractors)
            assert np.array_equal(figure.mask, s.image[..., k] >= 128), (i, k)
        overlapping += any(o.visible_fraction < 1 for o in s.objects)
        checked += 1
    assert checked >= 20 and overlapping >= 1


def test_figures_are_what_their_names_say():
    # A square keeps four nearly equal sides and nearly right angles after the hand and the pose;
    # a circle stays round; a rectangle stays clearly longer than wide.
    rng = np.random.default_rng(0)
    for _ in range(200):
        for style in STYLES:
            base, _ = g2.outline("square", rng)
            sides = np.linalg.norm(base - np.roll(base, -1, 0), axis=1)
            assert np.allclose(sides, sides[0])
            corners = g2.pose(base + np.clip(rng.normal(0, 0.02, base.shape), -0.04, 0.04), rng, gentle=False)
            edges = np.roll(corners, -1, 0) - corners
            lengths = np.linalg.norm(edges, axis=1)
            assert lengths.max() / lengths.min() < 1.3
            cos = np.abs((edges * np.roll(edges, 1, 0)).sum(1)) / (lengths * np.roll(lengths, 1, 0))
            assert np.degrees(np.arccos(cos.max())) > 72  # every corner within 18 degrees of square
            circle = g2.pose(g2.hand_drawn(*g2.outline("circle", rng), style, rng), rng, gentle=True)
            radii = np.linalg.norm(circle - circle.mean(0), axis=1)
            assert radii.min() / radii.max() > 0.88
            rect, _ = g2.outline("rectangle", rng)
            w, h = np.ptp(rect, axis=0)
            assert h / w <= 0.62


def test_owners_take_the_layer_that_makes_half_the_colour():
    # Coverages are multiples of 1/9 (3x3 supersampling), so no figure makes exactly half a pixel.
    a = np.array([[1.0, 1.0, 1.0, 0.0, 6 / 9]], np.float32)
    b = np.array([[0.0, 4 / 9, 5 / 9, 4 / 9, 3 / 9]], np.float32)
    assert g2.owners([a, b]).tolist() == [[0, 0, 1, -1, -1]]  # the last: 4/9 of a under 3/9 of b


def test_parse_gen2_argument():
    assert parse_dataset_arg("gen2") == ("gen2", {"count": 100, "seed": 3000, "objects": (1, 3)})
    assert parse_dataset_arg("GEN2:60") == ("gen2", {"count": 60, "seed": 3000, "objects": (1, 3)})
    assert parse_dataset_arg("gen2:60:7:1-2") == ("gen2", {"count": 60, "seed": 7, "objects": (1, 2)})
    assert parse_dataset_arg("gen2:5:0:1") == ("gen2", {"count": 5, "seed": 0, "objects": (1, 1)})
    for bad, msg in (("gen2:0", "positive"), ("gen2:5:x", "seed"), ("gen2:5:1:2:3", "too many fields in 'gen2"),
                     ("gen2:5:1:9", "objects per scene"), ("gen2:5:1:3-1", "objects per scene"),
                     ("gen3", "unknown dataset kind 'gen3'")):
        with pytest.raises(DatasetError, match=msg):
            parse_dataset_arg(bad)
    with pytest.raises(ValueError, match="n_objects"):
        generate_gen2_scene(0, 0, n_objects=(2, 1))


def test_a_bad_gen2_argument_is_one_line(capsys):
    rc = main(["eval", "--dataset", "gen2:0", "--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "gen2:0" in err and "positive" in err


def test_eval_on_the_second_suite(tmp_path, capsys):
    out = tmp_path / "gen2.json"
    rc = main(["eval", "--dataset", "gen2:4", "--model", "eclip-tiny-vit", "--pretrained", "random",
               "--device", "cpu", "--json", str(out)])
    assert rc == 0, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert result["protocol"].startswith("second generalisation suite") and result["scenes"] == 4
    assert result["seed"] == 3000 and result["objects"] == [1, 3]
    assert all(r["n"] >= 4 and 0 <= r["pointing"] <= 1 and 0 <= r["zero_shot"] <= 1 for r in result["rows"])


def test_ood_refused_on_the_second_suite(capsys):
    """ConVis runs on the suite (with its support test); the OOD evaluation reads image folders only."""
    rc = main(["eval", "--dataset", "gen2:4", "--method", "ood", "--in-synset", "circle", "--model", "eclip-tiny-vit",
               "--pretrained", "random", "--device", "cpu"])
    assert rc == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--method ood does not run on" in err


def test_breakdown_script_names_each_suites_own_factors():
    from eclip_desktop.core.shapes.generalisation import generate_gen_scene
    module = load_script("gen_breakdown")
    scene = generate_gen2_scene(3001, 0, n_objects=1)
    got = dict(module.factors("gen2", scene))
    assert got["medium"] == scene.style and got["texture"] == scene.objects[0].texture
    assert got["distractors"] == str(len(scene.distractors)) and got["shape"] == scene.objects[0].shape
    first = dict(module.factors("gen", generate_gen_scene(2001, 0, n_objects=1)))
    assert "fill" in first and "jpeg" in first and "medium" not in first

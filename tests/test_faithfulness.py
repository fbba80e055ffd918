"""Deletion and insertion curves on a known answer (a toy model that sees only an object), their
substrates, endpoints and areas, and `eval --faithfulness` on the tiny ViT."""
import json

import numpy as np
import pytest
import torch

from eclip_desktop.cli import main
from eclip_desktop.core.evaluation.faithfulness import (
    DEFAULT_STEPS,
    FaithfulnessMeter,
    area,
    blur,
    deletion_insertion,
    pixel_order,
    step_counts,
)

S = 24
TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]


def object_world(seed=0):
    """A random normalised image, an object mask, and a toy embed that reads the object's pixels only."""
    g = torch.Generator().manual_seed(seed)
    pixels = torch.randn(1, 3, S, S, generator=g)
    mask = np.zeros((S, S), bool)
    mask[5:13, 8:20] = True
    inside = torch.from_numpy(mask)

    def embed(x):
        return torch.cat([x[:, :, inside].flatten(1), torch.full((x.shape[0], 1), 0.5)], dim=1)

    return pixels, mask, embed, embed(pixels)[0]


def test_object_mask_deletes_and_inserts_faster_than_its_inverse():
    pixels, mask, embed, text = object_world()
    good = deletion_insertion(embed, pixels, mask.astype(np.float32), text, steps=16)
    bad = deletion_insertion(embed, pixels, (~mask).astype(np.float32), text, steps=16)
    assert good.deletion_auc < bad.deletion_auc - 0.3
    assert good.insertion_auc > bad.insertion_auc + 0.3
    # the object is a sixth of the image: once its pixels are gone the toy sees only the substrate
    share = mask.mean()
    gone = good.fraction >= share
    assert np.allclose(good.deletion[gone], good.deletion[-1]) and good.deletion[0] == pytest.approx(1.0, abs=1e-6)
    # ... and the inverse map keeps the object (cosine 1) until the background is all gone
    kept = bad.fraction <= 1 - share
    assert np.allclose(bad.deletion[kept], 1.0, atol=1e-6)


def test_curve_endpoints_and_substrates():
    pixels, mask, embed, text = object_world(1)
    curves = deletion_insertion(embed, pixels, np.random.default_rng(0).random((S, S)), text, steps=8)

    def cos(x):
        return float(torch.nn.functional.normalize(embed(x)[0], dim=0) @ torch.nn.functional.normalize(text, dim=0))

    assert curves.fraction[0] == 0 and curves.fraction[-1] == 1 and len(curves.fraction) == 9
    assert curves.deletion[0] == pytest.approx(cos(pixels), abs=1e-5)
    assert curves.deletion[-1] == pytest.approx(cos(torch.zeros_like(pixels)), abs=1e-5)  # the mean colour
    assert curves.insertion[0] == pytest.approx(cos(blur(pixels)), abs=1e-5)
    assert curves.insertion[-1] == pytest.approx(cos(pixels), abs=1e-5)
    assert curves.insertion[0] < 0.99  # the blurred start differs from the image


def test_area_is_the_trapezoid_of_rise():
    y = np.array([1.0, 0.5, 0.25, 0.0, 0.0])
    x = np.linspace(0, 1, 5)
    rise_auc = (y.sum() - y[0] / 2 - y[-1] / 2) / (len(y) - 1)  # RISE's evaluation.auc
    assert area(x, y) == pytest.approx(rise_auc)
    assert np.allclose(area(x, np.stack([y, 1 - y])), [rise_auc, 1 - rise_auc])


def test_steps_cover_every_pixel():
    assert list(step_counts(100, 4)) == [0, 25, 50, 75, 100]
    assert list(step_counts(10, 3)) == [0, 4, 8, 10]
    assert step_counts(224 * 224, DEFAULT_STEPS)[1] == 1568


def test_map_at_any_size_orders_the_input():
    coarse = np.zeros((4, 4), np.float32)
    coarse[1, 2] = 1.0
    order = pixel_order(coarse, 16)
    top = np.unravel_index(order[:4], (16, 16))
    assert all(4 <= r < 8 and 8 <= c < 12 for r, c in zip(*top))  # the top pixels lie in the hot cell
    big = np.kron(coarse, np.ones((10, 15), np.float32))  # 40 x 60, not square
    rows, cols = np.unravel_index(pixel_order(big, 16)[:4], (16, 16))
    assert np.all((rows >= 4) & (rows < 8) & (cols >= 8) & (cols < 12))
    for bad in (np.zeros(5), np.full((3, 3), np.nan)):
        with pytest.raises(ValueError):
            pixel_order(bad, 16)


def test_batches_and_readouts_do_not_change_the_curves():
    pixels, mask, embed, text = object_world(2)
    sal = np.random.default_rng(1).random((S, S))
    a = deletion_insertion(embed, pixels, sal, text, steps=6, batch=1)
    b = deletion_insertion(embed, pixels, sal, text, steps=6, batch=64)
    np.testing.assert_allclose(a.deletion, b.deletion, atol=1e-6)
    np.testing.assert_allclose(a.insertion, b.insertion, atol=1e-6)
    # an embed with K readouts gives K curves; the readout equal to `embed` gives its curve
    two = deletion_insertion(lambda x: torch.stack([embed(x), -embed(x)], 1), pixels, sal, text, steps=6)
    assert two.deletion.shape == (2, 7)
    np.testing.assert_allclose(two.deletion[0], a.deletion, atol=1e-6)
    np.testing.assert_allclose(two.insertion[1], -a.insertion, atol=1e-6)
    meter = FaithfulnessMeter(["p", "q"])
    meter.add(two)
    meter.add(two)
    s = meter.summary()
    assert s["p"]["deletion_auc"] == pytest.approx(a.deletion_auc, abs=1e-6)
    assert s["q"]["insertion_auc"] == pytest.approx(-a.insertion_auc, abs=1e-6)
    with pytest.raises(ValueError):
        deletion_insertion(embed, pixels, sal, text, steps=0)


def test_blur_keeps_a_flat_interior_and_fades_to_zero_at_the_border():
    x = torch.ones(1, 3, 32, 32)
    y = blur(x)
    assert torch.allclose(y[..., 8:24, 8:24], torch.ones(1, 3, 16, 16), atol=1e-6)
    assert float(y[0, 0, 0, 0]) < 0.5


def run_eval(tmp_path, capsys, *args):
    out = tmp_path / "eval.json"
    out.unlink(missing_ok=True)
    rc = main(["eval", *args, *TINY, "--json", str(out)])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err, (json.loads(out.read_text()) if out.is_file() else None)


def test_eval_faithfulness_adds_the_columns(tmp_path, capsys):
    torch.manual_seed(0)
    rc, out, err, plain = run_eval(tmp_path, capsys, "--dataset", "shapes:4", "--pooling", "native",
                                   "--pooling", "max")
    assert rc == 0, err
    assert "deletion_auc" not in out and "faithfulness" not in plain
    torch.manual_seed(0)  # the same random model
    rc, out, err, result = run_eval(tmp_path, capsys, "--dataset", "shapes:4", "--pooling", "native", "--pooling",
                                    "max", "--faithfulness", "--faithfulness-steps", "4")
    assert rc == 0, err
    header = out.splitlines()[1].split()
    assert header[:8] == ["pooling", "model", "miou_fg", "theta_fg", "miou_mean", "msc", "pointing", "bg_preferred"]
    assert header[8:] == ["deletion_auc", "insertion_auc", "zero_shot", "n"]  # everything eval printed, kept
    assert result["faithfulness"]["steps"] == 4
    rows = result["rows"]
    for r, p in zip(rows, plain["rows"]):
        assert -1.0 <= r["deletion_auc"] <= 1.0 and -1.0 <= r["insertion_auc"] <= 1.0
        assert r["miou_fg"] == p["miou_fg"] and r["n"] == p["n"]  # the mask metrics are untouched
    # one model, two readouts: the maps are shared, each pooling's readout scores them
    assert rows[0]["deletion_auc"] != rows[1]["deletion_auc"]


def test_eval_faithfulness_with_a_method_on_its_own_grid(tmp_path, capsys):
    rc, out, err, result = run_eval(tmp_path, capsys, "--dataset", "shapes:2", "--method", "rise",
                                    "--rise-masks", "20", "--rise-seed", "4", "--faithfulness",
                                    "--faithfulness-steps", "3")
    assert rc == 0, err
    assert result["method_options"] == {"masks": 20, "cells": 8, "keep": 0.5, "seed": 4}
    assert np.isfinite(result["rows"][0]["deletion_auc"]) and np.isfinite(result["rows"][0]["insertion_auc"])


@pytest.mark.parametrize("args, message", [
    (["--faithfulness-steps", "4"], "needs --faithfulness"),
    (["--faithfulness", "--faithfulness-steps", "0"], "at least 1"),
    (["--faithfulness", "--method", "convis"], "map methods"),
])
def test_eval_faithfulness_bad_flags_are_one_line(tmp_path, capsys, args, message):
    rc, out, err, result = run_eval(tmp_path, capsys, "--dataset", "shapes:2", *args)
    assert rc == 1 and message in err and "Traceback" not in err and result is None

"""RISE: the map is the formula over the authors' masks, seeded (same seed, same map), its masked
forwards are memoised per image, it reports progress and stops on cancel, and the seed reaches the sidecar."""
import json
import threading
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from eclip_desktop.cli import main
from eclip_desktop.core.errors import CancelledError
from eclip_desktop.core.explain.analysis import ImageAnalysis
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.explain.methods import METHODS, MethodInput, rise
from eclip_desktop.core.export.reproduce import reproduce_check
from eclip_desktop.core.io.imageio import load_image

FEW = {"masks": 120, "cells": 4, "keep": 0.5, "seed": 0}  # three batches of BATCH = 50


def authors_masks(n, s, p, seed, size):
    """The recipe of RISE's generate_masks, written out: grids < p, bilinear (s + 1) x cell upsampling with
    mirrored edges (skimage mode='reflect' is ndimage 'mirror'), crop at a random shift below one cell."""
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(seed)
    grids = (rng.random((n, s, s)) < p).astype(np.float64)
    cell = int(np.ceil(size / s))
    shifts = rng.integers(0, cell, size=(n, 2))
    out = np.empty((n, size, size))
    for i in range(n):
        up = ndimage.zoom(grids[i], (s + 1) * cell / s, order=1, mode="mirror", grid_mode=True)
        x, y = shifts[i]
        out[i] = up[x:x + size, y:y + size]
    return out


def counting(monkeypatch, handle):
    """Counts calls of the model's encode_image (the masked forwards), not time."""
    calls = []
    real = handle.model.encode_image

    def wrapped(x, *a, **k):
        calls.append(int(x.shape[0]))
        return real(x, *a, **k)

    monkeypatch.setattr(handle.model, "encode_image", wrapped)
    return calls


def test_declaration():
    m = METHODS["rise"]
    assert m.needs == "forwards" and m.slow and m.label_free
    assert m.defaults() == {"masks": 2000, "cells": 8, "keep": 0.5, "seed": 0}
    assert [o.cli_flag("rise") for o in m.options] == ["--rise-masks", "--rise-cells", "--rise-keep", "--rise-seed"]


def test_masks_follow_the_authors_recipe():
    mine = rise.MaskSet(30, 5, 0.3, 11, 37).render(0, 30).numpy()
    assert mine.shape == (30, 37, 37) and mine.min() >= 0 and mine.max() <= 1
    np.testing.assert_allclose(mine, authors_masks(30, 5, 0.3, 11, 37), atol=1e-5)
    # rendered in pieces or at once: the same masks
    masks = rise.MaskSet(30, 5, 0.3, 11, 37)
    np.testing.assert_array_equal(torch.cat([masks.render(0, 7), masks.render(7, 30)]).numpy(), mine)
    assert np.all(rise.MaskSet(5, 4, 1.0, 0, 16).render(0, 5).numpy() == 1.0)


def test_map_is_the_formula_on_the_tiny_vit(tiny_engine, photo):
    image = load_image(photo)
    texts = ["a cat", "a red car"]
    options = {"masks": 60, "cells": 4, "keep": 0.4, "seed": 3}
    analysis = tiny_engine.analyse([image])[0]
    emb = tiny_engine.texts.encode(texts)
    got = METHODS["rise"].scores(MethodInput(analysis, emb), **options)

    size = analysis.input_size
    m = torch.from_numpy(authors_masks(60, 4, 0.4, 3, size)).float()
    with torch.no_grad():
        out = tiny_engine.handle.model.encode_image(analysis.pixels() * m[:, None])
    cos = torch.nn.functional.normalize(out, dim=-1) @ emb.T  # (N, T)
    want = torch.einsum("nt,nhw->thw", cos, m) / (60 * 0.4)
    assert got.shape == (2, size, size)
    torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


class ToyModel:
    """An 'encoder' that sees only a square region: embedding (visible share of it, 1); its cosine with
    the text (1, 0) grows with the share, so RISE must find the region."""

    def __init__(self, region):
        self.region = region

    def encode_image(self, x):
        r = self.region
        seen = x[:, 0, r[0]:r[1], r[2]:r[3]].mean(dim=(1, 2))
        return torch.stack([seen, torch.ones_like(seen)], dim=1)


def toy_analysis(size=32, region=(4, 12, 18, 28)):
    handle = SimpleNamespace(model=ToyModel(region), lock=threading.RLock(), device=torch.device("cpu"),
                             dtype=torch.float32, image_size=size, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    image = SimpleNamespace(rgb=np.full((size, size, 3), 255, np.uint8))
    return ImageAnalysis(handle, image, size, None, None, None, (4, 4), [])


def test_planted_region_is_found():
    analysis = toy_analysis()
    sal = METHODS["rise"].scores(MethodInput(analysis, torch.tensor([[1.0, 0.0]])),
                                 masks=400, cells=8, keep=0.5, seed=0)[0].numpy()
    inside = np.zeros_like(sal, bool)
    inside[4:12, 18:28] = True
    assert sal[inside].mean() > sal[~inside].mean() + 0.03
    r, c = np.unravel_index(sal.argmax(), sal.shape)
    assert inside[r, c]
    assert np.corrcoef(sal.ravel(), inside.ravel())[0, 1] > 0.4


def test_same_seed_same_map_other_seed_other_map(tiny_handle, photo):
    image = load_image(photo)
    maps = []
    for seed in (0, 0, 1):
        engine = Engine(tiny_handle)  # a fresh cache: the second map is recomputed, not memoised
        ex = engine.explain(image, ["a cat"], method="rise", method_options={**FEW, "masks": 40, "seed": seed})
        maps.append(ex.heatmaps[0].values)
    np.testing.assert_array_equal(maps[0], maps[1])
    assert np.abs(maps[0] - maps[2]).max() > 1e-3


def test_text_switch_reuses_the_masked_forwards(tiny_handles, photo, monkeypatch):
    handle = tiny_handles["eclip-tiny-vit"]
    calls = counting(monkeypatch, handle)
    engine = Engine(handle)
    image = load_image(photo)
    first = engine.explain(image, ["a cat"], method="rise", method_options=FEW)
    assert calls == [50, 50, 20]
    other = engine.explain(image, ["a dog", "a cat"], method="rise", method_options=FEW)
    assert calls == [50, 50, 20] and engine.image_encoder_calls == 1  # no forward for new texts
    np.testing.assert_allclose(other.heatmaps[1].values, first.heatmaps[0].values, atol=1e-5)
    engine.explain(image, ["a cat"], method="rise", method_options={**FEW, "seed": 5})
    assert len(calls) == 6  # other masks: forwards again


def test_progress_and_cancel(tiny_handles, photo, monkeypatch):
    handle = tiny_handles["eclip-tiny-vit"]
    calls = counting(monkeypatch, handle)
    engine = Engine(handle)
    image = load_image(photo)
    seen = []

    def cancel_at_second(done, total):
        seen.append((done, total))
        if len(seen) == 2:
            raise CancelledError("cancelled")

    with pytest.raises(CancelledError):
        engine.explain(image, ["a cat"], method="rise", method_options=FEW, progress=cancel_at_second)
    assert seen == [(50, 120), (100, 120)] and len(calls) == 2  # stopped between batches
    seen.clear()
    engine.explain(image, ["a cat"], method="rise", method_options=FEW, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(50, 120), (100, 120), (120, 120)]  # nothing half-done was kept
    assert len(calls) == 5


def test_other_input_size(tiny_handle, photo):
    ex = Engine(tiny_handle).explain(load_image(photo), ["a cat"], method="rise", input_size=96,
                                     method_options={**FEW, "masks": 20})
    assert ex.heatmaps[0].grid.shape == (96, 96) and ex.heatmaps[0].values.shape == (72, 96)


def test_cli_sidecar_holds_the_seed_and_reproduces(tmp_path, photo, saved_tiny, capsys):
    out = tmp_path / "out"
    rc = main(["explain", photo, "--text", "a cat", "--method", "rise", "--rise-masks", "30", "--rise-seed", "7",
               "--rise-cells", "5", "--model", "eclip-tiny-vit", "--pretrained", saved_tiny, "--device", "cpu",
               "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    sidecar = next(out.glob("*rise*.json"))
    meta = json.loads(sidecar.read_text())
    assert meta["method"] == "rise"
    assert meta["method_options"] == {"masks": 30, "cells": 5, "keep": 0.5, "seed": 7}
    _, diff, _ = reproduce_check(sidecar)
    assert diff <= 1e-5


def test_cli_bad_option_is_one_line(tmp_path, photo, capsys):
    rc = main(["explain", photo, "--text", "a cat", "--method", "rise", "--rise-keep", "0",
               "--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and "--rise-keep" in err and "Traceback" not in err

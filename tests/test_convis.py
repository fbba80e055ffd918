"""ConVis: gloss bank, Algorithm 1 geometry, rank matrix, concept maps, and the `concepts`/`wordnet` CLI.

The tiny random ViT takes 64 px inputs. Most tests shrink the whole layout to
a 64 px canvas centre (pad 32, windows 32 and 16, stride 8: the paper's
numbers times 64/224, rounded to a stride that divides) so an image costs ~200
windows; the CLI runs the paper's 224 geometry and shrinks each window to 64.
"""
import json
import os
from pathlib import Path

import nltk
import numpy as np
import pytest
import torch

from eclip_desktop.cli import main
from eclip_desktop.core.convis import (
    ConVis,
    WindowParams,
    load_gloss_bank,
    shapes_concept_set,
)
from eclip_desktop.core.convis.engine import finish_map
from eclip_desktop.core.convis.gloss_bank import encode_glosses
from eclip_desktop.core.convis.windows import (
    centre_crop_box,
    grid_boxes,
    make_canvas,
    resize_window,
    window_boxes,
)
from eclip_desktop.core.wordnet import provider
from tests.conftest import write_image

SYSTEM = Path("/usr/share/wordnet")
pytestmark = pytest.mark.skipif(not (SYSTEM / "data.noun").is_file() or not (SYSTEM / "index.sense").is_file(),
                                reason="needs Debian's wordnet-base and wordnet-sense-index")
SMALL = WindowParams(size=64, pad=32, windows=(32, 16), stride=8, coarse_stride=16)
TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]




@pytest.fixture
def hier(wn_env, monkeypatch):
    base, h = wn_env
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))
    return h


@pytest.fixture(scope="module")
def shapes(wn_env):
    return shapes_concept_set(wn_env[1])


@pytest.fixture
def convis(tiny_handles, hier, shapes, tmp_path):
    return ConVis(tiny_handles["eclip-tiny-vit"], hier, shapes, cache_dir=tmp_path / "bank")


def rgb(h=48, w=72, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# ---------------------------------------------------------------- geometry

def test_paper_grid_skips_only_windows_in_the_border():
    p = WindowParams()
    boxes = grid_boxes(p)
    assert p.canvas == 480 and len(boxes) == 730  # 21x21 of 128 px + 17x17 of 64 px
    assert (boxes[:, :2] >= 0).all() and (boxes[:, :2] + boxes[:, 2:] <= 480).all()
    assert ((boxes[:, :2] % 16) == 0).all()
    # every skipped window lies wholly in the noise border
    for side in (128, 64):
        for x in range(0, 480 - side + 1, 16):
            touches = x + side > 128 and x < 352
            assert touches == (x in set(boxes[boxes[:, 2] == side, 0]))


def test_noise_border_is_seeded():
    img = rgb()
    a, b = make_canvas(img, SMALL), make_canvas(img, SMALL)
    c = make_canvas(img, WindowParams(**{**SMALL.as_dict(), "windows": (32, 16), "seed": 1, "size_range": None}))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    inner = slice(32, 96)
    assert np.array_equal(a[inner, inner], c[inner, inner])  # only the border differs


# ---------------------------------------------------------------- ranks and maps

def test_rank_rows_are_permutations(convis, shapes):
    rm = convis.rank_matrix(rgb(), SMALL)
    assert rm.ranks.shape == (len(grid_boxes(SMALL)), len(shapes)) and rm.ranks.dtype == np.uint16
    assert (np.sort(rm.ranks, axis=1) == np.arange(len(shapes))).all()


def _brute_force_centre(convis, img, params, synset):
    """Algorithm 1 with explicit loops over every window and pixel (no border skipping)."""
    canvas = make_canvas(img, params)
    C, n, pad = params.canvas, params.size, params.pad
    boxes = [(x, y, s) for s in params.windows for y in range(0, C - s + 1, params.stride)
             for x in range(0, C - s + 1, params.stride)]
    crops = np.stack([resize_window(canvas[y:y + s, x:x + s], convis.handle.image_size) for x, y, s in boxes])
    emb = convis._encode_crops(crops).numpy()
    cos = emb @ convis.gloss_bank().embeddings.T
    names = convis.concept_set.synsets
    subtree = set(convis.concept_set.subtree(synset))
    acc = np.zeros((C, C))
    cnt = np.zeros((C, C))
    for w, (x, y, s) in enumerate(boxes):
        order = sorted(range(len(names)), key=lambda j: (-cos[w, j], j))
        r = min(pos for pos, j in enumerate(order) if names[j] in subtree)
        for yy in range(y, y + s):
            for xx in range(x, x + s):
                acc[yy, xx] += r
                cnt[yy, xx] += 1
    return acc[pad:pad + n, pad:pad + n], cnt[pad:pad + n, pad:pad + n]


@pytest.mark.parametrize("average", [True, False])
def test_map_equals_brute_force(convis, average):
    params = WindowParams(size=16, pad=8, windows=(8, 4), stride=4, coarse_stride=8, average=average)
    img = rgb(20, 30, seed=3)
    got = convis.concept_map(img, "polygon.n.01", params)
    acc, cnt = _brute_force_centre(convis, img, params, "polygon.n.01")
    m = acc / cnt if average else acc
    want = 1.0 - (m - m.min()) / (m.max() - m.min())
    np.testing.assert_allclose(got.centre, want, atol=1e-6)
    assert got.values.shape == (20, 30)


def test_sum_and_average_agree_on_the_paper_grid(convis):
    # With a pad as large as the biggest window every centre pixel has the same coverage.
    rm = convis.rank_matrix(rgb(), SMALL)
    assert np.unique(rm.coverage.count).size == 1
    r = rm.ranks[:, convis.columns("shape.n.02")].min(axis=1)
    acc = rm.coverage.accumulate(r)
    np.testing.assert_allclose(finish_map(acc, rm.coverage.count, True), finish_map(acc, rm.coverage.count, False),
                               atol=1e-6)


def test_same_seed_same_map_other_seed_other_map(convis):
    img = rgb(seed=5)
    a = convis.concept_map(img, "circle.n.01", SMALL).values
    b = convis.concept_map(img, "circle.n.01", SMALL).values
    other = WindowParams(size=64, pad=32, windows=(32, 16), stride=8, coarse_stride=16, seed=7)
    c = convis.concept_map(img, "circle.n.01", other).values
    assert np.array_equal(a, b) and not np.allclose(a, c)


def test_parent_rank_never_worse_than_child(convis, shapes):
    img = rgb(seed=2)
    for parent in ("shape.n.02", "polygon.n.01", "plane_figure.n.01"):
        for child in shapes.children[parent]:
            rp = convis.concept_map(img, parent, SMALL).window_scores
            rc = convis.concept_map(img, child, SMALL).window_scores
            assert (rp <= rc).all()


def test_further_concept_reuses_the_rank_matrix(convis):
    img = rgb(seed=4)
    convis.concept_map(img, "circle.n.01", SMALL)
    calls, windows = convis.window_encode_calls, convis.windows_encoded
    m = convis.concept_map(img, "square.n.01", SMALL)
    # Structure, not timing (the speed is in docs/RESULTS.md "Speed of ConVis"): no window re-encoded.
    assert (convis.window_encode_calls, convis.windows_encoded) == (calls, windows)
    assert m.final and m.values.shape == (48, 72)


def test_coarse_to_fine_ends_at_the_single_pass_map(convis, tiny_handles, hier, shapes, tmp_path):
    img = rgb(seed=6)
    stages = list(convis.iter_concept_map(img, "triangle.n.01", SMALL))
    assert [s.final for s in stages] == [False, True]
    assert stages[0].windows < stages[1].windows == len(grid_boxes(SMALL))
    fresh = ConVis(tiny_handles["eclip-tiny-vit"], hier, shapes, cache_dir=tmp_path / "bank")
    single = fresh.concept_map(img, "triangle.n.01", SMALL)
    assert np.array_equal(stages[-1].values, single.values)
    again = list(convis.iter_concept_map(img, "circle.n.01", SMALL))  # cached: final at once
    assert len(again) == 1 and again[0].final


@pytest.mark.parametrize("shape", [(48, 72), (90, 40), (7, 10)])
def test_map_has_the_original_size_and_zero_outside_the_crop(convis, shape):
    img = rgb(*shape, seed=1)
    m = convis.concept_map(img, "circle.n.01", SMALL)
    assert m.values.shape == shape and m.values.dtype == np.float32
    assert np.isfinite(m.values).all() and 0 <= m.values.min() and m.values.max() <= 1
    x0, y0, side = centre_crop_box(*shape)
    assert m.crop_box == (x0, y0, side)
    outside = np.ones(shape, bool)
    outside[y0:y0 + side, x0:x0 + side] = False
    assert (m.values[outside] == 0).all()
    assert m.values[y0:y0 + side, x0:x0 + side].max() == pytest.approx(1.0, abs=1e-3)


def test_stochastic_variant_is_seeded(convis):
    p = WindowParams(size=64, pad=32, windows=(32, 16), stride=8, coarse_stride=16, mode="stochastic", n_random=120)
    boxes = window_boxes(p)
    assert len(boxes) == 120 and (boxes[:, 2] >= 16).all() and (boxes[:, 2] <= 32).all()
    assert (boxes[:, :2] + boxes[:, 2:] <= p.canvas).all()
    img = rgb(seed=8)
    a = convis.concept_map(img, "circle.n.01", p).values
    convis._cache.clear()
    assert np.array_equal(a, convis.concept_map(img, "circle.n.01", p).values)


def test_concept_listings(convis, shapes):
    img = rgb(seed=9)
    own = convis.concepts_in_image(img, 5, SMALL)
    assert len(own["by_mass"]) == 5 and len(own["by_rank"]) == 5
    masses = [r["mass"] for r in own["by_mass"]]
    assert masses == sorted(masses, reverse=True) and all(0 <= v <= 1 for v in masses)
    sub = convis.concepts_in_image(img, 3, SMALL, rule="subtree")
    assert sub["by_rank"][0]["best_rank"] == 0
    # Under the min-over-hyponyms rule the root's mass is the best (others can tie with it).
    every = convis.concepts_in_image(img, len(shapes), SMALL, rule="subtree")["by_mass"]
    root = next(r for r in every if r["synset"] == "entity.n.01")
    assert root["mass"] == every[0]["mass"]
    emb = convis.explain_embedding(img, 4)
    cos = [r["cosine"] for r in emb]
    assert len(emb) == 4 and cos == sorted(cos, reverse=True) and all("gloss" in r for r in emb)


# ---------------------------------------------------------------- gloss bank

def test_gloss_bank_is_cached_on_disk(tiny_handles, hier, shapes, tmp_path):
    handle = tiny_handles["eclip-tiny-vit"]
    first = load_gloss_bank(handle, hier, shapes, tmp_path)
    assert not first.from_cache and first.encode_calls >= 1 and first.path.is_file()
    np.testing.assert_allclose(np.linalg.norm(first.embeddings, axis=1), 1.0, atol=1e-5)
    again = load_gloss_bank(handle, hier, shapes, tmp_path)
    assert again.from_cache and again.encode_calls == 0 and np.array_equal(again.embeddings, first.embeddings)
    assert again.synsets == shapes.synsets


def test_gloss_bank_follows_the_cache_env(tiny_handles, hier, shapes, tmp_path, monkeypatch):
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path / "c"))
    bank = load_gloss_bank(tiny_handles["eclip-tiny-vit"], hier, shapes)
    assert bank.path.parent == tmp_path / "c" / "convis"


def test_long_glosses_are_truncated_not_rejected(tiny_handles):
    emb, calls = encode_glosses(tiny_handles["eclip-tiny-vit"], ["a very long definition " * 60, "short"])
    assert emb.shape == (2, 64) and calls == 1


# ---------------------------------------------------------------- CLI

def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_concepts_cli_writes_triples(hier, tmp_path, capsys):
    big = write_image(tmp_path / "scene.png", w=120, h=80)
    small = write_image(tmp_path / "small.png", w=9, h=6, seed=1)  # smaller than any window
    out = tmp_path / "out"
    rc, _, err = run(["concepts", big, small, "--synset", "circle", "--synset", "polygon.n.01",
                      "--concept-set", "shapes", "--top", "3", "--out", str(out), *TINY], capsys)
    assert rc == 0, err
    for stem, size in (("scene", (80, 120)), ("small", (6, 9))):
        for synset in ("circle.n.01", "polygon.n.01"):
            base = out / f"{stem}__convis__{synset}"
            arr = np.load(f"{base}.npy")
            assert arr.dtype == np.float32 and arr.shape == size and 0 <= arr.min() and arr.max() <= 1
            assert Path(f"{base}.png").stat().st_size > 0
            meta = json.loads(Path(f"{base}.json").read_text())
            for key in ("image", "image_sha256", "model", "pretrained", "method", "synset", "gloss",
                        "concept_set", "top_concepts", "algorithm", "timings", "version"):
                assert key in meta, key
            assert meta["method"] == "convis" and meta["synset"] == synset
            assert meta["concept_set"]["name"] == "shapes" and meta["concept_set"]["size"] == 20
            assert len(meta["concept_set"]["hash"]) == 40
            assert len(meta["top_concepts"]["by_mass"]) == 3 and "gloss" in meta["top_concepts"]["by_rank"][0]
            assert meta["algorithm"]["seed"] == 0 and meta["algorithm"]["stride"] == 16
            assert meta["algorithm"]["windows"] == [128, 64] and meta["algorithm"]["mode"] == "grid"
            sup = meta["support"]
            assert sup["synset"] == synset and 0 < sup["p_value"] <= 1 and isinstance(sup["supported"], bool)
            assert sup["subtree"] == meta["algorithm"]["subtree_size"] and "random concept sets" in sup["null"]
    before = sorted(os.listdir(out))
    rc, _, err = run(["concepts", big, "--synset", "circle", "--concept-set", "shapes", "--out", str(out),
                      *TINY], capsys)
    assert rc == 1 and "exists" in err and sorted(os.listdir(out)) == before


def test_concepts_cli_shapes_model_and_a_set_it_cannot_know(hier, tmp_path, capsys):
    """The embedded Shapes World family asked about dogs: no listing of concepts, the reason instead."""
    vocab = tmp_path / "mine.txt"
    vocab.write_text("dog\ncat\ncircle\n")
    img = write_image(tmp_path / "a.png")
    out = tmp_path / "out"
    rc, _, err = run(["concepts", img, "--synset", "dog", "--concept-set", str(vocab), "--out", str(out),
                      "--device", "cpu"], capsys)
    assert rc == 0, err
    meta = json.loads(next(out.glob("*.json")).read_text())
    assert "trained only on Shapes World" in meta["top_concepts"]["unknown_set"]
    assert "by_mass" not in meta["top_concepts"] and meta["out_of_domain"] is True


@pytest.mark.parametrize("synset, words", [("dgo", ["dog"]), ("dog.n.01", ["not in the concept set",
                                                                            "--concept-set default"])])
def test_concepts_cli_bad_synsets(hier, tmp_path, capsys, synset, words):
    img = write_image(tmp_path / "a.png")
    out = tmp_path / "out"
    rc, _, err = run(["concepts", img, "--synset", synset, "--concept-set", "shapes", "--out", str(out),
                      *TINY], capsys)
    assert rc == 1 and len(err.strip().splitlines()) == 1
    assert all(w in err for w in words), err
    assert not out.exists()


def test_concepts_cli_vocabulary_file_with_junk(hier, tmp_path, capsys):
    vocab = tmp_path / "mine.txt"
    vocab.write_text("circle\ndgo\n# comment\nsquare.n.01\nrun.v.01\n")
    img = write_image(tmp_path / "a.png", w=40, h=40)
    rc, _, err = run(["concepts", img, "--synset", "square", "--concept-set", str(vocab), "--out",
                      str(tmp_path / "o"), *TINY], capsys)
    assert rc == 0, err
    assert "line 2" in err and "dgo" in err and "line 5" in err
    meta = json.loads((tmp_path / "o" / "a__convis__square.n.01.json").read_text())
    assert meta["concept_set"]["name"] == "mine"


def test_concepts_cli_without_wordnet(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path / "c"))
    monkeypatch.setattr(nltk.data, "path", [])
    monkeypatch.setattr(provider, "default_system_dirs", lambda: [])
    monkeypatch.setattr(provider, "_online", lambda *a, **k: False)
    img = write_image(tmp_path / "a.png")
    rc, _, err = run(["concepts", img, "--synset", "dog", "--out", str(tmp_path / "o"), *TINY], capsys)
    assert rc == 1 and "WordNet 3.0 was not found" in err
    assert not (tmp_path / "o").exists()


def test_wordnet_cli(hier, capsys):
    rc, out, err = run(["wordnet", "dog", "--limit", "3"], capsys)
    assert rc == 0, err
    assert "dog.n.01" in out and "domestic_animal.n.01 > dog.n.01" in out and "canine.n.02 > dog.n.01" in out
    rc, out, _ = run(["wordnet", "circle", "--concept-set", "shapes", "--json"], capsys)
    rows = json.loads(out)
    assert rc == 0 and rows[0]["synset"] == "circle.n.01"
    assert rows[0]["hypernym_paths"][0][0] == "entity.n.01" and "subtree_size" in rows[0]
    rc, _, err = run(["wordnet", "qqqzzz"], capsys)
    assert rc == 1 and "no noun synset" in err


def test_cancel_stops_and_caches_nothing(convis):
    from eclip_desktop.core.errors import CancelledError
    img = rgb(seed=11)
    seen = []
    with pytest.raises(CancelledError):
        convis.rank_matrix(img, SMALL, progress=lambda d, n, w: seen.append(d), cancelled=lambda: bool(seen))
    assert len(seen) == 1 and convis.cached_ranks(img, SMALL) is None


def test_gloss_encoding_matches_the_plain_text_encoder(tiny_handles, hier, shapes):
    handle = tiny_handles["eclip-tiny-vit"]
    glosses = hier.glosses(shapes)
    emb, calls = encode_glosses(handle, glosses, batch_size=7)
    with torch.no_grad():
        ref = torch.nn.functional.normalize(handle.model.encode_text(handle.tokenizer(glosses)).float(), dim=-1)
    assert calls == 3
    np.testing.assert_allclose(emb, ref.numpy(), atol=1e-5)

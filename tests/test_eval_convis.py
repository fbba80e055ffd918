"""`eval --method convis | ood`: hierarchy consistency, OOD scores, and the CLI on tiny fixtures.

The tiny random ViT (64 px) makes the numbers meaningless; these tests check the plumbing, the
ranges and the failures. Window layout: the 64 px canvas test_convis.py uses (the paper's numbers
times 64/224), swapped in through evaluate_convis.DEFAULT_PARAMS.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

from eclip_desktop.cli import main
from eclip_desktop.core.convis import ConVis, WindowParams, shapes_concept_set
from eclip_desktop.core.evaluation import convis_eval as ec
from tests.conftest import write_image

SYSTEM = Path("/usr/share/wordnet")
pytestmark = pytest.mark.skipif(not (SYSTEM / "data.noun").is_file() or not (SYSTEM / "index.sense").is_file(),
                                reason="needs Debian's wordnet-base and wordnet-sense-index")
SMALL = WindowParams(size=64, pad=32, windows=(32, 16), stride=8, coarse_stride=16)
TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]
VOCAB = "bird\nrobin\ncar\ncircle\n"




@pytest.fixture
def hier(wn_env, monkeypatch):
    base, h = wn_env
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))
    monkeypatch.setattr(ec, "DEFAULT_PARAMS", SMALL)
    return h


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------- hierarchy consistency by hand

def test_hierarchy_meter_on_hand_made_maps():
    poly = np.zeros((8, 8), bool)
    poly[1:4, 1:4] = True
    curve = np.zeros((8, 8), bool)
    curve[5:8, 5:8] = True
    bright_on_poly = np.where(poly, 0.9, 0.1)
    bright_on_curve = np.where(curve, 0.9, 0.1)
    meter = ec.HierarchyMeter()
    assert meter.add(bright_on_poly, poly, curve) is True
    assert meter.add(bright_on_curve, poly, curve) is False
    assert meter.add(np.full((8, 8), 0.5), poly, curve) is False  # a tie tells nothing apart
    assert meter.add(bright_on_poly, poly, np.zeros((8, 8), bool)) is None  # curve fully hidden: not scored
    s = meter.summary()
    assert s["n_hierarchy"] == 3 and s["hierarchy"] == pytest.approx(1 / 3)
    assert s["hierarchy_margin"] == pytest.approx((0.8 - 0.8 + 0) / 3)
    with pytest.raises(ValueError):
        meter.add(bright_on_poly, poly[:4], curve)
    assert math.isnan(ec.HierarchyMeter().summary()["hierarchy"])


def test_hierarchy_scenes_hold_one_polygon_and_one_curve():
    from eclip_desktop.core.shapes import generate_scene
    got = list(ec.hierarchy_scenes(4, 1002, 64))
    assert len(got) == 4
    for image, poly, curve in got:
        assert image.rgb.shape == (64, 64, 3) and poly.any() and curve.any() and not (poly & curve).any()
        seed, index = (int(v) for v in image.path.split(":")[1:])
        shapes = sorted(o.shape for o in generate_scene(seed, index, size=64, n_objects=(2, 2)).objects)
        assert sum(s in ec.POLYGON_SHAPES for s in shapes) == 1 and sum(s in ec.CURVE_SHAPES for s in shapes) == 1


def test_polygon_shapes_follow_wordnet():
    from eclip_desktop.core.shapes import is_a, synset_for
    for s in ec.POLYGON_SHAPES:
        assert is_a(synset_for(s), ec.POLYGON_SYNSET)
    for s in ec.CURVE_SHAPES:
        assert not is_a(synset_for(s), ec.POLYGON_SYNSET)


# ---------------------------------------------------------------- OOD scores

def test_subtree_leaves_and_ood_scores(tiny_handles, hier, tmp_path):
    cs = shapes_concept_set(hier)
    leaves = ec.subtree_leaves(cs, "polygon.n.01")
    assert {"triangle.n.01", "square.n.01", "pentagon.n.03", "hexagon.n.01"} <= set(leaves)
    # rectangle.n.01 has square.n.01 below it inside the set, so it is no leaf
    assert not {"polygon.n.01", "rectangle.n.01", "circle.n.01"} & set(leaves)
    assert ec.subtree_leaves(cs, "circle.n.01") == ["circle.n.01"]
    convis = ConVis(tiny_handles["eclip-tiny-vit"], hier, cs, cache_dir=tmp_path / "bank")
    img = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    emb = convis.image_embedding(img)
    bank = convis.gloss_bank().embeddings
    root, leaf = ec.ood_scores(convis, img, "polygon.n.01")
    assert root == pytest.approx(float(bank[cs.index["polygon.n.01"]] @ emb), abs=1e-6)
    assert leaf == pytest.approx(max(float(bank[cs.index[s]] @ emb) for s in leaves), abs=1e-6)
    r, lf = ec.ood_scores(convis, img, "circle.n.01")
    assert r == pytest.approx(lf)


# ---------------------------------------------------------------- CLI

def test_eval_convis_shapes_cli(hier, tmp_path, capsys):
    out = tmp_path / "r.json"
    rc, stdout, err = run(["eval", "--dataset", "shapes:4", "--method", "convis", "--json", str(out), *TINY],
                          capsys)
    assert rc == 0, err
    assert "hierarchy" in stdout and "pointing" in stdout
    res = json.loads(out.read_text())
    assert res["method"] == "convis" and res["concept_set"]["name"] == "shapes"
    assert res["algorithm"]["size"] == 64
    (row,) = res["rows"]
    for key in ("pooling", "model", "miou_fg", "theta_fg", "miou_mean", "msc", "pointing", "bg_preferred", "n",
                "hierarchy", "n_hierarchy", "seconds"):
        assert key in row, key
    assert row["pooling"] == "-" and row["n"] >= 4
    assert 0 <= row["miou_fg"] <= 100 and 0 <= row["miou_mean"] <= 100 and -100 <= row["msc"] <= 100
    assert 0 <= row["pointing"] <= 1 and row["n_hierarchy"] == 4 and 0 <= row["hierarchy"] <= 1
    # every class tested on every scene: present ones should be supported, absent ones not
    from eclip_desktop.core.shapes import class_names
    c = row["support_confusion"]
    assert row["n_support"] + row["n_untested"] == 4 * len(class_names()) and row["n_support"] == sum(c.values())
    # the shapes set (20 concepts) is too small for a test at p < 0.01 (19 or fewer distinct null sets)
    assert row["n_untested"] == 4 * len(class_names())


def test_eval_convis_on_the_generalisation_suite(hier, tmp_path, capsys):
    out = tmp_path / "g.json"
    rc, stdout, err = run(["eval", "--dataset", "gen:2", "--method", "convis", "--json", str(out), *TINY], capsys)
    assert rc == 0, err
    res = json.loads(out.read_text())
    row = res["rows"][0]
    assert "generalisation suite" in res["protocol"] and row["n_support"] + row["n_untested"] > 0


def _cub(root: Path, n=3, drop=None):
    (root / "images" / "001.Bird").mkdir(parents=True)
    lines, boxes = [], []
    for i in range(1, n + 1):
        write_image(root / "images" / "001.Bird" / f"b{i}.jpg", w=80, h=60, seed=i)
        lines.append(f"{i} 001.Bird/b{i}.jpg")
        boxes.append(f"{i} 10.0 8.0 40.0 30.0")
    (root / "images.txt").write_text("\n".join(lines) + "\n")
    (root / "bounding_boxes.txt").write_text("\n".join(boxes) + "\n")
    if drop:
        (root / drop).unlink()
    return root


def test_eval_convis_cub_cli(hier, tmp_path, capsys):
    vocab = tmp_path / "birds.txt"
    vocab.write_text(VOCAB)
    cub = _cub(tmp_path / "CUB_200_2011")
    out = tmp_path / "cub.json"
    rc, stdout, err = run(["eval", "--dataset", f"cub:{tmp_path}", "--method", "convis", "--concept-set",
                           str(vocab), "--json", str(out), *TINY], capsys)
    assert rc == 0, err
    assert "maxboxacc" in stdout and cub.is_dir()  # found through the parent directory
    (row,) = json.loads(out.read_text())["rows"]
    assert row["synset"] == "bird.n.01" and row["n"] == 3
    assert 0 <= row["maxboxacc"] <= 100 and 0 <= row["best_theta"] < 1 and len(row["curve"]) == 100


def _folder(root: Path, classes=("bird", "car"), per=2):
    for k, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for i in range(per):
            write_image(root / c / f"{i}.png", w=48, h=40, seed=10 * k + i)
    return root


@pytest.mark.parametrize("extra", [[], ["--in-class", "bird"]])
def test_eval_ood_cli(hier, tmp_path, capsys, extra):
    vocab = tmp_path / "v.txt"
    vocab.write_text(VOCAB)
    folder = _folder(tmp_path / "ood")
    out = tmp_path / "ood.json"
    rc, stdout, err = run(["eval", "--dataset", f"imagefolder:{folder}", "--method", "ood", "--in-synset", "bird",
                           "--concept-set", str(vocab), "--json", str(out), *extra, *TINY], capsys)
    assert rc == 0, err
    res = json.loads(out.read_text())
    assert res["in_classes"] == ["bird"] and "auroc_root" in stdout
    (row,) = res["rows"]
    assert row["synset"] == "bird.n.01" and row["n_in"] == 2 and row["n_out"] == 2 and row["n_leaves"] >= 1
    assert 0 <= row["auroc_root"] <= 1 and 0 <= row["auroc_leaves"] <= 1


def _bad_cases(tmp_path):
    vocab = tmp_path / "v.txt"
    vocab.write_text(VOCAB)
    cub_missing = _cub(tmp_path / "cubm", drop="bounding_boxes.txt")
    folder = _folder(tmp_path / "f", classes=("bird", "car"))
    only_bird = _folder(tmp_path / "g", classes=("bird",))
    return {
        "unknown synset": (["--dataset", f"cub:{_cub(tmp_path / 'cub')}", "--method", "convis", "--synset", "dgo",
                            "--concept-set", str(vocab)], ["dgo"]),
        "synset outside the set": (["--dataset", f"cub:{tmp_path / 'cub'}", "--method", "convis", "--synset",
                                    "dog.n.01", "--concept-set", str(vocab)], ["not in the concept set"]),
        "cub without boxes": (["--dataset", f"cub:{cub_missing}", "--method", "convis", "--concept-set",
                               str(vocab)], ["bounding_boxes.txt"]),
        "no in-class folder": (["--dataset", f"imagefolder:{folder}", "--method", "ood", "--in-synset", "bird",
                                "--in-class", "sparrow", "--concept-set", str(vocab)], ["--in-class sparrow"]),
        "no default in-class": (["--dataset", f"imagefolder:{folder}", "--method", "ood", "--in-synset", "robin",
                                 "--concept-set", str(vocab)], ["--in-class"]),
        "no out class": (["--dataset", f"imagefolder:{only_bird}", "--method", "ood", "--in-synset", "bird",
                          "--concept-set", str(vocab)], ["at least one other"]),
        "ood without synset": (["--dataset", f"imagefolder:{folder}", "--method", "ood", "--concept-set",
                                str(vocab)], ["--in-synset"]),
        "ood on shapes": (["--dataset", "shapes:2", "--method", "ood", "--in-synset", "circle"], ["imagefolder"]),
    }


def test_eval_convis_bad_inputs_fail_in_one_line(hier, tmp_path, capsys, monkeypatch):
    from eclip_desktop.core.explain import engine as engine_mod
    # Every one of these must fail before a model loads.
    monkeypatch.setattr(engine_mod, "engines_for", lambda *a, **k: pytest.fail("a model was loaded"))
    for name, (argv, words) in _bad_cases(tmp_path).items():
        rc, _, err = run(["eval", *argv, *TINY], capsys)
        assert rc == 1, name
        assert len(err.strip().splitlines()) == 1, (name, err)
        assert all(w in err for w in words), (name, err)

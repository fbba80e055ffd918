"""`eclip-desktop export`: outputs and index, one encoder pass per image, resume, failures, inputs."""
import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from eclip_desktop.cli import main
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.export.batch import ExportRequest, run_export
from tests.conftest import write_image

TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]
GRID = ["--text", "a cat", "--text", "a red car", "--pooling", "native", "--pooling", "max",
        "--method", "itsm", "--method", "surgery"]



def run(argv, capsys):
    rc = main(argv)
    _, err = capsys.readouterr()
    return rc, err


@pytest.fixture
def two_images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    return [write_image(folder / "b.png", w=64, h=48, seed=1), write_image(folder / "a.png", w=56, h=40, seed=2)]


def rows_of(out):
    data = json.loads((out / "index.json").read_text())
    with open(out / "index.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(data["rows"])
    return data["rows"]


def test_folder_export_writes_every_map_and_index_then_resume_skips(two_images, tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = run(["export", "--images", str(tmp_path / "imgs"), *GRID, "--out", str(out), *TINY], capsys)
    assert rc == 0, err
    rows = rows_of(out)
    maps = [r for r in rows if r["method"] in ("itsm", "surgery")]
    assert len(maps) == 2 * 2 * 2 * 2 and all(r["status"] == "ok" for r in rows)
    assert [r["image"] for r in rows][0].endswith("a.png")  # folder contents sorted
    for r in rows:
        for f in r["files"]:
            assert (out / f).is_file(), f
    meta = json.loads((out / "b__surgery__max__a-red-car.json").read_text())
    assert meta["method"] == "surgery" and meta["pooling"] == "max" and meta["text"] == "a red car"
    assert np.load(out / "b__surgery__max__a-red-car.npy").shape == (48, 64)
    assert "left" in err  # progress with an estimate of the time remaining
    before = {f: os.stat(out / f).st_mtime_ns for f in os.listdir(out) if not f.startswith("index.")}
    rc, err = run(["export", "--images", str(tmp_path / "imgs"), *GRID, "--out", str(out), *TINY], capsys)
    assert rc == 0, err
    assert all(r["status"] == "skipped" for r in rows_of(out))
    assert {f: os.stat(out / f).st_mtime_ns for f in before} == before  # nothing rewritten
    assert not [f for f in os.listdir(out) if ".tmp" in f]


def test_encoder_runs_once_per_image_and_not_at_all_on_resume(two_images, tmp_path, tiny_handles):
    engine = Engine(tiny_handles["eclip-tiny-vit"])
    engines = {"native": engine, "max": engine}
    req = ExportRequest(images=two_images, out_dir=str(tmp_path / "o"), texts=["a cat", "a dog"],
                        methods=["itsm", "surgery"], poolings=["native", "max"])
    res = run_export(engines, req)
    assert res.count("ok") == 16 + 4 and engine.image_encoder_calls == 2
    fresh = Engine(tiny_handles["eclip-tiny-vit"])
    res = run_export({"native": fresh, "max": fresh}, req)
    assert res.count("skipped") == 20 and fresh.image_encoder_calls == 0


def test_corrupt_image_is_a_failed_row_and_the_rest_is_written(two_images, tmp_path, capsys):
    bad = tmp_path / "imgs" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "out"
    rc, err = run(["export", "--images", str(tmp_path / "imgs"), "--text", "a cat", "--out", str(out), *TINY],
                  capsys)
    assert rc == 1 and "2 map(s) failed" in err  # its CLIP map and its contribution map
    rows = rows_of(out)
    failed = [r for r in rows if r["status"] == "failed"]
    assert {r["stem"] for r in failed} == {"broken"} and all(r["error"] for r in failed)
    assert all(r["status"] == "ok" for r in rows if r["stem"] != "broken")
    assert not list(out.glob("broken__*"))
    assert (out / "a__itsm__native__a-cat.png").is_file()


def test_partial_row_needs_overwrite_and_overwrite_recomputes(two_images, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["export", "--images", two_images[0], "--text", "a cat", "--out", str(out), *TINY]
    assert run(args, capsys)[0] == 0
    (out / "b__itsm__native__a-cat.png").unlink()
    npy = out / "b__itsm__native__a-cat.npy"
    stamp = npy.stat().st_mtime_ns
    rc, err = run(args, capsys)
    row = next(r for r in rows_of(out) if r["method"] == "itsm")
    assert rc == 1 and row["status"] == "failed" and "--overwrite" in row["error"]
    assert npy.stat().st_mtime_ns == stamp  # never replaced without --overwrite
    rc, err = run(args + ["--overwrite"], capsys)
    assert rc == 0, err
    assert (out / "b__itsm__native__a-cat.png").is_file()
    assert all(r["status"] == "ok" for r in rows_of(out)) and npy.stat().st_mtime_ns != stamp


def test_raw_16bit_round_trips_and_formats(two_images, tmp_path, capsys):
    out = tmp_path / "out"
    rc, err = run(["export", "--images", two_images[1], "--text", "a cat", "--raw", "png16", "--raw", "tiff16",
                   "--format", "jpeg", "--out", str(out), *TINY], capsys)
    assert rc == 0, err
    ref = np.load(out / "a__itsm__native__a-cat.npy")
    for suffix in ("png", "tif"):
        arr = np.array(Image.open(out / f"a__itsm__native__a-cat__map16.{suffix}"))
        assert arr.shape == ref.shape and arr.dtype in (np.uint16, np.int32)
        assert np.abs(arr / 65535.0 - ref).max() <= 1 / 65535 + 1e-9
    assert Image.open(out / "a__itsm__native__a-cat.jpg").format == "JPEG"


def test_list_file_and_glob_inputs_are_deduplicated(two_images, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text("# images\nimgs/b.png\n\nimgs/a.png\n")
    out = tmp_path / "out"
    rc, err = run(["export", "--images", str(listing), "--images", str(tmp_path / "imgs" / "*.png"),
                   "--text", "a cat", "--out", str(out), *TINY], capsys)
    assert rc == 0, err
    stems = [r["stem"] for r in rows_of(out) if r["method"] == "itsm"]
    assert stems == ["b", "a"]  # list order first; the glob adds nothing new


def test_no_images_matched_is_one_line(tmp_path, capsys):
    rc, err = run(["export", "--images", str(tmp_path / "none" / "*.png"), "--text", "a cat",
                   "--out", str(tmp_path / "o"), *TINY], capsys)
    assert rc == 1 and err.count("\n") == 1 and "no images matched" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not os.path.isfile("/usr/share/wordnet/data.noun")
                    or not os.path.isfile("/usr/share/wordnet/index.sense"),
                    reason="needs Debian's wordnet-base and wordnet-sense-index")
def test_synsets_use_the_concepts_names_and_resume(two_images, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    args = ["export", "--images", two_images[1], "--synset", "circle", "--concept-set", "shapes",
            "--raw", "png16", "--out", str(out), *TINY]
    rc, err = run(args, capsys)
    assert rc == 0, err
    rows = rows_of(out)
    assert [(r["method"], r["synset"], r["status"]) for r in rows] == [("convis", "circle.n.01", "ok")]
    meta = json.loads((out / "a__convis__circle.n.01.json").read_text())
    assert meta["method"] == "convis" and meta["concept_set"]["name"] == "shapes"
    assert (out / "a__convis__circle.n.01__map16.png").is_file()
    rc, err = run(args, capsys)
    assert rc == 0 and rows_of(out)[0]["status"] == "skipped"

    # The concept grid: one tile per synset, after the ConVis maps it is built from.
    grid_args = ["export", "--images", two_images[1], "--synset", "circle", "--synset", "polygon.n.01",
                 "--concept-set", "shapes", "--grid", "concept", "--out", str(out), *TINY]
    rc, err = run(grid_args, capsys)
    assert rc == 0, err
    rows = rows_of(out)
    assert [(r["method"], r["status"]) for r in rows] == [("convis", "skipped"), ("convis", "ok"),
                                                          ("grid-concept", "ok")]
    grid = np.array(Image.open(out / "a__grid-concept.png"))
    single = np.array(Image.open(out / "a__convis__circle.n.01.png"))
    assert grid.shape[1] > 1.5 * single.shape[1]  # two tiles side by side
    # ConVis options reach the maps: the stochastic variant with another seed gives another map.
    rc, err = run(["export", "--images", two_images[1], "--synset", "circle", "--concept-set", "shapes",
                   "--convis-mode", "stochastic", "--convis-seed", "3", "--top", "2", "--out",
                   str(tmp_path / "stoch"), *TINY], capsys)
    assert rc == 0, err
    meta = json.loads((tmp_path / "stoch" / "a__convis__circle.n.01.json").read_text())
    assert (meta["algorithm"]["mode"], meta["algorithm"]["seed"]) == ("stochastic", 3)
    assert len(meta["top_concepts"]["by_mass"]) == 2
    assert not np.array_equal(np.load(tmp_path / "stoch" / "a__convis__circle.n.01.npy"),
                              np.load(out / "a__convis__circle.n.01.npy"))
    rc, err = run(["export", "--images", two_images[1], "--synset", "circle", "--top", "-1",
                   "--out", str(tmp_path / "o3"), *TINY], capsys)
    assert rc == 1 and "--top must be 0 or more" in err
    rc, err = run(["export", "--images", two_images[1], "--text", "a cat", "--grid", "concept",
                   "--out", str(tmp_path / "o2"), *TINY], capsys)
    assert rc == 1 and "--grid concept compares ConVis maps: pass --synset" in err


def test_cancel_leaves_a_valid_index_with_pending_rows(two_images, tmp_path, tiny_handles):
    engine = Engine(tiny_handles["eclip-tiny-vit"])
    calls = []
    req = ExportRequest(images=two_images, out_dir=str(tmp_path / "o"), texts=["a cat"])
    res = run_export({"native": engine}, req, cancelled=lambda: bool(calls.append(1)) or len(calls) > 1)
    assert res.cancelled
    data = json.loads((tmp_path / "o" / "index.json").read_text())
    assert [r["status"] for r in data["rows"]] == ["ok", "ok", "pending", "pending"]
    assert data["summary"]["finished"] is False

"""`eclip-desktop explain` end to end, and its bad inputs: one clear line, non-zero exit, no files."""
import json
import os

import numpy as np
from PIL import Image

from eclip_desktop.cli import main
from tests.conftest import write_image

TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_explain_writes_documented_triples(tmp_path, capsys):
    img = write_image(tmp_path / "street scene.png", w=120, h=80)
    out = tmp_path / "out"
    rc, _, err = run(["explain", img, "--text", "a cat", "--text", "a red car", "--pooling", "all",
                      "--out", str(out), *TINY], capsys)
    assert rc == 0, err
    for pooling in ("native", "avg", "max", "masked_max"):
        for slug in ("a-cat", "a-red-car"):
            stem = out / f"street scene__itsm__{pooling}__{slug}"
            arr = np.load(f"{stem}.npy")
            assert arr.dtype == np.float32 and arr.shape == (80, 120)
            assert arr.min() >= 0 and arr.max() <= 1
            meta = json.loads(open(f"{stem}.json").read())
            for key in ("image", "image_sha256", "model", "pretrained", "method", "pooling", "text",
                        "scores", "timings", "version"):
                assert key in meta, key
            assert meta["image"] == img and meta["pooling"] == pooling and meta["method"] == "itsm"
            assert set(meta["scores"]) == {"native", "avg", "max", "masked_max"}
            png = Image.open(f"{stem}.png")
            assert png.width > 120 and png.height > 80  # title block and colorbar around the panel
        assert (out / f"street scene__contribution__{pooling}.npy").exists()
    leftovers = [p for p in os.listdir(out) if ".tmp" in p]
    assert leftovers == []


def test_exif_orientation_grayscale_16bit_and_labels_file(tmp_path, capsys):
    rotated = tmp_path / "rot.jpg"
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 100, 3), dtype=np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90°: the original image is 40 wide, 100 high once oriented
    im.save(rotated, exif=exif)
    gray = write_image(tmp_path / "gray.png", mode="L")
    deep = tmp_path / "deep.png"
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 15).astype(np.uint16)).save(deep)
    labels = tmp_path / "labels.txt"
    labels.write_text("# classes\na cat\n\na dog\n")
    out = tmp_path / "out"
    rc, _, err = run(["explain", str(rotated), gray, str(deep), "--labels-file", str(labels),
                      "--method", "surgery", "--out", str(out), *TINY], capsys)
    assert rc == 0, err
    assert np.load(out / "rot__surgery__native__a-cat.npy").shape == (100, 40)
    assert (out / "gray__surgery__native__a-dog.json").exists()
    assert (out / "deep__surgery__native__a-dog.json").exists()
    assert "[3/3]" in err  # progress for many images


def _bad_inputs(tmp_path):
    zero = tmp_path / "zero.png"
    zero.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    good = write_image(tmp_path / "good.png")
    trunc = tmp_path / "trunc.jpg"
    Image.open(good).save(trunc, quality=90)
    trunc.write_bytes(trunc.read_bytes()[:200])
    ckpt = tmp_path / "rn.safetensors"
    from safetensors.torch import save_file

    from eclip_desktop.core.model.loading import ModelSpec, load_model
    h = load_model(ModelSpec("eclip-tiny-rn", "random", "cpu"))
    save_file({k: v.contiguous() for k, v in h.model.state_dict().items()}, str(ckpt))
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    return {
        "missing image": ([str(tmp_path / "nope.png"), "--text", "a"], "does not exist|not found|No such"),
        "zero-byte image": ([str(zero), "--text", "a"], "empty|zero"),
        "not an image": ([str(text), "--text", "a"], "not an image|cannot identify|not a recognised"),
        "truncated image": ([str(trunc), "--text", "a"], "corrupt|truncated"),
        "empty text": ([good, "--text", "  "], "empty prompt"),
        "no text": ([good], "no text given"),
        "long text": ([good, "--text", "very " * 90], "over the model's 77-token context"),
        "unknown model": ([good, "--text", "a", "--model", "ViT-Q-99"], "unknown model"),
        "unknown tag": ([good, "--text", "a", "--model", "ViT-B-16", "--pretrained", "laion9"],
                        "unknown pretrained tag"),
        "mismatched checkpoint": ([good, "--text", "a", "--model", "eclip-tiny-vit", "--pretrained", str(ckpt)],
                                  "does not match the architecture"),
        "uncached weights": ([good, "--text", "a", "--model", "ViT-B-16", "--pretrained", "openai"],
                             "not downloaded yet"),
        "out not writable": ([good, "--text", "a", "--out", str(blocker / "sub")], "not writable|not a directory"),
        "missing labels file": ([good, "--labels-file", str(tmp_path / "none.txt")], "cannot read labels file"),
    }


def test_bad_inputs_one_line_nonzero_nothing_written(tmp_path, capsys):
    cases = _bad_inputs(tmp_path)
    for name, (argv, pattern) in cases.items():
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        full = ["explain", *argv]
        if "--out" not in argv:
            full += ["--out", str(out)]
        if "--model" not in argv:
            full += TINY
        else:
            full += ["--device", "cpu"]
        rc, stdout, err = run(full, capsys)
        assert rc != 0, name
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        assert len(lines) == 1, (name, err)
        import re
        assert re.search(pattern, lines[0], re.I), (name, lines[0])
        assert "Traceback" not in err
        assert not out.exists() or not any(out.iterdir()), name


def test_cuda_requested_but_absent(tmp_path, capsys, monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    good = write_image(tmp_path / "good.png")
    rc, _, err = run(["explain", good, "--text", "a", "--out", str(tmp_path / "o"),
                      "--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cuda"], capsys)
    assert rc == 1 and "CUDA was requested" in err


def test_existing_outputs_need_overwrite(tmp_path, capsys):
    good = write_image(tmp_path / "good.png")
    out = tmp_path / "out"
    argv = ["explain", good, "--text", "a cat", "--out", str(out), *TINY]
    assert run(argv, capsys)[0] == 0
    target = out / "good__itsm__native__a-cat.npy"
    before = target.read_bytes()
    rc, _, err = run(argv, capsys)
    assert rc == 1 and "--overwrite" in err
    assert target.read_bytes() == before
    assert run(argv + ["--overwrite"], capsys)[0] == 0


def test_huge_image_is_refused_before_decoding(tmp_path, capsys, monkeypatch):
    from eclip_desktop.core.io import imageio
    big = write_image(tmp_path / "big.png", w=400, h=300)
    monkeypatch.setattr(imageio, "DEFAULT_MAX_PIXELS", 1000)
    monkeypatch.setattr(imageio.load_image, "__defaults__", (1000,))
    rc, _, err = run(["explain", big, "--text", "a", "--out", str(tmp_path / "o"), *TINY], capsys)
    assert rc == 1 and "limit" in err


def test_same_stem_inputs_get_distinct_names(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write_image(tmp_path / "a" / "img.png", seed=1)
    two = write_image(tmp_path / "b" / "img.png", seed=2)
    out = tmp_path / "out"
    assert run(["explain", one, two, "--text", "x", "--out", str(out), *TINY], capsys)[0] == 0
    names = sorted(p.name for p in out.glob("img-*__itsm__native__x.npy"))
    assert len(names) == 2


def test_colliding_text_slugs_are_disambiguated(tmp_path, capsys):
    good = write_image(tmp_path / "good.png")
    out = tmp_path / "out"
    rc, _, err = run(["explain", good, "--text", "A dog", "--text", "a dog!", "--out", str(out), *TINY], capsys)
    assert rc == 0, err
    assert len(list(out.glob("good__itsm__native__a-dog-*.npy"))) == 2

"""Hostile inputs, one table: every case ends with exactly one stderr line `eclip-desktop: error: ...`
naming the cause, exit status 1 (2 for usage errors: a bad option or option value, as documented), no
traceback, and no file written, changed or removed.

The cases run in-process (`main([...])`) for speed; a few at the end run the installed command in a
subprocess to prove that what reaches a terminal is that one line and no traceback.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from eclip_desktop.cli import main
from tests.conftest import write_image

TINY = ["--model", "eclip-tiny-vit", "--device", "cpu"]
RANDOM = [*TINY, "--pretrained", "random"]
PREFIX = "eclip-desktop: error: "


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """The world every case reads: images, checkpoints, and outputs of an earlier good run."""
    from safetensors.torch import save_file

    from eclip_desktop.core.model.loading import ModelSpec, load_model
    root = tmp_path_factory.mktemp("hostile")
    imgs = root / "imgs"
    imgs.mkdir()
    good = write_image(imgs / "a.png", w=64, h=48, seed=1)
    (imgs / "zero.png").write_bytes(b"")
    (imgs / "notes.png").write_text("not an image")
    (imgs / "folder.png").mkdir()
    trunc = imgs / "trunc.jpg"
    Image.open(good).save(trunc, quality=90)
    trunc.write_bytes(trunc.read_bytes()[:200])
    long_stem = imgs / ("x" * 236 + ".png")  # fits the file system; its output names do not
    shutil.copy(good, long_stem)
    vit = root / "vit.safetensors"
    torch_state = load_model(ModelSpec("eclip-tiny-vit", "random", "cpu")).model.state_dict()
    save_file({k: v.contiguous() for k, v in torch_state.items()}, str(vit))
    rn = root / "rn.safetensors"
    rn_state = load_model(ModelSpec("eclip-tiny-rn", "random", "cpu")).model.state_dict()
    save_file({k: v.contiguous() for k, v in rn_state.items()}, str(rn))
    noise = root / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    made = root / "made"
    assert main(["explain", good, "--text", "a cat", "--text", "a dog", "--out", str(made), *TINY,
                 "--pretrained", str(vit)]) == 0
    sidecar = json.loads((made / "a__itsm__native__a-dog.json").read_text())
    assert sidecar["weights_sha256"] and sidecar["text"] == "a dog"
    (root / "blocker").write_text("a file where a folder is asked for")
    (root / "eval.json").write_text('{"mine": 1}\n')
    (root / "bench.json").write_text('{"mine": 2}\n')
    trained = root / "trained"
    trained.mkdir()
    (trained / "native.safetensors").write_bytes(b"earlier weights")
    (trained / "native.json").write_text("{}\n")
    (root / "long.txt").write_text("/tmp/" + "y" * 300 + ".png\n")
    return SimpleNamespace(root=root, good=good, imgs=imgs, long_stem=str(long_stem), vit=str(vit), rn=str(rn),
                           noise=str(noise), made=made, sidecar=sidecar)


def tampered(w, **changes) -> str:
    """A copy of a good sidecar (and its map) with some fields changed or removed (value None)."""
    meta = dict(w.sidecar)
    for k, v in changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    n = len(list(w.root.glob("t*.json")))
    target = w.root / f"t{n}.json"
    meta["files"] = dict(meta.get("files") or {}, npy=f"t{n}.npy") if "files" not in changes else meta["files"]
    meta["image"] = w.good
    shutil.copy(w.made / "a__itsm__native__a-dog.npy", w.root / f"t{n}.npy")
    target.write_text(json.dumps(meta))
    return str(target)


def pickled_map(w) -> str:
    path = tampered(w)
    np.save(Path(path).with_suffix(".npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return path


def other_weights(w) -> str:
    changed = w.root / "vit-retrained.safetensors"
    shutil.copy(w.vit, changed)
    with open(changed, "ab") as f:
        f.write(b" ")  # same name and size class, other content: another model
    return tampered(w, pretrained=str(changed))


OUT = "--out"
# id: (argv from the world, what the one line must say)
CASES = {
    # --- explain: images
    "explain missing image": (lambda w: ["explain", str(w.imgs / "nope.png"), "--text", "a", OUT, str(w.root / "o")],
                              r"does not exist|not found"),
    "explain zero-byte image": (lambda w: ["explain", str(w.imgs / "zero.png"), "--text", "a", OUT, str(w.root / "o")],
                                r"empty|zero"),
    "explain directory as image": (lambda w: ["explain", str(w.imgs / "folder.png"), "--text", "a", OUT,
                                              str(w.root / "o")], r"directory"),
    "explain text file as image": (lambda w: ["explain", str(w.imgs / "notes.png"), "--text", "a", OUT,
                                              str(w.root / "o")], r"not an image|cannot identify|not a recognised"),
    "explain truncated image": (lambda w: ["explain", str(w.imgs / "trunc.jpg"), "--text", "a", OUT, str(w.root / "o")],
                                r"corrupt|truncated"),
    "explain same image twice": (lambda w: ["explain", w.good, w.good, "--text", "a", OUT, str(w.root / "o"), *RANDOM],
                                 r"given twice"),
    "explain same image by two paths": (lambda w: ["explain", w.good, str(w.imgs / ".." / "imgs" / "a.png"),
                                                   "--text", "a", OUT, str(w.root / "o"), *RANDOM], r"given twice"),
    "explain output name too long": (lambda w: ["explain", w.long_stem, "--text", "a cat", OUT, str(w.root / "o"),
                                                *RANDOM], r"output name too long"),
    "explain path part over 255": (lambda w: ["explain", str(w.imgs / ("z" * 300 + ".png")), "--text", "a", OUT,
                                              str(w.root / "o")], r"name too long"),
    # --- explain: texts and options
    "explain empty text": (lambda w: ["explain", w.good, "--text", "  ", OUT, str(w.root / "o")], r"empty prompt"),
    "explain no text": (lambda w: ["explain", w.good, OUT, str(w.root / "o")], r"no text given"),
    "explain missing labels file": (lambda w: ["explain", w.good, "--labels-file", str(w.root / "none.txt"), OUT,
                                               str(w.root / "o")], r"cannot read labels file"),
    "explain alpha 2": (lambda w: ["explain", w.good, "--text", "a", "--alpha", "2", OUT, str(w.root / "o")],
                        r"--alpha must be between 0 and 1", 2),
    "explain alpha nan": (lambda w: ["explain", w.good, "--text", "a", "--alpha", "nan", OUT, str(w.root / "o")],
                          r"--alpha must be between 0 and 1", 2),
    "explain input size 10": (lambda w: ["explain", w.good, "--text", "a", "--input-size", "10", OUT,
                                         str(w.root / "o")], r"--input-size must be between 32 and 2048", 2),
    "explain input size 100000": (lambda w: ["explain", w.good, "--text", "a", "--input-size", "100000", OUT,
                                             str(w.root / "o")], r"--input-size must be between 32 and 2048", 2),
    "explain unknown method": (lambda w: ["explain", w.good, "--text", "a", "--method", "bogus", OUT,
                                          str(w.root / "o")], r"invalid choice: 'bogus'", 2),
    "explain unknown option": (lambda w: ["explain", w.good, "--text", "a", "--frobnicate", OUT, str(w.root / "o")],
                               r"unrecognized arguments: --frobnicate", 2),
    # --- explain: outputs
    "explain existing output": (lambda w: ["explain", w.good, "--text", "a cat", "--text", "a dog", OUT, str(w.made),
                                           *TINY, "--pretrained", w.vit], r"exists; pass --overwrite"),
    "explain overwrite onto a directory": (lambda w: _dir_target(w), r"is a directory"),
    "explain out is a file": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "blocker" / "sub")],
                              r"not writable|not a directory"),
    # --- explain: models and weights
    "explain unknown model": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), "--model",
                                         "ViT-Q-99"], r"unknown model"),
    "explain missing checkpoint": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY,
                                              "--pretrained", str(w.root / "gone.safetensors")], r"does not exist"),
    "explain checkpoint of another architecture": (
        lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY, "--pretrained", w.rn],
        r"does not match the architecture eclip-tiny-vit: missing key\(s\).*visual\.class_embedding"),
    "explain random bytes as checkpoint": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY,
                                                      "--pretrained", w.noise],
                                           r"^(?!.*weights_only).*cannot read checkpoint .*read safely"),
    # --- export
    "export output name too long": (lambda w: ["export", "--images", w.long_stem, "--text", "a cat", OUT,
                                               str(w.root / "o"), *RANDOM], r"output name too long"),
    "export list line over 255": (lambda w: ["export", "--images", str(w.root / "long.txt"), "--text", "a", OUT,
                                             str(w.root / "o"), *RANDOM], r"name too long"),
    "export width -1": (lambda w: ["export", "--images", w.good, "--text", "a", "--width", "-1", OUT,
                                   str(w.root / "o")], r"--width must be"),
    "export bogus contour": (lambda w: ["export", "--images", w.good, "--text", "a", "--contour", "bogus", OUT,
                                        str(w.root / "o")], r"contour"),
    "export nothing to do": (lambda w: ["export", "--images", w.good, OUT, str(w.root / "o")], r"nothing to export"),
    "export top -1": (lambda w: ["export", "--images", w.good, "--text", "a", "--top", "-1", OUT, str(w.root / "o")],
                      r"--top must be 0 or more"),
    "export no images match": (lambda w: ["export", "--images", str(w.root / "none" / "*.png"), "--text", "a", OUT,
                                          str(w.root / "o")], r"no images matched"),
    # --- reproduce: a sidecar is a file anyone can edit
    "reproduce input_size 100000": (lambda w: ["reproduce", tampered(w, input_size=100000), "--check"],
                                    r"'input_size' is 100000; .* 32 to 2048"),
    "reproduce input_size -5": (lambda w: ["reproduce", tampered(w, input_size=-5), "--check"], r"'input_size'"),
    "reproduce input_size abc": (lambda w: ["reproduce", tampered(w, input_size="abc"), "--check"], r"'input_size'"),
    "reproduce method bogus": (lambda w: ["reproduce", tampered(w, method="bogus"), "--check"],
                               r"'method' is 'bogus'"),
    "reproduce text_index 7": (lambda w: ["reproduce", tampered(w, text_index=7), "--check"],
                               r"'text_index' is 7; there are 2 label"),
    "reproduce text changed": (lambda w: ["reproduce", tampered(w, text="a horse"), "--check"],
                               r"'text' says 'a horse' but labels\[1\] is 'a dog'"),
    "reproduce pooling bogus": (lambda w: ["reproduce", tampered(w, pooling="median"), "--check"], r"'pooling'"),
    "reproduce tau bogus": (lambda w: ["reproduce", tampered(w, tau="max"), "--check"], r"'tau'"),
    "reproduce options bogus": (lambda w: ["reproduce", tampered(w, method_options={"rm": "-rf"}), "--check"],
                                r"'method_options'"),
    "reproduce npy outside its folder": (lambda w: ["reproduce", tampered(w, files={"npy": "../../x.npy"}),
                                                    "--check"], r"'files.npy'"),
    "reproduce missing fields": (lambda w: ["reproduce", tampered(w, model=None, pooling=None), "--check"],
                                 r"missing: model, pooling"),
    "reproduce not json": (lambda w: ["reproduce", w.good, "--check"], r"cannot read sidecar"),
    "reproduce pickled map": (lambda w: ["reproduce", pickled_map(w), "--check"],
                              r"cannot read the saved map .*allow_pickle"),
    "reproduce other weights file": (lambda w: ["reproduce", other_weights(w), "--check"],
                                     r"not the weights file the sidecar was made with"),
    # --- train: every number and the outputs, before any work
    "train lr -1": (lambda w: ["train", "--pooling", "native", "--lr", "-1", OUT, str(w.root / "t")],
                    r"--lr must be a positive number"),
    "train lr nan": (lambda w: ["train", "--pooling", "native", "--lr", "nan", OUT, str(w.root / "t")],
                     r"--lr must be a positive number"),
    "train scenes 0": (lambda w: ["train", "--pooling", "native", "--scenes", "0", OUT, str(w.root / "t")],
                       r"--scenes must be at least 2"),
    "train resume without checkpoint": (lambda w: ["train", "--pooling", "native", "--resume", OUT,
                                                   str(w.root / "t")], r"--resume: there is no checkpoint"),
    "train existing outputs": (lambda w: ["train", "--pooling", "native", OUT, str(w.root / "trained")],
                               r"native.safetensors exists; pass --overwrite"),
    "train loss goes NaN": (lambda w: ["train", "--pooling", "native", "--model", "eclip-tiny-vit", "--scenes", "8",
                                       "--steps", "6", "--batch-size", "4", "--warmup", "0", "--lr", "1e12",
                                       "--device", "cpu", "--checkpoint-every", "0", OUT, str(w.root / "t")],
                            r"the (loss|weights) became (nan|NaN|inf).*nothing was written"),
    # --- eval and bench: an existing result is not replaced
    "eval json exists": (lambda w: ["eval", "--dataset", "shapes:4", "--json", str(w.root / "eval.json"), *RANDOM],
                         r"eval.json exists; pass --overwrite"),
    "eval limit 0": (lambda w: ["eval", "--dataset", "shapes:4", "--limit", "0", *RANDOM],
                     r"--limit must be at least 1"),
    "bench out exists": (lambda w: ["bench", "--out", str(w.root / "bench.json"), *TINY], r"bench.json exists"),
    "bench repeats 0": (lambda w: ["bench", "--repeats", "0", *TINY], r"--repeats must be at least 1"),
}

WORDNET_CASES = {
    "wordnet unknown sense number": (["wordnet", "dog.n.999"], r"Unknown noun synset 'dog.n.999'.*dog\.n\.01"),
    "wordnet verb synset": (["wordnet", "dog.v.01"], r"not a noun synset"),
    "wordnet limit 0": (["wordnet", "dog", "--limit", "0"], r"--limit must be at least 1"),
    "wordnet no match": (["wordnet", "qqzzxxq"], r"no noun synset matches 'qqzzxxq'"),
}


def _dir_target(w):
    out = w.root / "dirtarget"
    out.mkdir(exist_ok=True)
    # The contribution map's .npy name taken by a folder: with --overwrite nothing may be written first.
    (out / "a__contribution__native.npy").mkdir(exist_ok=True)
    return ["explain", w.good, "--text", "a cat", "--overwrite", OUT, str(out), *RANDOM]


def snapshot(root: Path) -> dict:
    """Every file under root with its size and modification time: nothing may appear, change or vanish."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            st = p.lstat()
            files[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return files


def check_one_line(rc: int, err: str, pattern: str, status: int = 1) -> None:
    # `train` reports its first step before the loss can go NaN: progress lines are not errors.
    lines = [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip() and not re.match(r"step \d+/", ln)]
    assert rc == status, (rc, err)
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), lines[0]
    assert re.search(pattern, lines[0]), (pattern, lines[0])


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, w, capsys):
    make_argv, pattern, *status = CASES[case]
    argv = make_argv(w)  # may write the tampered input itself: the snapshot is taken after
    before = snapshot(w.root)
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse's usage errors leave by SystemExit, as before
        rc = exc.code
    _, err = capsys.readouterr()
    check_one_line(rc, err, pattern, *status)
    assert snapshot(w.root) == before, "a file was written, changed or removed"


@pytest.mark.parametrize("case", list(WORDNET_CASES))
def test_bad_wordnet_input(case, wn_env, monkeypatch, capsys):
    base, _ = wn_env
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))
    argv, pattern = WORDNET_CASES[case]
    rc = main(argv)
    out, err = capsys.readouterr()
    check_one_line(rc, err, pattern)
    assert out == ""


def test_the_table_is_long_enough():
    assert len(CASES) + len(WORDNET_CASES) >= 40


def test_disk_full_is_named(tmp_path, monkeypatch):
    """ENOSPC, and numpy's errno-less short write, both read 'disk full'."""
    import errno

    from eclip_desktop.core.errors import OutputError
    from eclip_desktop.core.io import atomic
    assert atomic.os_cause(OSError(errno.ENOSPC, "No space left on device")) == "disk full"
    assert atomic.os_cause(OSError("16384 requested and 16352 written")) == "disk full"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OutputError, match="disk full"):
        atomic.atomic_save_npy(tmp_path / "m.npy", np.zeros((2, 2), np.float32), overwrite=False)
    assert not list(tmp_path.iterdir())  # the temp file is gone too


def _cli(*args, env=None):
    exe = Path(sys.executable).with_name("eclip-desktop")
    cmd = [str(exe), *args] if exe.exists() else [sys.executable, "-m", "eclip_desktop", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})})


@pytest.mark.parametrize("case", ["explain path part over 255", "reproduce input_size 100000",
                                  "explain unknown option"])
def test_subprocess_prints_one_line_and_no_traceback(case, w):
    make_argv, pattern, *status = CASES[case]
    argv = make_argv(w)
    before = snapshot(w.root)
    proc = _cli(*argv)
    check_one_line(proc.returncode, proc.stderr, pattern, *status)
    assert snapshot(w.root) == before

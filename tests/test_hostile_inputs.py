"""Hostile files, names and JSON (issue 26): non-regular files, interpreter-backed images, thin strips,
lying headers, names and prompts that are not UTF-8, JSON of the wrong shape or depth, integer
weights, terminal escapes, byte-order marks, a truncated WordNet, an export feeding on itself.

Every case ends in one `eclip-desktop: error: ...` line naming the input (or a clean result), the
documented exit status, no traceback, and no file written, changed or removed in the world it read.
Cases that hung or exhausted memory before the fix run in subprocesses: a FIFO or an interpreter
that never returns fails its case by an alarm in the child (and the run by a timeout), never hangs
the suite; the memory cases report their peak RSS through `resource.getrusage(RUSAGE_CHILDREN)`.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from eclip_desktop.cli import main
from tests.conftest import write_image
from tests.test_bad_inputs import PREFIX, RANDOM, TINY, check_one_line, snapshot

OUT = "--out"
REPO = Path(__file__).resolve().parents[1]
PEAK_RSS_MB = 2048  # the target: no hostile input above 2 GB (torch alone is about 1.1 GB)
CASE_ALARM_S = 90  # a case still running after this in the child counts as a hang (a loaded machine is slow)


def _latin1(folder: Path, name: bytes) -> str:
    """A path whose last part is `name`'s bytes, as Python shows a name that is not UTF-8 (surrogates)."""
    return os.fsdecode(os.fsencode(str(folder)) + b"/" + name)


def _deep(n: int) -> str:
    return "[" * n + "]" * n


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    """The world the cases read: images, weights, an earlier good run, and the hostile files."""
    import torch
    from safetensors.torch import save_file

    from eclip_desktop.core.model.loading import ModelSpec, load_model
    root = tmp_path_factory.mktemp("hostile2")
    imgs = root / "imgs"
    imgs.mkdir()
    good = write_image(imgs / "a.png", w=64, h=48, seed=1)
    state = load_model(ModelSpec("eclip-tiny-vit", "random", "cpu")).model.state_dict()
    vit = root / "vit.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(vit))
    save_file({k: (v * 50).to(torch.int8).contiguous() if v.is_floating_point() else v.contiguous()
               for k, v in state.items()}, str(root / "int8.safetensors"))
    torch.save({k: (v * 50).to(torch.int8) if v.is_floating_point() else v for k, v in state.items()},
               root / "int8.pt")
    made = root / "made"
    assert main(["explain", good, "--text", "a cat", "--text", "a dog", OUT, str(made), *TINY,
                 "--pretrained", str(vit)]) == 0
    sidecar = json.loads((made / "a__itsm__native__a-dog.json").read_text())

    # not regular files
    for name in ("fifo.png", "fifo.txt", "fifo.json", "fifo.safetensors"):
        os.mkfifo(root / name)
    (root / "dir.txt").mkdir()
    (root / "dir.json").mkdir()
    (root / "dir.safetensors").mkdir()
    (root / "list-with-fifo.txt").write_text(f"{root / 'fifo.png'}\n{good}\n")
    # images
    (root / "ps.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\n")
    (root / "loop.eps").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ } loop\n")
    Image.fromarray(np.zeros((1, 10000, 3), np.uint8)).save(root / "wide.png")
    Image.fromarray(np.zeros((10000, 1, 3), np.uint8)).save(root / "tall.png")
    Image.fromarray(np.zeros((1, 3000, 3), np.uint8)).save(imgs / "strip3000.png")
    # text: names that are not UTF-8, escapes, byte-order marks
    latin_dir = root / "latin"
    latin_dir.mkdir()
    latin = _latin1(latin_dir, b"caf\xe9.png")
    shutil.copy(good, latin)
    (root / "labels-latin1.txt").write_bytes(b"caf\xe9\n")
    (root / "labels-bom.txt").write_bytes("\ufeffa cat\na dog\n".encode())
    (root / "list-bom.txt").write_bytes(f"\ufeff{good}\n".encode())
    # a saved map whose header claims 100000 x 100000 float32 (40 GB) with 16 bytes of data
    huge = root / "huge.npy"
    header = {"descr": "<f4", "fortran_order": False, "shape": (100000, 100000)}
    with open(huge, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header) if hasattr(np.lib.format, "write_array_header_1_0") \
            else np.lib.format._write_array_header(f, header, (1, 0))
        f.write(b"\0" * 16)
    return SimpleNamespace(root=root, imgs=imgs, good=good, vit=str(vit), made=made, sidecar=sidecar,
                           latin_dir=latin_dir, latin=latin)


def raw_sidecar(w, text: str | bytes) -> str:
    """A sidecar file whose whole content is `text` (its map copied beside it)."""
    n = len(list(w.root.glob("s*.json")))
    shutil.copy(w.made / "a__itsm__native__a-dog.npy", w.root / f"s{n}.npy")
    target = w.root / f"s{n}.json"
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(target)


def sidecar_with(w, **changes) -> str:
    meta = dict(w.sidecar, image=w.good)
    n = len(list(w.root.glob("s*.json")))
    meta["files"] = {"npy": f"s{n}.npy"}
    meta.update(changes)
    return raw_sidecar(w, json.dumps(meta))


def family(w, name: str, card_text: str | None) -> str:
    """A family folder with one sibling (native): the tiny weights and `card_text` as its card."""
    folder = w.root / name
    folder.mkdir(exist_ok=True)
    (folder / "native.safetensors").symlink_to(w.vit)
    if card_text is not None:
        (folder / "native.json").write_text(card_text)
    return str(folder)


def huge_map_sidecar(w) -> str:
    target = w.root / "huge.json"
    target.write_text(json.dumps(dict(w.sidecar, image=w.good, files={"npy": "huge.npy"})))
    return str(target)


GOOD_CARD = {"format": "eclip-desktop-model-card", "version": 1, "architecture": "eclip-tiny-vit", "pooling": "native"}

# --- cases run in this process: nothing here could hang or allocate much even before the fix -------------
CASES = {
    # non-regular files that cannot block
    "labels file is a directory": (lambda w: ["explain", w.good, "--labels-file", str(w.root / "dir.txt"), OUT,
                                              str(w.root / "o")], r"cannot read labels file .*dir\.txt: it is a directory"),
    "sidecar is a directory": (lambda w: ["reproduce", str(w.root / "dir.json"), "--check"],
                               r"cannot read sidecar .*dir\.json: it is a directory"),
    "weights are a directory": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY,
                                           "--pretrained", str(w.root / "dir.safetensors")],
                                r"checkpoint .*dir\.safetensors cannot be read: it is a directory"),
    # thin strips and lying headers, refused from the header
    "3000x1 strip": (lambda w: ["explain", str(w.imgs / "strip3000.png"), "--text", "a", OUT,
                                       str(w.root / "o"), *RANDOM], r"3000×1 pixels, an aspect ratio of 3000:1, "
                                                                    r"beyond the 20:1"),
    "npy truncated": (lambda w: ["reproduce", _truncated_npy(w), "--check"], r"saved map .* truncated"),
    # JSON of the wrong shape or depth
    "sidecar is a list": (lambda w: ["reproduce", raw_sidecar(w, "[1, 2]"), "--check"], r"not a JSON object"),
    "sidecar files is a list": (lambda w: ["reproduce", sidecar_with(w, files=["a.npy"]), "--check"],
                                r"field 'files' is a list; expected an object"),
    "sidecar files.npy is a number": (lambda w: ["reproduce", sidecar_with(w, files={"npy": 7}), "--check"],
                                      r"field 'files\.npy' is the number 7; expected a string"),
    "sidecar image_size is 7": (lambda w: ["reproduce", sidecar_with(w, image_size=7), "--check"],
                                r"field 'image_size' is the number 7"),
    "sidecar image_size of three": (lambda w: ["reproduce", sidecar_with(w, image_size=[1, 2, 3]), "--check"],
                                    r"'image_size' has 3 numbers"),
    "sidecar labels is a string": (lambda w: ["reproduce", sidecar_with(w, labels="a dog"), "--check"],
                                   r"field 'labels' is the string 'a dog'"),
    "sidecar labels hold a number": (lambda w: ["reproduce", sidecar_with(w, labels=["a cat", 3]), "--check"],
                                     r"field 'labels\[1\]' is the number 3; expected a string"),
    "sidecar method is a list": (lambda w: ["reproduce", sidecar_with(w, method=["itsm"]), "--check"],
                                 r"field 'method' is a list"),
    "sidecar method_options is a list": (lambda w: ["reproduce", sidecar_with(w, method_options=[1]), "--check"],
                                         r"field 'method_options' is a list"),
    "sidecar ensemble is a string": (lambda w: ["reproduce", sidecar_with(w, ensemble="yes"), "--check"],
                                     r"field 'ensemble'"),
    "sidecar NaN": (lambda w: ["reproduce", raw_sidecar(w, json.dumps(dict(w.sidecar, alpha=float("nan")))),
                               "--check"], r"not valid JSON \(NaN is not a JSON number"),
    "sidecar nested 100000 deep": (lambda w: ["reproduce", raw_sidecar(w, '{"image": ' + _deep(100000) + "}"),
                                              "--check"], r"nests more than 32 levels deep"),
    "sidecar of 20 MB": (lambda w: ["reproduce", raw_sidecar(w, json.dumps({"pad": "x" * (20 << 20)})), "--check"],
                         r"it is 20 MB, above the 16 MB limit"),
    "sidecar not UTF-8": (lambda w: ["reproduce", raw_sidecar(w, b'{"image": "caf\xe9"}'), "--check"],
                          r"cannot read sidecar .*: not a UTF-8 JSON text \(byte 14\)"),
    "card is a list": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), "--device", "cpu",
                                  "--model", family(w, "fam-list", "[1, 2]")],
                       r"model card .*native\.json is unusable: the file is not a JSON object"),
    "card architecture is 7": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), "--device", "cpu",
                                          "--model", family(w, "fam-arch", json.dumps(dict(GOOD_CARD, architecture=7)))],
                               r"native\.json is unusable: field 'architecture' is the number 7; expected a string"),
    "card data is a list": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), "--device", "cpu",
                                       "--model", family(w, "fam-data", json.dumps(dict(GOOD_CARD, data=["shapes"])))],
                            r"field 'data' is a list; expected an object"),
    "card nested 100000 deep": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), "--device", "cpu",
                                           "--model", family(w, "fam-deep", '{"metrics": ' + _deep(100000) + "}")],
                                r"native\.json is missing or unreadable: its JSON nests more than 32 levels"),
    # names and text that are not UTF-8
    "missing Latin-1 image": (lambda w: ["explain", _latin1(w.root, b"gone\xe9.png"), "--text", "a", OUT,
                                         str(w.root / "o")], r"image not found: .*gone\\xe9\.png$"),
    "Latin-1 labels file": (lambda w: ["explain", w.good, "--labels-file", str(w.root / "labels-latin1.txt"), OUT,
                                       str(w.root / "o")], r"cannot read labels file .*: not UTF-8 text \(byte 3\)"),
    # weights stored as integers
    "int8 safetensors": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY, "--pretrained",
                                    str(w.root / "int8.safetensors")], r"stores \d+ weight\(s\) as I8 .*floating-point"),
    "int8 torch file": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY, "--pretrained",
                                   str(w.root / "int8.pt")], r"stores \d+ weight\(s\) as int8"),
    # terminal escapes in names
    "image named with escapes": (lambda w: ["explain", str(w.root / "\x1b]0;owned\x07\x1b[2Jx.png"), "--text", "a",
                                            OUT, str(w.root / "o")], r"\\x1b\]0;owned\\x07\\x1b\[2Jx\.png"),
    "labels named with escapes": (lambda w: ["explain", w.good, "--labels-file", str(w.root / "\x1b[31mred\n.txt"),
                                             OUT, str(w.root / "o")], r"\\x1b\[31mred\\n\.txt: not found"),
    "unknown model with escapes": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), "--model",
                                              "\x1b[2J\u202eevil"], r"\\x1b\[2J\\u202eevil"),
}


def _truncated_npy(w) -> str:
    path = sidecar_with(w)
    npy = Path(path).with_suffix(".npy")
    npy.write_bytes(npy.read_bytes()[:-100])
    return path


def _run(argv, capsys) -> tuple[int, str]:
    capsys.readouterr()
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input(case, w, capsys):
    make_argv, pattern, *status = CASES[case]
    argv = make_argv(w)  # may write the hostile input itself: the snapshot is taken after
    before = snapshot(w.root)
    rc, err = _run(argv, capsys)
    check_one_line(rc, err, pattern, *status)
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert snapshot(w.root) == before, "a file was written, changed or removed"


# --- cases that hung, ran an interpreter or read without end before the fix: in a child process -----------
DRIVER = r"""
import contextlib, io, json, signal, sys, traceback
class Hung(BaseException):  # not an OSError: the CLI's own error path must not report it as one
    pass
def hung(*_):
    raise Hung
signal.signal(signal.SIGALRM, hung)
from eclip_desktop.cli import main
cases, limit = json.loads(sys.stdin.read()), int(sys.argv[1])
results = {}
for name, argv in cases.items():
    err, out = io.StringIO(), io.StringIO()
    signal.alarm(limit)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                rc = main(argv)
            except SystemExit as exc:
                rc = exc.code
    except Hung:
        rc = "hung"
    except BaseException:
        rc, _ = "raised", err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
    results[name] = [rc, err.getvalue()]
print("RESULTS " + json.dumps(results))
"""


def _child(cases: dict, env: dict | None = None, limit: int = CASE_ALARM_S, memory: bool = False) -> dict:
    """Run `cases` (name -> argv) through the CLI in one child; {name: (rc, stderr)}. With `memory`, the
    child runs under a wrapper that reports its peak RSS (RUSAGE_CHILDREN) as the key "peak_rss_mb"."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    payload = json.dumps(cases)  # names that are not UTF-8 travel as \udcXX escapes and come back the same
    cmd = [sys.executable, "-c", DRIVER, str(limit)]
    if memory:
        # An address-space cap keeps a regression from taking the shared machine's memory: it then
        # fails with an allocation error instead.
        wrap = ("import resource, subprocess, sys\n"
                "cap = 8 << 30\n"
                "p = subprocess.run(sys.argv[1:], input=sys.stdin.read(), capture_output=True, text=True,\n"
                "                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap)))\n"
                "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
                "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)\n")
        cmd = [sys.executable, "-c", wrap, *cmd]
    proc = subprocess.run(cmd, input=payload, capture_output=True, text=True, env=env,
                          timeout=limit * len(cases) + 120, errors="surrogateescape")
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULTS ")), None)
    assert line, (proc.returncode, proc.stderr[-3000:])
    results = {k: tuple(v) for k, v in json.loads(line[len("RESULTS "):]).items()}
    if memory:
        results["peak_rss_mb"] = int(next(ln.split()[1] for ln in proc.stdout.splitlines() if ln.startswith("PEAK")))
    return results


CHILD_CASES = {
    "FIFO as image": (lambda w: ["explain", str(w.root / "fifo.png"), "--text", "a", OUT, str(w.root / "o")],
                      r"fifo\.png is not an image file: a named pipe \(FIFO\), not a regular file"),
    "FIFO as labels file": (lambda w: ["explain", w.good, "--labels-file", str(w.root / "fifo.txt"), OUT,
                                       str(w.root / "o")], r"cannot read labels file .*fifo\.txt: it is a named pipe"),
    "FIFO as sidecar": (lambda w: ["reproduce", str(w.root / "fifo.json"), "--check"],
                        r"cannot read sidecar .*fifo\.json: it is a named pipe"),
    "FIFO as weights": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY, "--pretrained",
                                   str(w.root / "fifo.safetensors")], r"fifo\.safetensors cannot be read: it is a named pipe"),
    "FIFO as image list": (lambda w: ["export", "--images", str(w.root / "fifo.txt"), "--text", "a", OUT,
                                      str(w.root / "o"), *RANDOM], r"no images matched|named pipe"),
    "FIFO as family card": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), "--device", "cpu",
                                       "--model", _fifo_family(w)], r"is not a model family"),
    "/dev/zero as weights": (lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY,
                                        "--pretrained", "/dev/zero"], r"/dev/zero cannot be read: it is a character device"),
    "PostScript named .png": (lambda w: ["explain", str(w.root / "ps.png"), "--text", "a", OUT, str(w.root / "o")],
                              r"ps\.png is not an image file this tool reads \(PNG, JPEG"),
    "EPS file": (lambda w: ["explain", str(w.root / "loop.eps"), "--text", "a", OUT, str(w.root / "o")],
                 r"loop\.eps is not an image file this tool reads"),
}


def _fifo_family(w) -> str:
    folder = w.root / "fam-fifo"
    if not folder.exists():
        family(w, "fam-fifo", None)
        os.mkfifo(folder / "native.json")
    return str(folder)


@pytest.fixture(scope="module")
def child_results(w):
    argvs = {name: make(w) for name, (make, *_) in CHILD_CASES.items()}
    before = snapshot(w.root)
    results = _child(argvs)
    return results, before, snapshot(w.root)


@pytest.mark.parametrize("case", list(CHILD_CASES))
def test_hostile_input_in_a_child(case, child_results):
    results, before, after = child_results
    rc, err = results[case]
    assert rc != "hung", f"{case} hung: {err}"
    check_one_line(rc, err, CHILD_CASES[case][1])
    assert after == before, "a file was written, changed or removed"


def test_a_socket_is_refused_at_once(w, capsys):
    """stat says socket before anything opens it (open() on a socket fails with an unhelpful ENXIO)."""
    folder = Path(tempfile.mkdtemp(prefix="eds", dir="/tmp"))  # socket paths must stay under 108 bytes
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / "s.png"))
        rc, err = _run(["explain", str(folder / "s.png"), "--text", "a", OUT, str(folder / "o")], capsys)
        check_one_line(rc, err, r"s\.png is not an image file: a socket, not a regular file")
        assert not (folder / "o").exists()
    finally:
        server.close()
        shutil.rmtree(folder)


MEMORY_CASES = {
    "/dev/zero as image": (lambda w: ["explain", "/dev/zero", "--text", "a", OUT, str(w.root / "o")],
                           r"/dev/zero is not an image file: a character device"),
    "/dev/zero as labels file": (lambda w: ["explain", w.good, "--labels-file", "/dev/zero", OUT, str(w.root / "o")],
                                 r"cannot read labels file /dev/zero: it is a character device"),
    "/dev/zero as sidecar": (lambda w: ["reproduce", "/dev/zero", "--check"],
                             r"cannot read sidecar /dev/zero: it is a character device"),
    "10000x1 image": (lambda w: ["explain", str(w.root / "wide.png"), "--text", "a", OUT, str(w.root / "o"), *RANDOM],
                      r"wide\.png is 10000×1 pixels, an aspect ratio of 10000:1, beyond the 20:1 .* crop it or pad it"),
    "1x10000 image": (lambda w: ["explain", str(w.root / "tall.png"), "--text", "a", OUT, str(w.root / "o"), *RANDOM],
                      r"tall\.png is 1×10000 pixels, an aspect ratio of 10000:1"),
    ".npy header claiming 40 GB": (lambda w: ["reproduce", huge_map_sidecar(w), "--check"],
                                   r"saved map .*huge\.npy: its header claims 100000x100000 = 10000000000 values, "
                                   r"above the 3072 limit"),
}


def refused_within_memory(cases: dict, case: str, w) -> float:
    """Runs one case in its own child: one line and nothing written. Returns its peak RSS in MB,
    measured from outside, for the caller's bound (refused before anything is allocated)."""
    make, pattern = cases[case]
    argv = make(w)
    before = snapshot(w.root)
    results = _child({case: argv}, memory=True)
    rc, err = results[case]
    assert rc != "hung", f"{case} hung: {err}"
    check_one_line(rc, err, pattern)
    assert snapshot(w.root) == before
    return results["peak_rss_mb"]


@pytest.mark.parametrize("case", list(MEMORY_CASES))
def test_memory_is_bounded(case, w):
    assert refused_within_memory(MEMORY_CASES, case, w) < PEAK_RSS_MB


# --- clean results: names that are not UTF-8 work, everywhere -------------------------------------------

def test_a_latin1_named_image_is_explained_and_reproduced(w, tmp_path, capsys):
    out = tmp_path / "o"
    rc, err = _run(["explain", w.latin, "--text", "a cat", OUT, str(out), *TINY, "--pretrained", w.vit], capsys)
    assert rc == 0 and "Traceback" not in err, err
    sidecar = next(out.glob("*itsm*.json"))
    meta = json.loads(sidecar.read_text(encoding="utf-8"))  # valid UTF-8 JSON: the name as a \udcXX escape
    assert meta["image"] == w.latin and os.fsencode(meta["image"]).endswith(b"caf\xe9.png")
    rc, err = _run(["reproduce", str(sidecar), "--check", "--device", "cpu"], capsys)
    assert rc == 0 and "Traceback" not in err, err


def test_a_prompt_with_bytes_that_are_not_utf8_works(w, tmp_path, capsys):
    out = tmp_path / "o"
    prompt = os.fsdecode(b"caf\xe9 au lait")
    rc, err = _run(["explain", w.good, "--text", prompt, OUT, str(out), *RANDOM], capsys)
    assert rc == 0 and "Traceback" not in err, err
    meta = json.loads(next(out.glob("*itsm*.json")).read_text(encoding="utf-8"))
    assert meta["text"] == prompt


def test_export_of_a_folder_with_a_latin1_name_writes_its_index_and_resumes(w, tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["export", "--images", str(w.latin_dir), "--text", "a cat", OUT, str(out), *RANDOM]
    rc, err = _run(argv, capsys)
    assert rc == 0 and "Traceback" not in err, err
    assert "caf\\xe9.png" in err and "\udce9" not in err  # the progress line shows the byte, escaped
    index = json.loads((out / "index.json").read_text(encoding="utf-8"))
    assert {r["image"] for r in index["rows"]} == {w.latin}
    (out / "index.csv").read_text(encoding="utf-8")  # valid UTF-8 too
    rc, err = _run(argv, capsys)
    assert rc == 0 and "0 maps written, 2 skipped" in err, err


# An ASCII locale with neither locale coercion nor UTF-8 mode: what a cron job or a bare container may run.
LANG_C = {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


@pytest.mark.parametrize("case", ["explain", "missing", "export"])
def test_latin1_names_under_lang_c(case, w, tmp_path):
    """The installed command itself, its real stdout and stderr, under LANG=C."""
    argv = {"explain": ["explain", w.latin, "--text", "a", OUT, str(tmp_path / "o"), *RANDOM],
            "missing": ["explain", _latin1(w.root, b"gone\xe9.png"), "--text", "a", OUT, str(tmp_path / "o")],
            "export": ["export", "--images", str(w.latin_dir), "--text", "a", OUT, str(tmp_path / "o"), *RANDOM]}[case]
    env = {**os.environ, "PYTHONPATH": str(REPO), **LANG_C}
    exe = Path(sys.executable).with_name("eclip-desktop")
    cmd = [str(exe), *argv] if exe.exists() else [sys.executable, "-m", "eclip_desktop", *argv]
    proc = subprocess.run([os.fsencode(a) for a in cmd], capture_output=True, env=env, timeout=300)
    err = proc.stderr.decode("utf-8", "backslashreplace")
    if case == "missing":
        check_one_line(proc.returncode, err, r"image not found: .*gone\\xe9\.png")
        return
    assert proc.returncode == 0 and "Traceback" not in err, err
    if case == "export":
        assert json.loads((tmp_path / "o" / "index.json").read_text(encoding="utf-8"))["rows"]


def test_byte_order_marks_are_not_part_of_labels_or_paths(w, tmp_path, capsys):
    out = tmp_path / "o"
    rc, err = _run(["export", "--images", str(w.root / "list-bom.txt"), "--labels-file",
                    str(w.root / "labels-bom.txt"), OUT, str(out), *RANDOM], capsys)
    assert rc == 0, err
    meta = json.loads(next(out.glob("*itsm*a-cat.json")).read_text())
    assert meta["labels"] == ["a cat", "a dog"] and meta["image"] == w.good


def test_a_list_entry_that_is_a_fifo_fails_its_rows_only(w, tmp_path):
    """Rows of a FIFO named in a list fail with the reason; the other image is exported."""
    out = tmp_path / "o"
    results = _child({"list": ["export", "--images", str(w.root / "list-with-fifo.txt"), "--text", "a", OUT,
                               str(out), *RANDOM]})
    rc, err = results["list"]
    assert rc == 1 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith(PREFIX) and "named pipe" in err.strip().splitlines()[-1]
    rows = json.loads((out / "index.json").read_text())["rows"]
    assert {r["status"] for r in rows if r["image"] == w.good} == {"ok"}
    assert all("named pipe" in r["error"] for r in rows if r["image"] != w.good)


# --- export resume and export feeding on itself ---------------------------------------------------------

def _export(folder: Path, out: Path, capsys, *extra) -> tuple[int, str]:
    return _run(["export", "--images", str(folder), "--text", "a cat", OUT, str(out), *RANDOM, *extra], capsys)


def _exported_once(w, tmp_path, capsys):
    """(input folder, export folder, the map's sidecar) after one complete export of one image."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(w.good, folder / "a.png")
    out = tmp_path / "o"
    assert _export(folder, out, capsys)[0] == 0
    return folder, out, out / "a__itsm__native__a-cat.json"


@pytest.mark.parametrize("damage, reason", [
    (lambda p: p.write_text(json.dumps(dict(json.loads(p.read_text()), image_size=7))), r"field 'image_size'"),
    (lambda p: p.write_text('{"image": ' + _deep(100000) + "}"), r"nests more than 32 levels"),
    (lambda p: p.write_text(json.dumps(dict(json.loads(p.read_text()), files=["x"]))), r"field 'files' is a list"),
])
def test_export_resume_names_a_damaged_sidecar_and_keeps_it(damage, reason, w, tmp_path, capsys):
    folder, out, sidecar = _exported_once(w, tmp_path, capsys)
    damage(sidecar)
    kept = sidecar.read_bytes()
    rc, err = _export(folder, out, capsys)
    last = err.strip().splitlines()[-1]
    assert rc == 1 and "Traceback" not in err and last.startswith(PREFIX) and re.search(reason, last), err
    assert sidecar.read_bytes() == kept  # named, never silently replaced
    rows = {r["name"]: r for r in json.loads((out / "index.json").read_text())["rows"]}
    assert rows["a__itsm__native__a-cat"]["status"] == "failed" and "--overwrite" in rows["a__itsm__native__a-cat"]["error"]
    assert rows["a__contribution__native"]["status"] == "skipped"
    rc, err = _export(folder, out, capsys, "--overwrite")
    assert rc == 0, err


def test_export_resume_does_not_hang_on_a_fifo_sidecar(w, tmp_path, capsys):
    folder, out, sidecar = _exported_once(w, tmp_path, capsys)
    sidecar.unlink()
    os.mkfifo(sidecar)
    rc, err = _child({"resume": ["export", "--images", str(folder), "--text", "a cat", OUT, str(out), *RANDOM]})["resume"]
    assert rc == 1 and "Traceback" not in err, err
    assert "named pipe" in err.strip().splitlines()[-1]


@pytest.mark.parametrize("where", ["same folder", "inside, with a recursive glob"])
def test_export_never_takes_its_own_outputs_as_inputs(where, w, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(w.good, folder / "a.png")
    shutil.copy(w.good, folder / "b.png")
    out, spec = (folder, str(folder / "*")) if where == "same folder" else (folder / "maps", str(folder / "**" / "*.png"))
    written = []
    for _ in range(3):
        rc, err = _run(["export", "--images", spec, "--text", "a cat", OUT, str(out), *RANDOM], capsys)
        assert rc == 0, err
        rows = json.loads((out / "index.json").read_text())["rows"]
        written.append(len(rows))
    assert written == [4, 4, 4]  # two images x (one map + its contribution), every run


# --- readers at the core: sessions, concept files, WordNet, images --------------------------------------

SESSION = {"format": "eclip-desktop-session", "version": 1}


@pytest.mark.parametrize("fields, named", [
    ({"images": 5}, "field 'images' is the number 5"),
    ({"layout": ["side"]}, "field 'layout' is a list"),
    ({"analysis": {"shown": "abc"}}, "field 'analysis.shown' is the string 'abc'"),
    ({"analysis": {"texts": ["a", 2]}}, "field 'analysis.texts[1]' is the number 2"),
    ({"display": {"opacity": float("nan")}}, "field 'display.opacity' is null"),
    ({"display": {"opacity": 1e400}}, "field 'display.opacity' is the number inf"),
    ({"display": ["dark"]}, "field 'display' is a list"),
    ({"model": ["RN50"]}, "field 'model' is a list"),
    ({"model": {"architecture": "RN50", "pretrained": ["x"]}}, "field 'model.pretrained' is a list"),
    ({"current": "first"}, "field 'current' is the string 'first'"),
    ({"images": ["~nosuchuser-eclip/a.png", {"path": 3}]}, "field 'images[1].path' is the number 3"),
    ({"images": ["~nosuchuser-eclip/a.png"]}, "1 image(s) of the session were not found"),
    ({"synset": {"a": 1}, "convis": "yes"}, "field 'synset' is an object; expected a string"),
    ({"convis": "yes"}, "field 'convis' is the string 'yes'; expected true or false"),
])
def test_a_session_of_the_wrong_shape_opens_with_a_warning_naming_the_field(fields, named, tmp_path):
    from eclip_desktop.viewer.session import load_session
    from eclip_desktop.viewer.state import DisplayState
    path = tmp_path / "s.eclip.json"
    path.write_text(json.dumps({**SESSION, **fields}).replace("Infinity", "1e400"))
    s = load_session(path)
    assert any(named in m for m in s.warnings), s.warnings
    d = s.display
    assert all(np.isfinite([d.opacity, d.percentile, d.fixed_level, d.threshold_percentile]))
    assert isinstance(s.layout, str) and isinstance(s.analysis.shown, int) and isinstance(s.images, list)
    assert s.display == DisplayState() or "display" not in fields


@pytest.mark.parametrize("make, message", [
    (lambda p: os.mkfifo(p), r"cannot read the session .*: it is a named pipe"),
    (lambda p: p.write_text('{"format": "eclip-desktop-session", "version": 1, "a": ' + _deep(100000) + "}"),
     r"nests more than 32 levels deep"),
    (lambda p: p.write_text("[]"), r"is not an eclip-desktop session"),
    (lambda p: p.write_text('{"format": "eclip-desktop-session", "version": true}'), r"no valid session version"),
    (lambda p: p.mkdir(), r"it is a directory"),
])
def test_a_session_that_is_not_one_is_refused_in_one_line(make, message, tmp_path):
    from eclip_desktop.viewer.session import SessionError, load_session
    path = tmp_path / "s.eclip.json"
    make(path)
    with pytest.raises(SessionError, match=message) as info:
        load_session(path)
    assert "\n" not in str(info.value)


def test_a_session_path_of_an_unknown_user_is_one_line():
    from eclip_desktop.viewer.session import SessionError, load_session
    with pytest.raises(SessionError, match="session file not found"):
        load_session("~nosuchuser-eclip/s.eclip.json")


def test_concept_files_fifo_bom_and_bytes(wn_env, tmp_path):
    from eclip_desktop.core.errors import ConceptError
    _, hierarchy = wn_env
    fifo = tmp_path / "set.txt"
    os.mkfifo(fifo)
    with pytest.raises(ConceptError, match="it is a named pipe"):
        hierarchy.concept_set_from_file(fifo)
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffdog\ncat\n".encode())
    cs = hierarchy.concept_set_from_file(bom)
    assert "dog.n.01" in cs and not cs.rejected
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9\n")
    with pytest.raises(ConceptError, match=r"not UTF-8 text \(byte 3\)"):
        hierarchy.concept_set_from_file(latin)


@pytest.mark.parametrize("cut", ["mid-line", "line boundary"])
def test_a_truncated_wordnet_file_names_the_file_and_the_fix(cut, tmp_path, monkeypatch):
    import nltk

    from eclip_desktop.core.errors import WordNetError
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy
    src = Path("/usr/share/wordnet")
    if not (src / "data.noun").is_file():
        pytest.skip("needs Debian's wordnet-base")
    data_dir = tmp_path / "nltk_data"
    copy = data_dir / "corpora" / "wordnet"  # nltk opens only files under its data path
    copy.mkdir(parents=True)
    monkeypatch.setattr(nltk.data, "path", [str(data_dir), *nltk.data.path])
    for f in ("data.noun", "index.noun", "index.sense", "noun.exc", "lexnames"):
        if (src / f).exists():
            (copy / f).symlink_to(src / f)
    data = (src / "data.noun").read_bytes()
    end = data.index(b"\n", 200_000) + (1 if cut == "line boundary" else -40)
    (copy / "data.noun").unlink()
    (copy / "data.noun").write_bytes(data[:end])
    with pytest.raises(WordNetError) as info:
        Hierarchy(cache_dir=tmp_path / "cache", wordnet_root=nltk.data.find("corpora/wordnet", paths=[str(data_dir)]))
    message = str(info.value)
    assert "\n" not in message and "reinstall WordNet 3.0" in message
    assert re.search(r"the WordNet file .*corpora/wordnet/data\.noun is damaged or truncated", message), message


def test_strips_up_to_20_to_1_load_and_beyond_are_refused(tmp_path):
    from eclip_desktop.core.errors import ImageLoadError
    from eclip_desktop.core.io.imageio import load_image
    Image.fromarray(np.zeros((1, 20, 3), np.uint8)).save(tmp_path / "ok.png")
    Image.fromarray(np.zeros((1, 21, 3), np.uint8)).save(tmp_path / "no.png")
    assert load_image(tmp_path / "ok.png").rgb.shape == (1, 20, 3)
    with pytest.raises(ImageLoadError, match="21:1, beyond the 20:1"):
        load_image(tmp_path / "no.png")


def test_only_raster_decoders_are_reachable():
    """Whatever a file is named, the decoders tried are the documented raster ones, all in Pillow."""
    from eclip_desktop.core.io.imageio import RASTER_FORMATS
    Image.init()
    assert set(RASTER_FORMATS) <= set(Image.OPEN)
    assert not {"EPS", "PDF", "WMF", "EMF"} & set(RASTER_FORMATS)


def test_shown_escapes_what_a_terminal_would_obey():
    from eclip_desktop.core.io.guards import shown
    assert shown("caf\u00e9 \u201cok\u201d") == "caf\u00e9 \u201cok\u201d"  # printable text unchanged
    assert shown(os.fsdecode(b"caf\xe9")) == "caf\\xe9"
    assert shown("a\x1b[2Jb\nc\x7f\u202e") == "a\\x1b[2Jb\\nc\\x7f\\u202e"


def test_json_nesting_is_bounded_in_linear_time(tmp_path):
    """Deep, shallow-but-over-the-limit and pathological texts (an unterminated string of escaped
    quotes made a bracket scanner quadratic) are all answered by the parser's own guards."""
    from eclip_desktop.core.errors import EclipError
    from eclip_desktop.core.io.guards import json_depth, read_json
    assert json_depth(json.loads('{"a": "[[[[", "b": [1, {"c": "]]"}]}')) == 3
    assert json_depth(json.loads(_deep(40)), stop=32) == 33
    for name, text in [("deep", _deep(5_000_000)), ("over", _deep(33)), ("escapes", '"a\\"' * 3_000_000),
                       ("quotes", '"' * 10_000_000)]:
        (tmp_path / name).write_text(text)
        with pytest.raises(EclipError, match="nests more than 32|not valid JSON"):
            read_json(tmp_path / name, EclipError)
    (tmp_path / "ok").write_text(_deep(32))
    assert read_json(tmp_path / "ok", EclipError) is not None


def test_the_tables_are_long_enough():
    assert len(CASES) + len(CHILD_CASES) + len(MEMORY_CASES) >= 45


def test_the_window_opens_a_session_of_the_wrong_shape_with_a_warning(qtbot, tmp_path):
    """The window's own loader, on the issue's session inputs: a warning naming the fields, the display
    controls live (an opacity of NaN once left them dead), and a FIFO refused in one line."""
    from PySide6.QtCore import QSettings

    from eclip_desktop.app.main_window import MainWindow
    from eclip_desktop.app.settings import AppSettings
    w = MainWindow(model=None, open_sample=False, restore_geometry=False,
                   settings=AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)))
    qtbot.addWidget(w)
    w.show()  # the banner reports its text only while shown
    try:
        path = tmp_path / "s.eclip.json"
        path.write_text(json.dumps({**SESSION, "images": 5, "layout": ["side"], "analysis": {"shown": "abc"},
                                    "display": {"opacity": float("nan"), "percentile": "x"}}))
        assert w.sessions.open_session(str(path))
        text = w.banner.text()
        assert "field 'images'" in text and "field 'display.opacity'" in text and "(and 2 more)" in text
        assert np.isfinite(w.display.opacity) and w.layout_name == "side"
        fifo = tmp_path / "fifo.eclip.json"
        os.mkfifo(fifo)
        assert not w.sessions.open_session(str(fifo))
        assert "named pipe" in w.banner.text()
    finally:
        w.close()


def test_a_fifo_where_a_scene_record_would_be_does_not_hang_explain(w, tmp_path):
    """The out-of-domain verdict reads `<stem>.json` beside the image (a Shapes World record): a FIFO
    there is not a record, and the map is made (with the embedded family, whose card is Shapes World)."""
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(w.good, folder / "p.png")
    os.mkfifo(folder / "p.json")
    out = tmp_path / "o"
    rc, err = _child({"explain": ["explain", str(folder / "p.png"), "--text", "a star", OUT, str(out),
                                  "--device", "cpu"]})["explain"]
    assert rc == 0 and "Traceback" not in err, err
    assert list(out.glob("p__*.json"))

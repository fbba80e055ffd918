"""Hostile inputs, round 2 continued (issue 26): sizes that come from files and arguments are checked
before memory is taken — a model card naming a huge architecture, a weights header claiming huge
tensors, labels x maps past --max-outputs, a concept file of 20,000 unknown words.

The harness is tests/test_hostile_inputs.py's: cases that allocated gigabytes or ran for hours before
the fix run in a child with an alarm and report their peak RSS (RUSAGE_CHILDREN)."""
import json
import os
import struct
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from eclip_desktop.cli import main
from tests.conftest import write_image
from tests.test_bad_inputs import RANDOM, TINY, check_one_line
from tests.test_hostile_inputs import PEAK_RSS_MB, _child, refused_within_memory

OUT = "--out"


def _sparse_safetensors(src: Path, target: Path, claim: int) -> None:
    """`src`'s tensors plus one whose header claims `claim` bytes, the file extended sparsely to match
    (valid by the format, no disk taken)."""
    with open(src, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        body = f.read()
    end = max(v["data_offsets"][1] for k, v in header.items() if k != "__metadata__")
    side = int((claim // 4) ** 0.5)
    header["extra.huge"] = {"dtype": "F32", "shape": [side, side], "data_offsets": [end, end + side * side * 4]}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(target, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body[:end])
        f.truncate(8 + len(text) + end + side * side * 4)


def _lying_torch_file(target: Path) -> None:
    """A torch.save zip whose pickle says its one storage holds 2.5e9 floats (10 GB); 16 bytes are stored."""
    torch.save({"w": torch.zeros(4)}, target)
    with zipfile.ZipFile(target) as z:
        records = {n: z.read(n) for n in z.namelist()}
    pkl = next(n for n in records if n.endswith("data.pkl"))
    data = records[pkl]
    i = data.index(b"K\x04t")  # the storage's element count, 4, as BININT1
    records[pkl] = data[:i] + b"\x8a\x05" + (2_500_000_000).to_bytes(5, "little") + data[i + 2:]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:
        for name, blob in records.items():
            z.writestr(name, blob)


@pytest.fixture(scope="module")
def w(tmp_path_factory):
    from safetensors.torch import save_file

    from eclip_desktop.core.model.loading import ModelSpec, load_model
    root = tmp_path_factory.mktemp("hostile3")
    good = write_image(root / "a.png", w=64, h=48, seed=1)
    state = load_model(ModelSpec("eclip-tiny-vit", "random", "cpu")).model.state_dict()
    vit = root / "vit.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(vit))
    big = root / "fam-big"
    big.mkdir()
    (big / "native.safetensors").symlink_to(vit)
    (big / "native.json").write_text(json.dumps({"format": "eclip-desktop-model-card", "version": 1,
                                                 "architecture": "ViT-bigG-14", "pooling": "native"}))
    _sparse_safetensors(vit, root / "sparse.safetensors", 10 << 30)
    _lying_torch_file(root / "lying.pt")
    _lying_torch_file(root / "lying.ckpt.pt")
    (root / "labels200k.txt").write_text("".join(f"thing {i}\n" for i in range(200_000)))
    (root / "labels3.txt").write_text("a cat\na dog\na bird\n")
    return SimpleNamespace(root=root, good=good, vit=str(vit))


MEMORY_CASES = {
    "card naming ViT-bigG-14 beside tiny weights": (
        lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), "--device", "cpu", "--model",
                   str(w.root / "fam-big")],
        r"native\.safetensors holds 13\.\d MB of tensors, too few for ViT-bigG-14 \(2\.54 G parameters need at "
        r"least 2\.\d+ GB\): the model card or --model names another architecture"),
    "safetensors header claiming 10 GB": (
        lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY, "--pretrained",
                   str(w.root / "sparse.safetensors")],
        r"sparse\.safetensors claims 10 GB of tensors in its header, more than eclip-tiny-vit \(3\.64 M parameters\) "
        r"can use \(at most \d+ MB\)"),
    "torch file whose storage claims 10 GB": (
        lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY, "--pretrained",
                   str(w.root / "lying.pt")], r"lying\.pt holds 16 bytes of tensors, too few for eclip-tiny-vit"),
    "training checkpoint whose storage claims 10 GB": (
        lambda w: ["explain", w.good, "--text", "a", OUT, str(w.root / "o"), *TINY, "--pretrained",
                   str(w.root / "lying.ckpt.pt")], r"lying\.ckpt\.pt holds 16 bytes of tensors"),
    "--init weights of /dev/zero": (
        lambda w: ["train", "--pooling", "native", "--model", "eclip-tiny-vit", "--steps", "1", "--device", "cpu",
                   "--init", "/dev/zero", OUT, str(w.root / "t")],
        r"cannot read --init weights /dev/zero: it is a character device, not a regular file"),
    "--init weights whose header claims 10 GB": (
        lambda w: ["train", "--pooling", "native", "--model", "eclip-tiny-vit", "--steps", "1", "--device", "cpu",
                   "--init", str(w.root / "sparse.safetensors"), OUT, str(w.root / "t")],
        r"sparse\.safetensors: claims 10 GB of tensors in its header, more than the model being trained"),
    "200,000 labels to explain": (
        lambda w: ["explain", w.good, "--labels-file", str(w.root / "labels200k.txt"), OUT, str(w.root / "o"),
                   *RANDOM],
        r"this request writes 200,001 maps \(600,003 files: 1 image\(s\) x \(200000 text\(s\) \+ a contribution map\) "
        r"x 1 pooling\(s\).*above the limit of 2,000 maps a run writes; pass --max-outputs 200001"),
    "200,000 labels to export": (
        lambda w: ["export", "--images", w.good, "--labels-file", str(w.root / "labels200k.txt"), OUT,
                   str(w.root / "o"), *RANDOM],
        r"this request writes 200,001 maps \(600,003 files: .*above the limit of 2,000 maps a run writes; "
        r"pass --max-outputs 200001"),
}


@pytest.mark.parametrize("case", list(MEMORY_CASES))
def test_sizes_from_files_are_refused_before_memory_is_taken(case, w):
    assert refused_within_memory(MEMORY_CASES, case, w) < PEAK_RSS_MB


def test_init_weights_that_are_a_fifo_are_refused_at_once(w):
    fifo = w.root / "init-fifo.safetensors"
    if not fifo.exists():
        os.mkfifo(fifo)
    argv = ["train", "--pooling", "native", "--model", "eclip-tiny-vit", "--steps", "1", "--device", "cpu", "--init",
            str(fifo), OUT, str(w.root / "t")]
    rc, err = _child({"fifo": argv})["fifo"]
    assert rc != "hung", err
    check_one_line(rc, err, r"cannot read --init weights .*init-fifo\.safetensors: it is a named pipe")


def _run(argv, capsys):
    capsys.readouterr()
    rc = main(argv)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("command", ["explain", "export"])
def test_max_outputs_counts_every_map_and_raises_the_limit(command, w, tmp_path, capsys):
    """1 image x (3 labels + its contribution map) = 4 maps: refused at 3, written at 4."""
    out = tmp_path / "o"
    images = [w.good] if command == "explain" else ["--images", w.good]
    argv = [command, *images, "--labels-file", str(w.root / "labels3.txt"), OUT, str(out), *RANDOM]
    rc, err = _run([*argv, "--max-outputs", "3"], capsys)
    check_one_line(rc, err, r"this request writes 4 maps \(12 files: .*above the limit of 3 maps .*--max-outputs 4")
    assert not out.exists()
    rc, err = _run([*argv, "--max-outputs", "4"], capsys)
    assert rc == 0, err
    assert len([p for p in out.glob("*.json") if p.name != "index.json"]) == 4


def test_max_outputs_of_zero_is_refused(w, tmp_path, capsys):
    rc, err = _run(["explain", w.good, "--text", "a", OUT, str(tmp_path / "o"), *RANDOM, "--max-outputs", "0"], capsys)
    check_one_line(rc, err, r"--max-outputs must be 1 or more, got 0")


def test_an_architecture_larger_than_the_memory_left_is_refused_before_it_is_built():
    from eclip_desktop.core.errors import ModelError
    from eclip_desktop.core.model.sizes import check_model_sizes
    with pytest.raises(ModelError, match=r"building ViT-bigG-14 \(2\.54 G parameters as float32\) needs 9\.\d+ GB of "
                                         r"memory; only 1 GB is available to this process"):
        check_model_sizes("ViT-bigG-14", None, memory=lambda: 1 << 30)
    check_model_sizes("ViT-bigG-14", None, memory=lambda: 64 << 30)  # a machine that has it


def test_weights_that_fit_their_architecture_pass_the_size_check(w):
    from eclip_desktop.core.model.sizes import architecture_parameters, check_model_sizes, stored_tensor_bytes
    assert stored_tensor_bytes(w.vit) == architecture_parameters("eclip-tiny-vit") * 4
    check_model_sizes("eclip-tiny-vit", w.vit, memory=lambda: 1 << 30)
    torch.save({"w": torch.zeros(4)}, w.root / "plain.pt")
    assert stored_tensor_bytes(w.root / "plain.pt") == 16


def test_a_checkpoint_larger_than_memory_is_not_read_whole(w):
    from eclip_desktop.core.model.sizes import check_file_fits
    with pytest.raises(ValueError, match=r"its header states 13\.\d MB of tensors, more than the 1 MB"):
        check_file_fits(w.vit, ValueError, memory=lambda: 1 << 20)


def test_a_concept_file_of_20000_unknown_words_looks_up_few_suggestions(wn_env, tmp_path, monkeypatch):
    """Each unknown word's look-alikes cost ~0.3 s (20,000 lines took ~100 min): only the first lines
    a reader sees get them; every line is still reported."""
    _, hierarchy = wn_env
    calls = []
    real = type(hierarchy).suggest
    monkeypatch.setattr(type(hierarchy), "suggest", lambda self, text, n=5: calls.append(text) or real(self, text, n))
    path = tmp_path / "set.txt"
    path.write_text("dog\n" + "".join(f"zzqx{i}word\n" for i in range(20_000)))
    cs = hierarchy.concept_set_from_file(path)
    assert "dog.n.01" in cs and len(cs.rejected) == 20_000
    assert len(calls) <= 10
    assert "Did you mean" in cs.rejected[0][2] or cs.rejected[0][2].endswith("is not a WordNet noun.")
    assert cs.rejected[-1][2] == "'zzqx19999word' is not a WordNet noun."


def test_the_cli_summarises_thousands_of_rejected_concept_lines(wn_env, tmp_path, capsys, monkeypatch):
    from eclip_desktop.cli.common import load_concept_set
    _, hierarchy = wn_env
    path = tmp_path / "set.txt"
    path.write_text("dog\n" + "".join(f"zzqx{i}word\n" for i in range(500)))
    load_concept_set(hierarchy, str(path))
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 11 and "490 more line(s) skipped (500 of the file's lines" in lines[-1]


@pytest.mark.parametrize("make, kind", [(lambda p: os.mkfifo(p), "a named pipe"),
                                        (lambda p: p.mkdir(), "a directory")])
def test_a_concept_set_that_is_not_a_regular_file_says_what_it_is(make, kind, tmp_path):
    from eclip_desktop.core.convis.sets import concept_set_by_name
    from eclip_desktop.core.errors import ConceptError
    path = tmp_path / "set.txt"
    make(path)
    with pytest.raises(ConceptError, match=f"--concept-set .*set\\.txt: it is {kind}"):
        concept_set_by_name(None, str(path))
    with pytest.raises(ConceptError, match="--concept-set /dev/zero: it is a character device"):
        concept_set_by_name(None, "/dev/zero")

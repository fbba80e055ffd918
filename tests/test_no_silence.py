"""No silence, no leftovers: first-run builds announced with a count, no empty --out folder when the
model fails to load, messages never cut inside a token."""
import json
from pathlib import Path

import pytest

from eclip_desktop.cli import main
from eclip_desktop.core.io.shorten import shorten
from eclip_desktop.core.model.loading import load_failure
from tests.conftest import write_image

SYSTEM = Path("/usr/share/wordnet")
TINY = ["--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu"]


def test_shorten_cuts_at_a_word_boundary():
    assert shorten("a b c", 10) == "a b c"
    assert shorten("a param with shape 768 by 512 from checkpoint", 25) == "a param with shape 768 by\u2026"
    assert shorten("x" * 50 + " tail", 10) == "x" * 50 + "\u2026"


def test_the_architecture_mismatch_message_keeps_whole_shapes():
    exc = RuntimeError("Error(s) in loading state_dict for CLIP:\n\tsize mismatch for visual.proj: copying a param "
                       "with shape torch.Size([768, 512]) from checkpoint, the shape in current model is "
                       "torch.Size([384, 256]).")
    text, mismatch = load_failure(exc)
    assert mismatch and "torch.Size([768, 512])" in text and "torch.Size([384, 256])" in text


@pytest.mark.parametrize("command", [
    ["explain", "IMG", "--text", "a circle"],
    ["export", "--images", "IMG", "--text", "a circle"],
])
def test_no_out_folder_is_left_when_the_model_fails_to_load(tmp_path, capsys, command):
    img = write_image(tmp_path / "a.png")
    out = tmp_path / "new" / "out"
    argv = [img if a == "IMG" else a for a in command]
    rc = main([*argv, "--out", str(out), "--model", "eclip-tiny-vit", "--pretrained",
               str(tmp_path / "missing.safetensors"), "--device", "cpu"])
    assert rc == 1 and "error" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(not (SYSTEM / "data.noun").is_file(), reason="needs Debian's wordnet-base")
def test_a_first_run_says_what_it_builds_without_v(wn_env, monkeypatch, tmp_path, capsys):
    base, _ = wn_env
    monkeypatch.setenv("ECLIP_DESKTOP_DATA", str(base / "data"))
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(base / "cache"))
    img = write_image(tmp_path / "a.png")
    out = tmp_path / "made" / "out"
    # A random model's gloss bank is never in the cache: this run builds it.
    assert main(["concepts", img, "--synset", "circle", "--concept-set", "shapes", "--out", str(out), *TINY]) == 0
    err = capsys.readouterr().err
    assert "building the gloss bank" in err and "20 glosses" in err and "glosses: 20/20" in err
    assert "windows:" not in err  # per-window counts only with -v
    assert json.loads(next(out.glob("*.json")).read_text())["synset"] == "circle.n.01"
    bad = tmp_path / "made2" / "out"
    assert main(["concepts", img, "--synset", "circle", "--concept-set", "shapes", "--out", str(bad),
                 "--model", "eclip-tiny-vit", "--pretrained", str(tmp_path / "nope.pt"), "--device", "cpu"]) == 1
    assert not (tmp_path / "made2").exists()

"""Issue 17: CLIP Surgery for a single text with the prompt ensemble subtracts the ensembled empty
string, as the authors' code does; the rule is recorded in the sidecar and honoured by reproduce."""
import json

import numpy as np
import pytest
import torch
from conftest import write_image

from eclip_desktop.cli import main
from eclip_desktop.core.explain.methods import MethodInput, surgery
from eclip_desktop.core.export.reproduce import reproduce_map
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.model.text import ensemble_prompts


def _ensembled(handle, text):
    """The ensemble written out independently of TextBank: normalised mean of normalised prompts."""
    with torch.no_grad():
        emb = handle.model.encode_text(handle.tokenizer(ensemble_prompts(text)))
    return torch.nn.functional.normalize(torch.nn.functional.normalize(emb, dim=-1).mean(0), dim=-1)


def _cos(tokens, g):
    return torch.nn.functional.normalize(tokens, dim=-1) @ g


def test_single_text_ensemble_subtracts_the_ensembled_empty_text(tiny_engine, photo):
    a = tiny_engine.analyse([load_image(photo)])[0]
    h = tiny_engine.handle
    text = tiny_engine.texts.encode(["a dog"], ensemble=True)
    g, e = _ensembled(h, "a dog"), _ensembled(h, "")
    assert torch.allclose(text[0], g, atol=1e-5)
    tokens = a.surgery_tokens()
    expected = _cos(tokens, g) - _cos(tokens, e)
    got = surgery.scores(MethodInput(a, text, tiny_engine.texts, ensemble=True, n_texts=len(text)))[0]
    assert torch.allclose(got, expected, atol=1e-5)
    # The former rule stays available and really is a different map.
    plain_empty = torch.nn.functional.normalize(h.model.encode_text(h.tokenizer([""])), dim=-1)[0]
    plain = surgery.scores(MethodInput(a, text, tiny_engine.texts, ensemble=True, n_texts=len(text)), empty_text="plain")[0]
    assert torch.allclose(plain, _cos(tokens, g) - _cos(tokens, plain_empty.detach()), atol=1e-5)
    assert (plain - got).abs().max() > 1e-3
    # Without the ensemble both rules subtract the plain empty string.
    one = tiny_engine.texts.encode(["a dog"])
    assert torch.allclose(surgery.scores(MethodInput(a, one, tiny_engine.texts, n_texts=len(one))),
                          surgery.scores(MethodInput(a, one, tiny_engine.texts, n_texts=len(one)), empty_text="plain"))
    with pytest.raises(ValueError, match="empty-text rule"):
        surgery.scores(MethodInput(a, text, tiny_engine.texts, ensemble=True, n_texts=len(text)), empty_text="bogus")


def test_engine_records_which_empty_text_was_subtracted(tiny_engine, photo):
    img = load_image(photo)
    exp = tiny_engine.explain(img, ["a dog"], method="surgery", ensemble=True)
    assert exp.heatmaps[0].meta == {"surgery_empty_text": "ensemble"}
    exp = tiny_engine.explain(img, ["a dog"], method="surgery", ensemble=True, method_options={"empty_text": "plain"})
    assert exp.heatmaps[0].meta == {"surgery_empty_text": "plain"}
    exp = tiny_engine.explain(img, ["a dog", "a cat"], method="surgery", ensemble=True)
    assert exp.heatmaps[0].meta == {"surgery_empty_text": None}  # a label set subtracts no empty text
    assert tiny_engine.explain(img, ["a dog"], method="itsm", ensemble=True).heatmaps[0].meta == {}


@pytest.mark.parametrize("rule", ["matched", "plain"])
def test_sidecar_records_the_rule_and_reproduce_honours_it(saved_tiny, tmp_path, capsys, rule):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    out = tmp_path / "out"
    rc = main(["explain", img, "--text", "a dog", "--method", "surgery", "--ensemble",
               "--surgery-empty-text", rule, "--out", str(out),
               "--model", "eclip-tiny-vit", "--pretrained", saved_tiny, "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    sidecar = out / "photo__surgery__native__a-dog.json"
    meta = json.loads(sidecar.read_text())
    assert meta["method_options"]["empty_text"] == rule
    assert meta["surgery_empty_text"] == ("ensemble" if rule == "matched" else "plain")
    saved = np.load(sidecar.with_suffix(".npy"))
    assert np.abs(reproduce_map(sidecar) - saved).max() < 1e-5
    # A sidecar from before the rule was recorded was made with the plain empty string.
    del meta["method_options"]["empty_text"], meta["surgery_empty_text"]
    sidecar.write_text(json.dumps(meta))
    diff = np.abs(reproduce_map(sidecar) - saved).max()
    assert diff < 1e-5 if rule == "plain" else diff > 1e-3


def test_unknown_rule_is_refused_by_the_cli(tmp_path, capsys):
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    with pytest.raises(SystemExit):
        main(["explain", img, "--text", "a dog", "--method", "surgery", "--surgery-empty-text", "none",
              "--out", str(tmp_path / "o"), "--model", "eclip-tiny-vit", "--pretrained", "random"])
    assert "--surgery-empty-text" in capsys.readouterr().err

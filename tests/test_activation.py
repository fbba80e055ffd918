"""Issue 17: OpenAI's CLIP weights need QuickGELU; every loading path picks the activation it can
justify, and says so when a weights file cannot tell. Random weights only, no network."""
import json
import warnings

import open_clip
import pytest
import torch
from safetensors.torch import save_file

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.model import activation as act
from eclip_desktop.core.model.loading import ModelSpec, load_model, register_project_configs

TINY = "eclip-tiny-vit"


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return load_model(ModelSpec(TINY, "random", "cpu"))


def _state_file(handle, path, metadata=None):
    save_file({k: v.contiguous() for k, v in handle.model.state_dict().items()}, str(path), metadata=metadata)
    return str(path)


def _same_weights(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_random_and_config_paths(tiny):
    assert act.built_activation(tiny.model) == "gelu"
    assert tiny.describe()["activation"] == "gelu" and tiny.describe()["activation_note"] is None
    q = load_model(ModelSpec("ViT-B-16-quickgelu", "random", "cpu"))
    assert act.built_activation(q.model) == "quick_gelu"
    assert q.describe()["activation_source"] == "ViT-B-16-quickgelu config"


def test_tags_follow_open_clip():
    register_project_configs()
    openai = open_clip.get_pretrained_cfg("ViT-B-16", "openai")
    assert act.decide("ViT-B-16", tag_cfg=openai, tag="openai").name == "quick_gelu"
    laion = open_clip.get_pretrained_cfg("ViT-B-16", "laion2b_s34b_b88k")
    assert act.decide("ViT-B-16", tag_cfg=laion, tag="laion2b_s34b_b88k").name == "gelu"
    assert act.decide("RN50", tag_cfg=open_clip.get_pretrained_cfg("RN50", "openai")).name == "quick_gelu"


def test_openai_torchscript_archive_loads_with_quickgelu(tiny, tmp_path):
    img = torch.randn(1, 3, tiny.image_size, tiny.image_size)
    with warnings.catch_warnings():  # tracing warns about torch.jit's future and data-dependent branches
        warnings.simplefilter("ignore")
        traced = torch.jit.trace_module(tiny.model, {"encode_image": (img,)}, check_trace=False)
    path = tmp_path / "ViT-tiny.pt"
    traced.save(str(path))
    assert act.is_torchscript_archive(path)
    h = load_model(ModelSpec(TINY, str(path), "cpu"))
    assert act.built_activation(h.model) == "quick_gelu"
    info = h.describe()
    assert info["activation"] == "quick_gelu" and info["activation_source"] == "OpenAI TorchScript archive"
    assert info["activation_note"] is None
    assert _same_weights(h, tiny)
    assert h.identity.endswith("+quick_gelu")  # caches of GELU runs of the same file are not reused


def test_plain_state_dict_says_it_cannot_tell(tiny, tmp_path):
    path = _state_file(tiny, tmp_path / "weights.safetensors")
    assert not act.is_torchscript_archive(path)
    h = load_model(ModelSpec(TINY, path, "cpu"))
    assert act.built_activation(h.model) == "gelu" and _same_weights(h, tiny)
    note = h.describe()["activation_note"]
    assert h.activation.certain is False
    assert note.startswith("activation GELU") and "--activation quick_gelu" in note
    # Where open_clip has a -quickgelu config, the note names it.
    register_project_configs()
    note = act.decide("ViT-B-16", checkpoint=path).note
    assert "--model ViT-B-16-quickgelu" in note and "cannot tell" in note
    # Asking for the other activation builds it, with the same weights.
    q = load_model(ModelSpec(TINY, path, "cpu", activation="quick_gelu"))
    assert act.built_activation(q.model) == "quick_gelu" and _same_weights(q, tiny)
    assert q.describe()["activation_source"] == "requested" and q.identity != h.identity


def test_metadata_config_and_path_that_say_openai(tiny, tmp_path):
    meta = _state_file(tiny, tmp_path / "m.safetensors", metadata={"source": "OpenAI CLIP"})
    assert load_model(ModelSpec(TINY, meta, "cpu")).activation.name == "quick_gelu"
    snap = tmp_path / "snapshot"
    snap.mkdir()
    weights = _state_file(tiny, snap / "open_clip_model.safetensors")
    (snap / "open_clip_config.json").write_text(json.dumps({"model_cfg": {"quick_gelu": True}}))
    h = load_model(ModelSpec(TINY, weights, "cpu"))
    assert h.activation.name == "quick_gelu" and h.activation.certain
    assert act.built_activation(h.model) == "quick_gelu"
    named = _state_file(tiny, tmp_path / "tiny-openai.safetensors")
    h = load_model(ModelSpec(TINY, named, "cpu"))
    assert h.activation.name == "quick_gelu" and not h.activation.certain
    assert "--activation gelu" in h.describe()["activation_note"]
    assert act.built_activation(load_model(ModelSpec(TINY, named, "cpu", activation="gelu")).model) == "gelu"


def test_eclip_desktop_weights_are_known(tiny, tmp_path):
    # The files `train` writes (the embedded family): metadata, and a model card beside them.
    path = _state_file(tiny, tmp_path / "native.safetensors", metadata={"architecture": TINY, "pooling": "native"})
    h = load_model(ModelSpec(TINY, path, "cpu"))
    assert h.activation.certain and h.activation.name == "gelu" and h.describe()["activation_note"] is None
    path = _state_file(tiny, tmp_path / "max.safetensors")
    (tmp_path / "max.json").write_text(json.dumps({"eclip_desktop": "1", "model_config": {"quick_gelu": True}}))
    assert load_model(ModelSpec(TINY, path, "cpu")).activation.name == "quick_gelu"


def test_training_checkpoint_keeps_the_config(tiny, tmp_path):
    from eclip_desktop.core.model.checkpoint import write_checkpoint
    path = tmp_path / "run.ckpt.pt"
    write_checkpoint(path, {"model": tiny.model.state_dict(), "optimizer": {}})
    h = load_model(ModelSpec(TINY, str(path), "cpu"))
    assert h.activation.name == "gelu" and h.activation.certain and "training checkpoint" in h.activation.source


def test_unknown_activation_is_one_clear_error():
    with pytest.raises(ModelError, match="unknown activation 'relu'"):
        load_model(ModelSpec(TINY, "random", "cpu", activation="relu"))


def test_sidecar_records_the_activation_and_reproduce_uses_it(tiny, tmp_path, capsys):
    import numpy as np
    from conftest import write_image

    from eclip_desktop.cli import main
    from eclip_desktop.core.export.reproduce import reproduce_map
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    weights = _state_file(tiny, tmp_path / "tiny-openai.safetensors")  # the path says openai: QuickGELU
    out = tmp_path / "out"
    assert main(["explain", img, "--text", "a dog", "--out", str(out), "--model", TINY,
                 "--pretrained", weights, "--device", "cpu"]) == 0, capsys.readouterr().err
    sidecar = out / "photo__itsm__native__a-dog.json"
    meta = json.loads(sidecar.read_text())
    assert meta["activation"] == "quick_gelu" and "names openai" in meta["activation_source"]
    assert "--activation gelu" in meta["activation_note"]
    saved = np.load(sidecar.with_suffix(".npy"))
    assert np.abs(reproduce_map(sidecar) - saved).max() < 1e-5
    # A sidecar written before activations were recorded was made with the config's (GELU here):
    # reproduce must use that, not today's detection.
    for key in ("activation", "activation_source", "activation_note"):
        del meta[key]
    sidecar.write_text(json.dumps(meta))
    assert np.abs(reproduce_map(sidecar) - saved).max() > 1e-4
    gelu = load_model(ModelSpec(TINY, weights, "cpu", activation="gelu"))
    assert act.built_activation(gelu.model) == "gelu"


def test_cli_says_which_activation_and_takes_the_other(tiny, tmp_path, capsys):
    from conftest import write_image

    from eclip_desktop.cli import main
    img = write_image(tmp_path / "photo.png", w=64, h=48)
    weights = _state_file(tiny, tmp_path / "weights.safetensors")
    assert main(["explain", img, "--text", "a dog", "--out", str(tmp_path / "a"), "--model", TINY,
                 "--pretrained", weights, "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    notes = [ln for ln in err.splitlines() if "note: activation" in ln]
    assert len(notes) == 1 and "GELU" in notes[0] and "--activation quick_gelu" in notes[0]
    assert main(["explain", img, "--text", "a dog", "--out", str(tmp_path / "b"), "--model", TINY,
                 "--pretrained", weights, "--device", "cpu", "--activation", "quick_gelu"]) == 0
    assert "note: activation" not in capsys.readouterr().err
    meta = json.loads((tmp_path / "b" / "photo__itsm__native__a-dog.json").read_text())
    assert (meta["activation"], meta["activation_source"]) == ("quick_gelu", "requested")

"""A method is one declared unit: a module registered in a test shows up in the CLI, sidecars,
reproduce and the window without any other edit; options are checked against the declaration."""
import json
import sys
import types

import pytest
import torch
from test_app import make_window, no_dangling_threads_or_timers, settings  # noqa: F401

from eclip_desktop.cli import build_parser, main
from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.explain.methods import METHODS, Method, MethodInput, Option, register, unregister
from eclip_desktop.core.export.reproduce import reproduce_check, validate_sidecar

MODULE = "eclip_tests.planted_method"  # dotted: a module outside core/explain/methods


def _planted_scores(job: MethodInput, gain: int = 2, flip: bool = False, **_):
    """ITSM scaled by gain (negated with flip): a method whose options visibly change the map."""
    tokens = torch.nn.functional.normalize(job.analysis.tokens, dim=-1)
    raw = (tokens @ job.texts.T).T * gain
    return -raw if flip else raw


PLANTED = Method("planted", "Planted", "a test method", module=MODULE, options=(
    Option("gain", int, 2, "gain", "how much to scale the map", minimum=1, maximum=9),
    Option("flip", bool, False, "flipped", "negate the map"),
))


@pytest.fixture
def planted():
    sys.modules[MODULE] = types.SimpleNamespace(scores=_planted_scores)
    register(PLANTED)
    yield PLANTED
    unregister("planted")
    del sys.modules[MODULE]


def test_registered_method_reaches_the_cli_help_and_choices(planted, capsys):
    for command in ("explain", "export"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        out = capsys.readouterr().out
        assert "--planted-gain" in out and "--planted-flip" in out and "planted" in out
    args = build_parser().parse_args(["explain", "x.png", "--text", "a", "--method", "planted",
                                      "--planted-gain", "5", "--planted-flip", "--out", "o"])
    assert PLANTED.from_args(args) == {"gain": 5, "flip": True}


def test_registered_method_maps_sidecar_and_reproduce(planted, tmp_path, photo, saved_tiny, capsys):
    out = tmp_path / "out"
    rc = main(["explain", photo, "--text", "a cat", "--method", "planted", "--planted-gain", "3",
               "--model", "eclip-tiny-vit", "--pretrained", saved_tiny, "--device", "cpu", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    sidecar = next(p for p in out.glob("*.json") if "planted" in p.name)
    meta = json.loads(sidecar.read_text())
    assert meta["method"] == "planted" and meta["method_options"] == {"gain": 3, "flip": False}
    _, diff, _ = reproduce_check(sidecar)
    assert diff <= 1e-5
    # reproduce checks every option against the declaration
    for bad, why in (({"gain": 30}, "at most 9"), ({"gain": "3"}, "whole number"), ({"strength": 1}, "no option strength"),
                     ({"flip": 1}, "true or false")):
        with pytest.raises(EclipError, match=why):
            validate_sidecar({**meta, "method_options": bad}, sidecar)


def test_bad_option_value_is_one_line(planted, tmp_path, photo, capsys):
    rc = main(["explain", photo, "--text", "a cat", "--method", "planted", "--planted-gain", "0",
               "--model", "eclip-tiny-vit", "--pretrained", "random", "--device", "cpu", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 1 and "--planted-gain" in err and "at least 1" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_registered_method_reaches_the_window(planted, qtbot, make_window):
    w = make_window()
    combo = w.controls.method
    assert combo.findData("planted") >= 0
    # the Method menu has it too, and choosing it there is choosing it under Controls
    w.method_actions["planted"].trigger()
    assert combo.currentData() == "planted" and w.analysis.method == "planted"
    combo.setCurrentIndex(combo.findData("itsm"))
    assert w.method_actions["itsm"].isChecked() and not w.method_actions["planted"].isChecked()
    box = w.controls.method_options.boxes["planted"]
    gain = w.controls.method_options.controls["planted"]["gain"]
    combo.setCurrentIndex(combo.findData("planted"))
    assert box.isVisibleTo(w.controls) and not w.controls.method_options.boxes["surgery"].isVisibleTo(w.controls)
    gain.setValue(4)
    assert w.analysis.method_options("planted") == {"gain": 4, "flip": False}
    qtbot.waitUntil(lambda: ("planted", w.analysis.pooling) in w.maps, timeout=20_000)
    ms = w.maps[("planted", w.analysis.pooling)]
    assert ms.method_options == {"gain": 4, "flip": False}
    # the methods grid has a tile for it, captioned with its options
    w.layout_actions["methods"].trigger()
    qtbot.waitUntil(lambda: not w.compute.is_busy() and not w.map_controller.waiting(), timeout=20_000)
    shown = [t for t in w.views.grid.tiles if t.isVisibleTo(w.views.grid)]
    planted_tile = next(t for t in shown if t.title.toolTip().startswith("Planted"))
    assert "gain 4" in planted_tile.caption.text()


def test_option_declarations_check_values():
    o = Option("n", int, 10, "masks", "how many", minimum=1, maximum=100)
    assert o.check(5) == 5
    for bad in (0, 101, 2.5, True, "5"):
        with pytest.raises(ValueError):
            o.check(bad)
    f = Option("p", float, 0.5, "keep", "probability", minimum=0.0, maximum=1.0)
    assert f.check(1) == 1.0
    with pytest.raises(ValueError):
        f.check(float("nan"))
    with pytest.raises(ValueError):  # a default outside its own range is a declaration error
        Option("q", int, 0, "q", "q", minimum=1)
    with pytest.raises(ValueError):
        Method("dup", "Dup", "d", module="itsm", options=(o, o))
    with pytest.raises(ValueError):
        Method("bad", "Bad", "d", module="itsm", needs="magic")


def test_surgery_keeps_its_public_flags_and_keys():
    s = METHODS["surgery"]
    assert [o.cli_flag("surgery") for o in s.options] == ["--no-vv", "--no-feature-surgery", "--surgery-empty-text"]
    assert s.defaults() == {"vv": True, "feature": True, "empty_text": "matched"}
    args = build_parser().parse_args(["explain", "x.png", "--text", "a", "--no-vv", "--out", "o"])
    assert s.from_args(args) == {"vv": False, "feature": True, "empty_text": "matched"}
    # an old sidecar without the empty-text rule was made with the plain empty string
    assert s.resolve({"vv": True}, legacy={"method": "surgery"})["empty_text"] == "plain"
    assert s.resolve({}, legacy={"surgery_empty_text": "ensemble"})["empty_text"] == "matched"

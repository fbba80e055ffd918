"""The map controller without Qt: which maps a change needs, which results are stale, the debounce."""
from __future__ import annotations

import numpy as np

from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.viewer.controller import MapController
from eclip_desktop.viewer.jobs.compute import MapResult
from eclip_desktop.viewer.layouts import LAYOUTS, REGISTRY, get_layout, needed_pairs
from eclip_desktop.viewer.scene import Scene, scene_key
from eclip_desktop.viewer.state import AnalysisState, DisplayState, ModelChoice

MODEL = ModelChoice("eclip-tiny-vit", "random", "cpu")


class FakeTimer:
    """Stands in for the window's QTimer: records what the controller asked for."""

    def __init__(self):
        self.started: list[int] = []
        self.stopped = 0

    def start(self, msec: int) -> None:
        self.started.append(msec)

    def stop(self) -> None:
        self.stopped += 1

    def isActive(self) -> bool:
        return len(self.started) > self.stopped


def result_for(req, pairs=None, refused=None) -> MapResult:
    maps = {p: object() for p in (pairs if pairs is not None else req.pairs)}
    return MapResult(req, None, maps=maps, refused=refused or {}, model=req.model)


def test_a_layout_asks_only_for_what_the_cache_lacks():
    c = MapController(FakeTimer())
    a = AnalysisState()
    req = c.plan("a.png", MODEL, a, "side")
    assert req.pairs == (("itsm", "native"),)
    assert c.accept(result_for(req))
    assert c.plan("a.png", MODEL, a, "side").pairs == ()  # the switch back costs nothing
    grid = c.plan("a.png", MODEL, a, "poolings")
    assert grid.pairs == tuple(("itsm", p) for p in pooling_names() if p != "native")


def test_a_new_context_empties_the_cache_and_a_stale_result_is_dropped():
    c = MapController(FakeTimer())
    told = []
    c.changed.connect(lambda: told.append(c.cache.version))
    a = AnalysisState()
    old = c.plan("a.png", MODEL, a, "side")
    a.texts = ["a photo of a star."]
    new = c.plan("a.png", MODEL, a, "side")  # another prompt: another context
    assert not c.accept(result_for(old)), "maps of the old prompts must never land under the new ones"
    assert c.cache.maps == {}
    assert c.accept(result_for(new))
    assert list(c.cache.maps) == [("itsm", "native")]
    assert told == sorted(told) and len(told) == 3  # two new contexts, one accepted result
    c.plan("b.png", MODEL, a, "side")
    assert c.cache.maps == {}


def test_refused_pairs_are_not_asked_again():
    c = MapController(FakeTimer())
    a = AnalysisState(method="rollout")
    req = c.plan("a.png", MODEL, a, "side")
    c.accept(result_for(req, pairs=[], refused={("rollout", "native"): "needs attention"}))
    assert c.plan("a.png", MODEL, a, "side").pairs == ()
    assert c.cache.refused == {("rollout", "native"): "needs attention"}


def test_nothing_is_asked_without_a_model_or_prompts():
    c = MapController(FakeTimer())
    assert c.plan("a.png", None, AnalysisState(), "side").pairs == ()
    assert c.plan("a.png", MODEL, AnalysisState(texts=[]), "poolings").pairs == ()


def test_requests_go_through_one_timer_and_the_result_reports_the_model_that_ran():
    timer = FakeTimer()
    c = MapController(timer)
    c.request(250)
    assert c.waiting()
    c.request(0)
    c.stop()
    assert timer.started == [250, 0] and timer.stopped == 1
    req = c.plan("a.png", MODEL, AnalysisState(), "side")
    on_cpu = ModelChoice("eclip-tiny-vit", "random", "cpu", "fp32")
    assert c.accept(result_for(req), on_cpu)
    # What ran is what is on screen now: a plan for it finds its maps.
    assert c.plan("a.png", on_cpu, AnalysisState(), "side").pairs == ()


def test_every_layout_is_in_the_registry_with_its_words_and_pairs():
    assert list(LAYOUTS) == ["side", "poolings", "prompts", "methods", "compare"]
    a = AnalysisState(method="gradcam", pooling="max")
    for key, layout in REGISTRY.items():
        pairs = needed_pairs(key, a, MODEL)
        assert pairs and all(len(p) == 2 for p in pairs)
        assert layout.label and layout.short
        assert (layout.tiles is None) == (key == "side")
    assert ("gradcam", "max") in needed_pairs("side", a, MODEL)
    assert {m for m, _ in needed_pairs("methods", a, MODEL)} >= {"itsm", "gradcam", "rise"}
    try:
        get_layout("nope")
    except KeyError as exc:
        assert "side" in str(exc)
    else:
        raise AssertionError("an unknown layout must be refused")


def test_scene_key_changes_with_what_a_render_draws_and_only_then():
    a, d = AnalysisState(), DisplayState()
    values = np.zeros((2, 2), np.float32)
    maps = {("itsm", "native"): values}
    one = Scene(None, maps, a, d, MODEL, "computing")
    assert scene_key(one) == scene_key(Scene(None, dict(maps), AnalysisState(), DisplayState(), MODEL, "computing"))
    assert scene_key(one) != scene_key(Scene(None, {("itsm", "native"): values.copy()}, a, d, MODEL, "computing"))
    assert scene_key(one) != scene_key(Scene(None, maps, AnalysisState(pooling="avg"), d, MODEL, "computing"))
    assert scene_key(one) != scene_key(Scene(None, maps, a, d, MODEL, "loading"))


def test_the_pooling_grid_header_names_a_family_while_it_loads():
    from eclip_desktop.core.model.family import FAMILY, family_available
    assert family_available(), "the embedded family ships with the package"
    family = ModelChoice(FAMILY)
    header, tiles, _ = get_layout("poolings").tiles(
        Scene(None, {}, AnalysisState(), DisplayState(), None, "loading", pending=family))
    assert "One model per pooling" in header and "the same under every pooling" not in header
    assert len(tiles) == len(family.poolings())


def test_the_reading_guide_says_what_kind_of_map_and_scale_is_shown():
    from eclip_desktop.viewer.guide import legend_sentence
    similarity = legend_sentence("a cat", (0.1, 0.3))
    relevance = legend_sentence("a cat", (0.0, 0.5), raw_label="relevance")
    assert "the model finds" in similarity and "stretched to its own range" in similarity
    assert "the model finds" not in relevance and "the method finds the most evidence" in relevance
    shared = legend_sentence("a cat", (0.1, 0.3), shared_scale=True)
    assert "share one raw colour scale" in shared and "own range" not in shared


def test_the_view_state_announces_what_changed_once():
    from eclip_desktop.viewer.view_state import ViewState
    s = ViewState()
    heard = []
    s.changed.connect(heard.append)
    analysis = s.analysis
    s.set(layout="poolings", model=MODEL, analysis=analysis)  # the same analysis object: not a change
    assert heard == [frozenset({"layout", "model"})] and s.layout == "poolings" and s.model is MODEL
    s.set(layout="poolings")
    assert len(heard) == 1, "setting what is already there announces nothing"
    analysis.pooling = "avg"
    s.touch("analysis")  # changed in place
    assert heard[-1] == frozenset({"analysis"})
    try:
        s.set(pooling="max")
    except AttributeError as exc:
        assert "no view state field pooling" in str(exc)
    else:
        raise AssertionError("an unknown field must be refused")

"""The app's Qt-free parts: display maths, sessions, and the worker's jobs without a thread."""
import json

import numpy as np
import pytest
import torch

from eclip_desktop.core.errors import CancelledError
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.viewer.display import (
    clip_levels,
    outlines,
    threshold_level,
    threshold_mask,
)
from eclip_desktop.viewer.jobs import compute
from eclip_desktop.viewer.jobs.compute import MapRequest, map_job, with_cpu_fallback
from eclip_desktop.viewer.session import Session, SessionError, load_session, save_session
from eclip_desktop.viewer.state import AnalysisState, DisplayState, ModelChoice


class Ctx:
    """Stands in for the worker's context: records progress and partial results."""

    def __init__(self, state=None, cancel_after=None):
        self.state = state or compute.WorkerState()
        self.messages, self.partials = [], []
        self.cancel_after = cancel_after

    def check(self):
        if self.cancel_after is not None and len(self.messages) >= self.cancel_after:
            raise CancelledError("cancelled")

    def progress(self, text):
        self.check()
        self.messages.append(text)

    def partial(self, obj):
        self.partials.append(obj)


def test_levels_clip_both_tails_and_keep_full_range_at_100():
    values = np.linspace(0, 1, 10_000, dtype=np.float32).reshape(100, 100)
    assert clip_levels(values, 100.0) == (0.0, 1.0)
    lo, hi = clip_levels(values, 90.0)
    assert lo == pytest.approx(0.05, abs=1e-3) and hi == pytest.approx(0.95, abs=1e-3)
    flat = np.full((8, 8), 0.3, np.float32)
    lo, hi = clip_levels(flat, 99.0)
    assert hi > lo  # a flat map still gets a usable colour range


def test_thresholds_fixed_percentile_and_otsu():
    values = np.zeros((40, 40), np.float32)
    values[10:20, 10:30] = 0.8
    values += np.random.default_rng(0).uniform(0, 0.05, values.shape).astype(np.float32)
    assert threshold_mask(values, DisplayState()) is None
    fixed = threshold_mask(values, DisplayState(threshold="fixed", fixed_level=0.5))
    assert fixed.sum() == 200
    otsu = threshold_mask(values, DisplayState(threshold="otsu"))
    assert otsu.sum() == 200 and 0.05 < threshold_level(values, DisplayState(threshold="otsu")) < 0.8
    top = threshold_mask(values, DisplayState(threshold="percentile", threshold_percentile=95.0))
    assert abs(int(top.sum()) - 80) <= 2


def test_outlines_leave_out_the_image_border():
    mask = np.zeros((20, 20), bool)
    mask[:6, :8] = True  # touches the top and left border
    lines = outlines(mask)
    assert lines, "the inner edges must be outlined"
    points = np.vstack(lines) - 0.5
    # No segment may run along the border; only the ends of the inner edges touch it.
    for line in lines:
        p = line - 0.5
        for a, b in zip(p[:-1], p[1:]):
            assert not (a[0] == b[0] == 0 or a[1] == b[1] == 0)
    assert points[:, 0].max() == 7 and points[:, 1].max() == 5


def test_session_round_trip_and_relative_paths(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.png").write_bytes(b"x")
    s = Session(images=[str(project / "a.png")], model=ModelChoice("RN50", "openai", "cuda"),
                analysis=AnalysisState(method="surgery", pooling="max", texts=["a b"],
                                        options={"surgery": {"vv": False}}),
                display=DisplayState(colormap="magma", opacity=0.25, threshold="otsu"), layout="methods")
    save_session(project / "s.eclip.json", s)
    moved = tmp_path / "moved"
    project.rename(moved)  # absolute paths break; the relative ones still hold
    back = load_session(moved / "s.eclip.json")
    assert back.images == [str((moved / "a.png").resolve())]
    assert back.model == s.model and back.analysis == s.analysis and back.display == s.display
    assert back.layout == "methods" and back.warnings == []


def test_session_with_unknown_values_and_missing_images_loads_with_warnings(tmp_path):
    doc = {"format": "eclip-desktop-session", "version": 1, "images": [{"path": "/nope/x.png"}],
           "analysis": {"method": "no-such-method", "pooling": "median", "texts": ["ok"]},
           "display": {"colormap": "rainbow", "opacity": 1, "percentile": 42},
           "layout": "mosaic"}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    s = load_session(path)
    assert s.images == [] and "not found" in s.warnings[0]
    assert (s.analysis.method, s.analysis.pooling, s.analysis.texts) == ("itsm", "native", ["ok"])
    assert (s.display.colormap, s.display.opacity, s.display.percentile) == ("viridis", 1.0, 100.0)
    assert s.layout == "side"
    # Files written before the synset fields existed open with no synset, prompt maps, default set.
    assert (s.synset, s.convis, s.concept_set) == ("", False, "default")
    doc.update(synset=7, convis=True, concept_set="")
    path.write_text(json.dumps(doc))
    s = load_session(path)
    assert (s.synset, s.convis, s.concept_set) == ("", False, "default")


def test_session_refuses_other_files_and_newer_versions(tmp_path):
    other = tmp_path / "o.json"
    other.write_text(json.dumps({"hello": 1}))
    with pytest.raises(SessionError, match="not an eclip-desktop session"):
        load_session(other)
    newer = tmp_path / "n.json"
    newer.write_text(json.dumps({"format": "eclip-desktop-session", "version": 2}))
    with pytest.raises(SessionError, match="newer eclip-desktop"):
        load_session(newer)


def test_out_of_memory_on_the_gpu_falls_back_to_the_cpu():
    tried = []

    def work(choice):
        tried.append(choice.device)
        if choice.device != "cpu":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return "ok"

    ctx = Ctx()
    result, used, notices = with_cpu_fallback(ctx, ModelChoice("RN50", "openai", "cuda", "fp16"), work)
    assert result == "ok" and tried == ["cuda", "cpu"]
    assert used == ModelChoice("RN50", "openai", "cpu", "auto")
    assert "CPU" in notices[0]
    def always_short(choice):
        raise torch.OutOfMemoryError("out of memory")

    with pytest.raises(torch.OutOfMemoryError):  # on the CPU there is nowhere to fall back to
        with_cpu_fallback(ctx, ModelChoice("RN50", "openai", "cpu"), always_short)


def test_map_job_single_model_reads_every_pooling_from_one_pass(photo, tiny_handles):
    state = compute.WorkerState()
    choice = ModelChoice("eclip-tiny-vit", "random", "cpu")
    state.engines[choice.spec("native")] = Engine(tiny_handles["eclip-tiny-vit"])
    req = MapRequest(photo, choice, (("itsm", "native"),), ("a cat", "a dog"))
    ctx = Ctx(state)
    result = map_job(req)(ctx)
    assert ctx.partials[0].path == photo and ctx.partials[0].preview.shape == (72, 96, 3)
    assert set(result.maps) == {("itsm", p) for p in ("native", "avg", "max", "masked_max")}
    assert result.maps[("itsm", "avg")].heatmaps is result.maps[("itsm", "max")].heatmaps
    assert not result.maps[("itsm", "native")].trained_with_pooling
    assert state.engines[choice.spec("native")].image_encoder_calls == 1
    with pytest.raises(CancelledError):
        map_job(req)(Ctx(state, cancel_after=0))

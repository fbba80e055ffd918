"""The window's model list (issue 23): every open_clip architecture listed, the ones the core cannot
explain greyed with the core's reason; choosing one says why instead of loading it. The verdicts of the
image towers are cached per config and version."""
import json

import pytest

from eclip_desktop.core.model import kinds
from eclip_desktop.viewer.jobs import catalogue
from eclip_desktop.viewer.jobs.catalogue import Catalogue, build_catalogue, image_supports
from eclip_desktop.viewer.state import ModelChoice

NAMES = ["RN50", "ViT-B-16", "convnext_base_w", "coca_ViT-B-32", "swin_base_patch4_window7_224", "ViT-B-16-SigLIP"]


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.setattr(catalogue, "_JUDGED", {})
    monkeypatch.setenv("ECLIP_DESKTOP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / catalogue.SUPPORT_CACHE


def test_verdicts_are_the_cores_and_are_cached(fresh, monkeypatch):
    first = image_supports(NAMES)
    assert first["RN50"] == (kinds.RESNET, "") and first["convnext_base_w"] == (kinds.TIMM_CONV, "")
    assert first["ViT-B-16-SigLIP"][0] == kinds.TIMM_VIT_MAP
    assert first["coca_ViT-B-32"][0] is None and "attentional pooler" in first["coca_ViT-B-32"][1]
    assert first["swin_base_patch4_window7_224"][0] is None and "SwinTransformer" in first["swin_base_patch4_window7_224"][1]
    assert set(json.loads(fresh.read_text())["verdicts"]) == set(NAMES)
    # Read back from the file: nothing is judged again (check runs only before judging one).
    monkeypatch.setattr(catalogue, "_JUDGED", {})

    def judged():
        raise AssertionError("judged again")
    assert image_supports(NAMES, check=judged) == first
    # Another version of timm (or open_clip, or of the tool) judges again.
    saved = json.loads(fresh.read_text())
    saved["key"]["timm"] = "0.0.1"
    fresh.write_text(json.dumps(saved))
    with pytest.raises(AssertionError, match="judged again"):
        image_supports(NAMES, check=judged)


def test_a_cancel_keeps_what_was_judged(fresh):
    calls = []

    def cancel_third():
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("cancelled")
    with pytest.raises(RuntimeError):
        image_supports(NAMES, check=cancel_third)
    assert list(json.loads(fresh.read_text())["verdicts"]) == NAMES[:2]


def test_catalogue_lists_explainable_and_refused(fresh, monkeypatch):
    import eclip_desktop.core.model.loading as loading
    monkeypatch.setattr(loading, "list_architectures", lambda: list(NAMES))
    monkeypatch.setattr(catalogue, "_support_key", lambda: {"pinned": 1})  # a cache of its own
    monkeypatch.setattr("eclip_desktop.core.model.zoo._has_transformers", lambda: False)
    cat = build_catalogue()
    assert cat.architectures == ["RN50", "ViT-B-16", "convnext_base_w"]
    assert set(cat.refused) == {"coca_ViT-B-32", "swin_base_patch4_window7_224", "ViT-B-16-SigLIP"}
    assert "transformers" in cat.refused["ViT-B-16-SigLIP"] and "eclip-desktop[hf]" in cat.refused["ViT-B-16-SigLIP"]
    assert set(cat.tags) == set(cat.architectures)


def test_picker_shows_a_refused_architecture_with_its_reason(qtbot):
    from eclip_desktop.app.widgets.model_picker import REFUSED_GROUP, ModelPicker
    why = "vision transformers with an attentional pooler (CoCa) are not supported"
    picker = ModelPicker()
    qtbot.addWidget(picker)
    picker.set_catalogue(Catalogue(["ViT-B-16"], {"ViT-B-16": [("openai", False)]}, refused={"coca_ViT-B-32": why}))
    texts = [picker.arch.itemText(i) for i in range(picker.arch.count())]
    assert texts.index(f"\u2014 {REFUSED_GROUP} \u2014") < texts.index("coca_ViT-B-32")
    assert "coca_ViT-B-32" in picker.entries()
    index = picker.arch.findText("coca_ViT-B-32")
    assert picker.arch.itemData(index, 3) == why  # Qt.ToolTipRole
    loads, refusals = [], []
    picker.load_requested.connect(loads.append)
    picker.refused.connect(refusals.append)
    picker.arch.setCurrentIndex(index)
    picker.arch.activated.emit(index)
    assert loads == [] and refusals == [f"coca_ViT-B-32 cannot be explained here: {why}"]
    assert why in picker.about.text() and not picker.weights.isEnabled()
    picker.load_button.click()  # the Load button says the same
    assert loads == [] and len(refusals) == 2
    # An explainable one still loads.
    picker.arch.setCurrentIndex(picker.arch.findText("ViT-B-16"))
    picker.arch.activated.emit(picker.arch.currentIndex())
    assert loads == [ModelChoice("ViT-B-16", "openai")] and picker.weights.isEnabled()


def test_the_job_checks_for_a_cancel_and_lets_queued_jobs_run_between_architectures(fresh, monkeypatch):
    import eclip_desktop.core.model.loading as loading
    monkeypatch.setattr(loading, "list_architectures", lambda: list(NAMES))
    calls = []

    class Ctx:
        def progress(self, text):
            calls.append("progress")

        def check(self):
            calls.append("check")

        def let_others_run(self):
            calls.append("others")
    cat = catalogue.catalogue_job()(Ctx())
    assert "convnext_base_w" in cat.architectures and "coca_ViT-B-32" in cat.refused
    assert calls.count("check") == calls.count("others") == len(NAMES)  # every one judged afresh here

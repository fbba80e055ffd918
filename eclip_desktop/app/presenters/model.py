"""The model side: loading (with a visible pending state), restoring the previous model when a load
fails, the pooling toggles a model allows, the picker's list of models, and the banner's model buttons."""
from __future__ import annotations

import weakref

from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.viewer.guide import shift_sentence
from eclip_desktop.viewer.jobs.compute import ModelLoaded, load_model_job
from eclip_desktop.viewer.scene import SINGLE_MODEL_NOTE
from eclip_desktop.viewer.state import ModelChoice

COMMON_OPEN_CLIP = ("ViT-B-16", "ViT-B-32", "RN50", "ViT-L-14")


def cached_open_clip(catalogue) -> ModelChoice | None:
    """A common open_clip model whose weights are already on disk (loads offline), or None; from the
    picker's catalogue, so the UI thread never imports open_clip for it."""
    if catalogue is None:
        return None
    names = [a for a in COMMON_OPEN_CLIP if a in catalogue.architectures] + list(catalogue.architectures)
    for arch in names:
        cached = catalogue.cached(arch)
        if cached:
            return ModelChoice(arch, cached[0])
    return None


class ModelPresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.pending = None
        self.catalogue_asked = False

    @property
    def window(self):
        return self._window()

    def start_work(self, choice) -> None:
        w = self.window
        if w.closing:
            return
        if choice is not None and w.model is None and self.pending == choice:
            self.request_model(choice)  # the list of models follows the first maps (_maps_ready)
        else:
            self.request_catalogue()

    def _catalogue_cancelled(self) -> None:
        self.request_catalogue()  # Esc was meant for a map, not for the list of models

    def banner_action(self, action: str) -> None:
        w = self.window
        if action in ("choose-model", "open-checkpoint", "load-open-clip"):
            w.controls_dock.show()
            w.controls_dock.raise_()
            w.controls.picker.arch.setFocus()
        if action == "open-checkpoint":
            w.controls.picker.open_checkpoint()
        elif action == "load-open-clip":
            self.load_open_clip()

    def request_model(self, choice: ModelChoice) -> None:
        w = self.window
        if choice.family:
            w.maps_area.set_pooling(choice.shown_pooling(w.analysis.pooling), compute=False)
        w.controls.picker.set_choice(choice)
        w.controls.show_device(choice.device)
        self.pending = choice
        # Until it has loaded, the maps on screen still come from the previous model: say so where
        # the choice was made, so the picker never names one model while the map shows another.
        now = f"; the maps still show {w.model.label()}" if w.model is not None else ""
        w.controls.picker.set_pending(f"Loading {choice.label()} \u2026{now}")
        # The comparison's second model stays loaded while the first one changes.
        keep = tuple(c for c in (w.comparison.model, w.comparison.pending) if c is not None)
        w.submit(w.compute, "model", load_model_job(choice, w.analysis.pooling, keep),
                 f"loading {choice.label()} \u2026", self._model_loaded, self._model_failed, self._model_cancelled,
                 done_text=lambda loaded: f"loaded {loaded.choice.label()}")

    def _model_failed(self, message: str) -> None:
        """A failed load leaves the previous model in charge, and the picker shows it again."""
        w = self.window
        failed, self.pending = self.pending, None
        w.controls.picker.set_pending("")
        if w.model is not None:
            w.controls.picker.set_choice(w.model)
            w.controls.show_device(w.model.device)
            self.update_pooling_availability(w.model)
        name = failed.label() if failed is not None else "the model"
        keep = f" {w.model.label()} stays loaded." if w.model is not None else ""
        w.banner.show_message(f"Could not load {name}: {message}.{keep}", "error", "model",
                              "open-checkpoint", "Open checkpoint\u2026")
        if w.controls.picker.catalogue is None and not self.catalogue_asked:
            self.request_catalogue()  # the user will pick another model from it

    def _model_cancelled(self) -> None:
        w = self.window
        self.pending = None
        w.controls.picker.set_pending("")
        if w.controls.picker.catalogue is None and not self.catalogue_asked:
            self.request_catalogue()  # no first map will come to ask for it
        if w.model is not None:
            w.controls.picker.set_choice(w.model)

    def _model_loaded(self, loaded: ModelLoaded) -> None:
        w = self.window
        w.model, w.model_info = loaded.choice, loaded.info
        self.pending = None
        w.controls.picker.set_pending("")
        w.banner.clear_source("model")
        w.status.set_model(loaded.info, loaded.choice.label())
        w.controls.show_device(loaded.choice.device)
        self.update_pooling_availability(loaded.choice)
        for notice in loaded.notices:
            w.banner.show_message(notice, "warning", "device")
        w.map_controller.clear()
        w.request_maps(0)  # its refresh() decides the out-of-domain notice for the new model

    def update_pooling_availability(self, choice: ModelChoice | None) -> None:
        w = self.window
        family = choice is not None and choice.family
        have = set(choice.poolings() if choice is not None else pooling_names())
        for p, a in w.pooling_actions.items():
            a.setEnabled(p in have)
        if family:
            # Next to the pooling toggles: which of them is the shifted one, measured, not assumed.
            note = ("Each pooling is its own model, trained with that pooling: switching shows that "
                    "model's map. " + shift_sentence(choice))
        else:
            note = ("One model: the pooling changes the scores and the contribution map, not the "
                    "similarity map — that needs a model trained with the pooling.")
        w.controls.pooling_note.setText(note)
        w.controls.pooling_note.setToolTip(SINGLE_MODEL_NOTE if not family else "")

    def current_engine(self):
        """The engine behind the map on screen (read-only peek for tests and diagnostics)."""
        w = self.window
        if w.model is None:
            return None
        return w.compute.state.engines.get(w.model.spec(w.analysis.pooling))

    def load_open_clip(self) -> None:
        """One click from the notice: a common open_clip model with weights on disk, else the picker."""
        w = self.window
        choice = cached_open_clip(w.controls.picker.catalogue)
        if choice is None:
            w.banner.show_message("No open_clip weights are downloaded yet: pick a model under Controls "
                                  "\u25b8 Model (weights marked \u2018not downloaded\u2019 need the internet "
                                  "once), or open a checkpoint.", "info", "model", "open-checkpoint",
                                  "Open checkpoint\u2026")
            self.banner_action("choose-model")
            return
        self.request_model(choice.on_device(w.controls.device_name()))

    def request_catalogue(self) -> None:
        """The open_clip list and the devices, from the worker that owns torch (after a queued model
        load, which imports torch anyway), so the window never waits for open_clip to open."""
        w = self.window
        if w.closing:
            return
        self.catalogue_asked = True
        from eclip_desktop.viewer.jobs.catalogue import catalogue_job
        w.submit(w.compute, "catalogue", catalogue_job(), "listing models \u2026", self._catalogue_ready,
                 cancelled=self._catalogue_cancelled, yields=True)  # judging the zoo takes seconds: maps run meanwhile

    def _catalogue_ready(self, catalogue) -> None:
        w = self.window
        w.controls.set_devices(catalogue.devices)
        w.controls.picker.set_catalogue(catalogue)
        w.controls.compare_picker.set_catalogue(catalogue)
        shown = self.pending or w.model
        if shown is not None:
            w.controls.picker.set_choice(shown)
            w.controls.show_device(shown.device)

"""The window's model side: loading (with a visible pending state), restoring the previous model
when a load fails, the pooling toggles a model allows, and the out-of-domain notice for the
embedded Shapes World models."""
from __future__ import annotations

import os

from eclip_desktop.app.state import ModelChoice
from eclip_desktop.app.views.guide import shift_sentence
from eclip_desktop.app.views.layouts import SINGLE_MODEL_NOTE
from eclip_desktop.app.workers.compute import ModelLoaded, load_model_job
from eclip_desktop.app.workers.jobs import Job
from eclip_desktop.core.model.family import is_embedded
from eclip_desktop.core.model.poolings import pooling_names

COMMON_OPEN_CLIP = ("ViT-B-16", "ViT-B-32", "RN50", "ViT-L-14")


def out_of_domain_text(image_name: str) -> str:
    return (f"The embedded models were trained only on Shapes World scenes (coloured shapes on plain or "
            f"textured backgrounds), so their scores and maps of \u201c{image_name}\u201d say little about it. "
            "For photographs, load an open_clip model or a checkpoint of your own.")


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


class ModelMixin:
    _pending_model: ModelChoice | None = None
    _closing = False
    _catalogue_asked = False
    _domain_dismissed: set = set()
    _domain_known: dict | None = None  # image path -> written by the Shapes World generator

    def request_model(self, choice: ModelChoice) -> None:
        if choice.family:
            self.set_pooling(choice.shown_pooling(self.analysis.pooling), compute=False)
        self.controls.picker.set_choice(choice)
        self.controls.show_device(choice.device)
        self._pending_model = choice
        # Until it has loaded, the maps on screen still come from the previous model: say so where
        # the choice was made, so the picker never names one model while the map shows another.
        now = f"; the maps still show {self.model.label()}" if self.model is not None else ""
        self.controls.picker.set_pending(f"Loading {choice.label()} \u2026{now}")
        # The comparison's second model stays loaded while the first one changes.
        keep = tuple(c for c in (self.compare_model, self._pending_compare) if c is not None)
        self.compute.submit(Job("model", load_model_job(choice, self.analysis.pooling, keep),
                                label=f"loading {choice.label()} \u2026"))

    def _model_failed(self, message: str) -> None:
        """A failed load leaves the previous model in charge, and the picker shows it again."""
        failed, self._pending_model = self._pending_model, None
        self.controls.picker.set_pending("")
        if self.model is not None:
            self.controls.picker.set_choice(self.model)
            self.controls.show_device(self.model.device)
            self._update_pooling_availability(self.model)
        name = failed.label() if failed is not None else "the model"
        keep = f" {self.model.label()} stays loaded." if self.model is not None else ""
        self.banner.show_message(f"Could not load {name}: {message}.{keep}", "error", "model",
                                 "open-checkpoint", "Open checkpoint\u2026")
        if self.controls.picker.catalogue is None and not self._catalogue_asked:
            self.request_catalogue()  # the user will pick another model from it

    def _model_cancelled(self) -> None:
        self._pending_model = None
        self.controls.picker.set_pending("")
        if self.controls.picker.catalogue is None and not self._catalogue_asked:
            self.request_catalogue()  # no first map will come to ask for it
        if self.model is not None:
            self.controls.picker.set_choice(self.model)

    def _model_loaded(self, loaded: ModelLoaded) -> None:
        self.model, self.model_info = loaded.choice, loaded.info
        self._pending_model = None
        self.controls.picker.set_pending("")
        self.banner.clear_source("model")
        self.status.set_model(loaded.info, loaded.choice.label())
        self.controls.show_device(loaded.choice.device)
        self._update_pooling_availability(loaded.choice)
        for notice in loaded.notices:
            self.banner.show_message(notice, "warning", "device")
        self.maps, self._context = {}, None
        self.request_maps(0)  # its refresh() decides the out-of-domain notice for the new model

    def _update_pooling_availability(self, choice: ModelChoice | None) -> None:
        family = choice is not None and choice.family
        have = set(choice.poolings() if choice is not None else pooling_names())
        for p, a in self.pooling_actions.items():
            a.setEnabled(p in have)
        if family:
            # Next to the pooling toggles: which of them is the shifted one, measured, not assumed.
            note = ("Each pooling is its own model, trained with that pooling: switching shows that "
                    "model's map. " + shift_sentence(choice))
        else:
            note = ("One model: the pooling changes the scores and the contribution map, not the "
                    "similarity map — that needs a model trained with the pooling.")
        self.controls.pooling_note.setText(note)
        self.controls.pooling_note.setToolTip(SINGLE_MODEL_NOTE if not family else "")

    def current_engine(self):
        """The engine behind the map on screen (read-only peek for tests and diagnostics)."""
        if self.model is None:
            return None
        return self.compute.state.engines.get(self.model.spec(self.analysis.pooling))


    # --- out of domain ------------------------------------------------------------------------------

    def update_domain_notice(self) -> None:
        """The polite, persistent notice while an embedded Shapes World model explains another picture."""
        path = self.image_list.current_path()
        # An unreadable file gets its error, not advice about models: there is no picture to explain.
        show = (self.model is not None and self._shapes_world_model()
                and bool(path) and not self.unreadable(path) and path not in self._domain_dismissed
                and not self._in_domain(path))
        if not show:
            self.domain_banner.dismiss()
            return
        if self.domain_banner.isVisible() and self.domain_banner.source == path:
            return
        self.domain_banner.show_message(out_of_domain_text(os.path.basename(path)), "info", path,
                                        "load-open-clip", "Load an open_clip model",
                                        "open-checkpoint", "Open checkpoint\u2026")

    def _shapes_world_model(self) -> bool:
        """The core's decision (core/model/training_domain.py, from the weights' card): self.model and
        self.model_info are set together when a model has loaded."""
        from eclip_desktop.core.model.training_domain import shapes_world_model
        if self.model_info is not None:
            return shapes_world_model(self.model_info)
        return self.model.family and is_embedded(self.model.architecture)

    def _in_domain(self, path: str) -> bool:
        # Provenance files are read once per image, not on every model or image switch of the UI thread.
        from eclip_desktop.core.shapes.domain import is_shapes_world_image
        if self._domain_known is None:
            self._domain_known = {}
        if path not in self._domain_known:
            self._domain_known[path] = is_shapes_world_image(path)
        return self._domain_known[path]

    def _domain_closed(self) -> None:
        if self.domain_banner.source:
            self._domain_dismissed = self._domain_dismissed | {self.domain_banner.source}

    def load_open_clip(self) -> None:
        """One click from the notice: a common open_clip model with weights on disk, else the picker."""
        choice = cached_open_clip(self.controls.picker.catalogue)
        if choice is None:
            self.banner.show_message("No open_clip weights are downloaded yet: pick a model under Controls "
                                     "\u25b8 Model (weights marked \u2018not downloaded\u2019 need the internet "
                                     "once), or open a checkpoint.", "info", "model", "open-checkpoint",
                                     "Open checkpoint\u2026")
            self._banner_action("choose-model")
            return
        self.request_model(choice.on_device(self.controls.device_name()))

    # --- the picker's list ----------------------------------------------------------------------------

    def request_catalogue(self) -> None:
        """The open_clip list and the devices, from the worker that owns torch (after a queued model
        load, which imports torch anyway), so the window never waits for open_clip to open."""
        if self._closing:
            return
        self._catalogue_asked = True
        from eclip_desktop.app.workers.catalogue import catalogue_job
        self.compute.submit(Job("catalogue", catalogue_job(), label="listing models \u2026"))

    def _catalogue_ready(self, catalogue) -> None:
        self.controls.set_devices(catalogue.devices)
        self.controls.picker.set_catalogue(catalogue)
        self.controls.compare_picker.set_catalogue(catalogue)
        shown = self._pending_model or self.model
        if shown is not None:
            self.controls.picker.set_choice(shown)
            self.controls.show_device(shown.device)

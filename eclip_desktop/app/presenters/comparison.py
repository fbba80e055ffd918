"""The model comparison (layout "compare", Ctrl+5): a second model, chosen in its own picker under
Controls, explains the same image, prompt, method and pooling beside the first.

The second model lives on the compute worker like the first (load and maps are jobs there), its
engine keeps each image's features, so a new prompt or pooling reuses them; its maps are merged
here only while they belong to what is on screen (`context`), as the first model's are.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import replace
from pathlib import Path

from eclip_desktop.viewer.compare import ComparePane, compare_grid_tiles, scale_words
from eclip_desktop.viewer.jobs.compute import MapRequest, MapResult, ModelLoaded, load_model_job, map_job
from eclip_desktop.viewer.state import ModelChoice

NO_SECOND_MODEL = "choose a second model under Controls \u25b8 Compare with"


class ComparePresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.maps: dict = {}  # the second model's maps of `context`

    @property
    def window(self):
        return self._window()

    model: ModelChoice | None = None
    info: dict | None = None  # the second model's describe(), for the status and exports
    pending: ModelChoice | None = None
    show = False  # switch to the comparison once the pending second model has loaded
    context = None
    asked = None  # (context, pair) of the compare job in flight
    note = ""

    # --- the second model --------------------------------------------------------------------------

    def choose(self) -> None:
        """View ▸ Compare with a Second Model: the comparison, and the picker to choose the model in."""
        w = self.window
        w.maps_area.set_layout("compare")
        w.controls.compare_picker.refresh_list()
        w.controls_dock.show()
        w.controls_dock.raise_()
        w.controls.compare_picker.arch.setFocus()

    def request_model(self, choice: ModelChoice, show: bool = True) -> None:
        w = self.window
        picker = w.controls.compare_picker
        if not choice.architecture:
            w.banner.show_message("Choose the second model from the list first.", "info", "compare")
            return
        if picker.choice() != ModelChoice(choice.architecture, choice.pretrained):
            picker.set_choice(choice)
        self.pending, self.show = choice, show
        picker.set_pending(f"Loading {choice.label()} \u2026")
        keep = tuple(c for c in (w.model, w.models.pending) if c is not None)
        pooling = choice.shown_pooling(w.analysis.pooling)
        w.submit(w.compute, "compare-model", load_model_job(choice, pooling, keep),
                 f"loading the second model {choice.label()} \u2026", self._loaded,
                 self._model_failed, self._model_cancelled,
                 done_text=lambda loaded: f"loaded the second model {loaded.choice.label()}")
        w.refresh()

    def _loaded(self, loaded: ModelLoaded) -> None:
        w = self.window
        self.model, self.info = loaded.choice, loaded.info
        self.pending = None
        w.controls.compare_picker.set_pending("")
        w.banner.clear_source("compare")
        for notice in loaded.notices:
            w.banner.show_message(notice, "warning", "device")
        self.maps, self.context, self.note = {}, None, ""
        if self.show and w.layout_name != "compare":
            w.maps_area.set_layout("compare")
        else:
            w.refresh()
            w.request_maps(0)

    def _model_failed(self, message: str) -> None:
        """A second model that does not load leaves the window (and the previous second model) as it was."""
        w = self.window
        failed, self.pending = self.pending, None
        picker = w.controls.compare_picker
        picker.set_pending("")
        if self.model is not None:
            picker.set_choice(self.model)
        else:
            picker.clear_choice()
        name = failed.label() if failed is not None else "the second model"
        keep = f" The comparison keeps {self.model.label()}." if self.model is not None else ""
        w.banner.show_message(f"Could not load the second model {name}: {message}.{keep}", "error", "compare")
        if self.model is None:
            self.note = "no second model \u2014 see the message above"
        w.refresh()

    def _model_cancelled(self) -> None:
        w = self.window
        self.pending = None
        w.controls.compare_picker.set_pending("")
        if self.model is not None:
            w.controls.compare_picker.set_choice(self.model)
        w.refresh()

    def device_changed(self, what: str) -> None:
        w = self.window
        if what == "device" and self.model is not None:
            self.request_model(self.model.on_device(w.controls.device_name()), show=False)

    # --- its maps ------------------------------------------------------------------------------------

    def request_maps(self, req: MapRequest) -> None:
        """Called with the first model's request: the second model's map of the same image and prompts."""
        w = self.window
        if w.layout_name != "compare" or self.model is None or not req.texts:
            return
        a = w.analysis
        pair = (a.method, self.model.shown_pooling(a.pooling))
        creq = replace(req, model=self.model, pairs=(pair,))
        if creq.context() != self.context:
            self.maps, self.context = {}, creq.context()
        if pair in self.maps:
            return  # a single model read out every pooling from its one pass
        if self.asked == (creq.context(), pair) and w.compute.is_busy("compare"):
            return
        self.asked = (creq.context(), pair)
        self.note = "computing \u2026"
        w.submit(w.compute, "compare", map_job(creq), f"{os.path.basename(req.path)}: second model's map \u2026",
                 self._ready, self._failed, self._cancelled,
                 done_text="second model's map ready")

    def _ready(self, result: MapResult) -> None:
        w = self.window
        self.asked = None
        if result.request.context() != self.context:
            return
        if result.model is not None and result.model != self.model:
            self.model = result.model  # fell back to the CPU
            self.context = replace(result.request, model=result.model).context()
        if result.model_info:
            self.info = result.model_info
        for notice in result.notices:
            w.banner.show_message(notice, "warning", "device")
        self.maps.update(result.maps)
        self.note = ""
        w.banner.clear_source("compare")
        w.refresh()

    def _failed(self, message: str) -> None:
        w = self.window
        self.asked = None
        name = self.model.label() if self.model is not None else "the second model"
        w.banner.show_message(f"Second model ({name}): {message}", "error", "compare")
        self.note = "no map \u2014 see the message above"
        w.refresh()

    def _cancelled(self) -> None:
        w = self.window
        self.asked = None
        self.note = "cancelled \u2014 press F5 to compute again"
        w.refresh()

    def pane(self, path: str | None) -> ComparePane:
        """The second model's side for a render: its maps only while they belong to the image on screen."""
        w = self.window
        maps = self.maps if self.context and self.context[0] == path else {}
        if self.pending is not None:
            note = f"loading {self.pending.label()} \u2026"
        elif self.model is None:
            note = self.note or NO_SECOND_MODEL
        else:
            note = self.note or "computing \u2026"
        return ComparePane(self.model, maps, note, w.act_shared_scale.isChecked())

    def grid(self):
        """(kind, tiles, title lines, export options) of the comparison on screen, or None without maps."""
        w = self.window
        a = w.analysis
        pane = self.pane(w.image_view.path)
        shared = pane.shared_scale
        tiles, joint = compare_grid_tiles(w.model, w.maps, a, pane, shared)
        if not tiles:
            return None
        ms = w.maps.get((a.method, a.pooling)) or next(iter(pane.maps.values()), None)
        lines = [f"{Path(w.image_view.path).name}: one tile per model"]
        if ms is not None and ms.heatmaps:
            lines.append(f"\u201c{ms.heatmaps[min(a.shown_index(), len(ms.heatmaps) - 1)].text}\u201d")
        lines.append(f"method: {a.method} \u00b7 pooling: {a.pooling} \u00b7 colours: {scale_words(shared, joint)}")
        options = {"colour_scale": {"mode": "per tile"}}
        if joint is not None:
            options = {"colour_scale": {"mode": "shared", "raw_range": list(joint)},
                       "colorbar_label": f"shared raw scale {joint[0]:.3f} \u2013 {joint[1]:.3f}"}
        return "model", tiles, lines, options

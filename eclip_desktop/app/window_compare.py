"""The window's model comparison (layout "compare", Ctrl+5): a second model, chosen in its own
picker under Controls, explains the same image, prompt, method and pooling beside the first.

The second model lives on the compute worker like the first (load and maps are jobs there), its
engine keeps each image's features, so a new prompt or pooling reuses them; its maps are merged
here only while they belong to what is on screen (`_compare_context`), as the first model's are.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from eclip_desktop.app.state import ModelChoice
from eclip_desktop.app.views.compare import ComparePane, compare_grid_tiles, scale_words
from eclip_desktop.app.workers.compute import MapRequest, MapResult, ModelLoaded, load_model_job, map_job
from eclip_desktop.app.workers.jobs import Job

NO_SECOND_MODEL = "choose a second model under Controls \u25b8 Compare with"


class CompareMixin:
    compare_model: ModelChoice | None = None
    compare_info: dict | None = None  # the second model's describe(), for the status and exports
    _pending_compare: ModelChoice | None = None
    _compare_show = False  # switch to the comparison once the pending second model has loaded
    _compare_context = None
    _compare_asked = None  # (context, pair) of the compare job in flight
    _compare_note = ""

    # --- the second model --------------------------------------------------------------------------

    def choose_compare_model(self) -> None:
        """View ▸ Compare with a Second Model: the comparison, and the picker to choose the model in."""
        self.set_layout("compare")
        self.controls.compare_picker.refresh_list()
        self.controls_dock.show()
        self.controls_dock.raise_()
        self.controls.compare_picker.arch.setFocus()

    def request_compare_model(self, choice: ModelChoice, show: bool = True) -> None:
        picker = self.controls.compare_picker
        if not choice.architecture:
            self.banner.show_message("Choose the second model from the list first.", "info", "compare")
            return
        if picker.choice() != ModelChoice(choice.architecture, choice.pretrained):
            picker.set_choice(choice)
        self._pending_compare, self._compare_show = choice, show
        picker.set_pending(f"Loading {choice.label()} \u2026")
        keep = tuple(c for c in (self.model, self._pending_model) if c is not None)
        pooling = choice.shown_pooling(self.analysis.pooling)
        self.compute.submit(Job("compare-model", load_model_job(choice, pooling, keep),
                                label=f"loading the second model {choice.label()} \u2026"))
        self.refresh()

    def _compare_loaded(self, loaded: ModelLoaded) -> None:
        self.compare_model, self.compare_info = loaded.choice, loaded.info
        self._pending_compare = None
        self.controls.compare_picker.set_pending("")
        self.banner.clear_source("compare")
        for notice in loaded.notices:
            self.banner.show_message(notice, "warning", "device")
        self.compare_maps, self._compare_context, self._compare_note = {}, None, ""
        if self._compare_show and self.layout_name != "compare":
            self.set_layout("compare")
        else:
            self.refresh()
            self.request_maps(0)

    def _compare_model_failed(self, message: str) -> None:
        """A second model that does not load leaves the window (and the previous second model) as it was."""
        failed, self._pending_compare = self._pending_compare, None
        picker = self.controls.compare_picker
        picker.set_pending("")
        if self.compare_model is not None:
            picker.set_choice(self.compare_model)
        else:
            picker.clear_choice()
        name = failed.label() if failed is not None else "the second model"
        keep = f" The comparison keeps {self.compare_model.label()}." if self.compare_model is not None else ""
        self.banner.show_message(f"Could not load the second model {name}: {message}.{keep}", "error", "compare")
        if self.compare_model is None:
            self._compare_note = "no second model \u2014 see the message above"
        self.refresh()

    def _compare_model_cancelled(self) -> None:
        self._pending_compare = None
        self.controls.compare_picker.set_pending("")
        if self.compare_model is not None:
            self.controls.compare_picker.set_choice(self.compare_model)
        self.refresh()

    def _compare_device(self, what: str) -> None:
        if what == "device" and self.compare_model is not None:
            self.request_compare_model(self.compare_model.on_device(self.controls.device_name()), show=False)

    # --- its maps ------------------------------------------------------------------------------------

    def _request_compare(self, req: MapRequest) -> None:
        """Called with the first model's request: the second model's map of the same image and prompts."""
        if self.layout_name != "compare" or self.compare_model is None or not req.texts:
            return
        a = self.analysis
        pair = (a.method, self.compare_model.shown_pooling(a.pooling))
        creq = replace(req, model=self.compare_model, pairs=(pair,))
        if creq.context() != self._compare_context:
            self.compare_maps, self._compare_context = {}, creq.context()
        if pair in self.compare_maps:
            return  # a single model read out every pooling from its one pass
        if self._compare_asked == (creq.context(), pair) and self.compute.is_busy("compare"):
            return
        self._compare_asked = (creq.context(), pair)
        self._compare_note = "computing \u2026"
        self.compute.submit(Job("compare", map_job(creq),
                                label=f"{os.path.basename(req.path)}: second model's map \u2026"))

    def _compare_ready(self, result: MapResult) -> None:
        self._compare_asked = None
        if result.request.context() != self._compare_context:
            return
        if result.model is not None and result.model != self.compare_model:
            self.compare_model = result.model  # fell back to the CPU
            self._compare_context = replace(result.request, model=result.model).context()
        if result.model_info:
            self.compare_info = result.model_info
        for notice in result.notices:
            self.banner.show_message(notice, "warning", "device")
        self.compare_maps.update(result.maps)
        self._compare_note = ""
        self.banner.clear_source("compare")
        self.refresh()

    def _compare_failed(self, message: str) -> None:
        self._compare_asked = None
        name = self.compare_model.label() if self.compare_model is not None else "the second model"
        self.banner.show_message(f"Second model ({name}): {message}", "error", "compare")
        self._compare_note = "no map \u2014 see the message above"
        self.refresh()

    def _compare_cancelled(self) -> None:
        self._compare_asked = None
        self._compare_note = "cancelled \u2014 press F5 to compute again"
        self.refresh()

    def compare_pane(self, path: str | None) -> ComparePane:
        """The second model's side for a render: its maps only while they belong to the image on screen."""
        maps = self.compare_maps if self._compare_context and self._compare_context[0] == path else {}
        if self._pending_compare is not None:
            note = f"loading {self._pending_compare.label()} \u2026"
        elif self.compare_model is None:
            note = self._compare_note or NO_SECOND_MODEL
        else:
            note = self._compare_note or "computing \u2026"
        return ComparePane(self.compare_model, maps, note, self.act_shared_scale.isChecked())

    def compare_grid(self):
        """(kind, tiles, title lines, export options) of the comparison on screen, or None without maps."""
        a = self.analysis
        pane = self.compare_pane(self.image_view.path)
        shared = pane.shared_scale
        tiles, joint = compare_grid_tiles(self.model, self.maps, a, pane, shared)
        if not tiles:
            return None
        ms = self.maps.get((a.method, a.pooling)) or next(iter(pane.maps.values()), None)
        lines = [f"{Path(self.image_view.path).name}: one tile per model"]
        if ms is not None and ms.heatmaps:
            lines.append(f"\u201c{ms.heatmaps[min(a.shown_index(), len(ms.heatmaps) - 1)].text}\u201d")
        lines.append(f"method: {a.method} \u00b7 pooling: {a.pooling} \u00b7 colours: {scale_words(shared, joint)}")
        options = {"colour_scale": {"mode": "per tile"}}
        if joint is not None:
            options = {"colour_scale": {"mode": "shared", "raw_range": list(joint)},
                       "colorbar_label": f"shared raw scale {joint[0]:.3f} \u2013 {joint[1]:.3f}"}
        return "model", tiles, lines, options

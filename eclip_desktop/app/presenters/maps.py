"""The map area: what a change of pooling, layout, display, prompt or image does, the maps job and
its results (through viewer/controller.py), the pane notes, and the render (once per change:
viewer/scene.py scene_key)."""
from __future__ import annotations

import os
import weakref

from eclip_desktop.viewer.guide import guide_html
from eclip_desktop.viewer.jobs.compute import (
    MapResult,
    map_job,
    picture_job,
)
from eclip_desktop.viewer.scene import Scene, scene_key

TEXT_DEBOUNCE_MS = 250


class MapsPresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.map_note = ""
        self.failed_path = None
        self.last_scene = None
        self.renders = 0

    @property
    def window(self):
        return self._window()

    def shared_scale(self) -> bool:
        """The model comparison draws both tiles on one colour scale (View ▸ Shared Colour Scale)."""
        w = self.window
        return w.layout_name == "compare" and w.act_shared_scale.isChecked()

    def clear_maps(self) -> None:
        w = self.window
        w.image_view = None
        w.map_controller.clear()

    def submit_maps(self) -> None:
        w = self.window
        path = w.image_list.current_path()
        if path is None:
            w.refresh()
            return
        broken = w.image_list.broken_message(path)
        if broken:
            w.banner.show_message(broken, "error", "files")
            self.clear_maps()
            w.refresh()
            return
        a = w.controls.read_analysis(w.analysis)
        req = w.map_controller.plan(path, w.model, a, w.layout_name)
        have_image = w.image_view is not None and w.image_view.path == path
        if w.convis.concepts_context is not None and w.convis.concepts_context[0] != path:
            w.wordnet_dock.show_image_concepts(None)  # another image's listing would mislead
            w.convis.concepts_context = None
        if not req.pairs and have_image:
            w.comparison.request_maps(req)
            w.refresh()
            w.convis.request_convis()
            return
        self.map_note = "loading the model \u2026" if w.models.pending is not None else "computing \u2026"
        if not have_image:
            w.submit(w.io, "picture", picture_job(path), f"reading {os.path.basename(path)} \u2026",
                     self._picture_ready, failed=lambda _m: None)  # the map and thumbnail jobs say it, once
        w.submit(w.compute, "maps", map_job(req), f"{os.path.basename(path)}: maps \u2026", self._maps_ready,
                 self.maps_failed, self._maps_cancelled, self._maps_partial,
                 done_text=lambda r: "maps ready" if r.maps else "")
        w.comparison.request_maps(req)  # the second model's map, after the first's on the same worker
        w.refresh()
        # After the maps job, so the picture appears before the (slower) ConVis windows run.
        w.convis.request_convis()

    def _picture_ready(self, view) -> None:
        w = self.window
        if view.path == w.image_list.current_path() and (w.image_view is None or w.image_view.path != view.path):
            w.image_view = view
            w.refresh()

    def _maps_partial(self, view) -> None:
        w = self.window
        if view.path == w.image_list.current_path():
            w.image_view = view
            w.refresh()

    def maps_failed(self, message: str) -> None:
        w = self.window
        if w.controls.picker.catalogue is None and not w.models.catalogue_asked:
            w.models.request_catalogue()
        w.banner.show_message(message, "error", "maps")
        if w.image_view is None:
            self.failed_path = w.image_list.current_path()
        self.map_note = "no map \u2014 see the message above"
        w.refresh()

    def _maps_cancelled(self) -> None:
        w = self.window
        self.map_note = "cancelled \u2014 press F5 to compute again"
        w.refresh()

    def _maps_ready(self, result: MapResult) -> None:
        w = self.window
        ran = result.model if result.model is not None and result.model != w.model else None
        if not w.map_controller.accept(result, ran):
            return
        self.failed_path = None
        w.image_view = result.image
        if ran is not None:
            # The worker fell back to the CPU: what runs now is what the controls must show.
            w.model = ran
            w.controls.show_device(ran.device)
        if result.model_info:
            w.model_info = result.model_info
            w.status.set_model(result.model_info, w.model.label() if w.model else "")
        for notice in result.notices:
            w.banner.show_message(notice, "warning", "device")
        if w.controls.picker.catalogue is None and not w.models.catalogue_asked:
            w.models.request_catalogue()  # after the first map: it waits for nothing else on the worker
        w.banner.clear_source("maps")
        self.map_note = ""
        w.refresh()
        if w.map_controller.missing(w.layout_name, w.analysis, w.model):
            w.request_maps(0)

    def note(self) -> str:
        w = self.window
        if w.model is None and w.models.pending is not None:
            return f"loading {w.models.pending.label()} \u2026"
        if w.model is None:
            return "no model loaded \u2014 choose one under Controls \u25b8 Model"
        if not w.analysis.texts:
            return "type a prompt under Controls \u25b8 Prompts"
        why = w.refused.get((w.analysis.method, w.analysis.pooling))
        return why or self.map_note or "computing \u2026"

    def unreadable(self, path: str | None) -> bool:
        """The current file turned out not to be a picture (its thumbnail or its map job said so)."""
        w = self.window
        return bool(path) and (bool(w.image_list.broken_message(path)) or path == self.failed_path)

    def render(self) -> None:
        w = self.window
        path = w.image_list.current_path()
        # Rendered from state like the panes, so a verdict that arrives late (an unreadable file) ends it.
        w.domain.update_domain_notice()
        image = w.image_view if w.image_view is not None and w.image_view.path == path else None
        # Maps of another image must never be drawn under this one's name, even for one frame.
        context = w.map_controller.cache.context
        maps = w.maps if image is not None and context and context[0] == path else {}
        if path is None:
            image_note = "open images with Ctrl+O, or drop files here"
        elif self.unreadable(path):
            image_note = "cannot show this image — see the message above"
        else:
            image_note = "reading …"
        # No map is coming for an image that cannot be read: the map pane must not say "computing".
        note = ("no map" if image_note.startswith("cannot") else self.note()) if path else ""
        convis = w.convis.convis_pane(path) if image is not None else None
        compare = w.comparison.pane(path) if w.layout_name == "compare" else None
        if w.layout_name == "compare" and not w.controls.compare_box.isVisibleTo(w.controls):
            w.controls.compare_picker.refresh_list()  # family folders opened meanwhile in the first picker
        w.controls.compare_box.setVisible(w.layout_name == "compare")
        scene = Scene(image, maps, w.analysis, w.display, w.model, note, image_note, convis,
                      w.act_difference.isChecked(), w.ground_truth.current(), compare, w.refused,
                      w.models.pending if w.model is None else None)
        key = (w.layout_name, scene_key(scene))
        if key != self.last_scene:
            self.last_scene = key
            self.renders += 1
            w.views.render(w.layout_name, scene)
        w.act_clear_mask.setEnabled(w.ground_truth.current() is not None)
        support = None
        if convis is not None:
            r = w.convis.result
            support = r.support_text() if convis.preview is not None and r is not None else ""
        w.guide.set_html(guide_html(w.model, w.analysis, w.display, maps, support, self.shared_scale()))
        w.faithfulness.refresh()
        name = os.path.basename(path) if path else ""
        w.setWindowTitle(f"{name} \u2014 eclip-desktop" if name else "eclip-desktop")

    def set_pooling(self, pooling: str, compute: bool = True) -> None:
        w = self.window
        w.analysis.pooling = pooling
        w.state.touch("analysis")
        action = w.pooling_actions[pooling]
        if not action.isChecked():
            action.setChecked(True)
        if compute:
            w.refresh()
            w.request_maps(0)

    def set_layout(self, key: str) -> None:
        w = self.window
        w.layout_name = key
        if not w.layout_actions[key].isChecked():
            w.layout_actions[key].setChecked(True)
        w.refresh()
        w.request_maps(0)

    def display_changed(self) -> None:
        w = self.window
        before = w.display.show_contribution
        w.display = w.display_bar.read_display()
        if before != w.display.show_contribution:
            w.refresh()
        else:
            w.views.apply_display(w.display)
            self._update_guide()

    def toggle_map(self, on: bool) -> None:
        """Overlay on/off (key O): the image alone, then the map again, with nothing recomputed."""
        w = self.window
        w.views.set_map_visible(on)
        w.views.apply_display(w.display)

    def toggle_histogram(self, on: bool) -> None:
        w = self.window
        w.views.side.histogram.setVisible(on)
        w.views.side.apply_display(w.display)

    def _update_guide(self) -> None:
        w = self.window
        r = w.convis.result
        support = (r.support_text() if r is not None else "") if w.convis.on and w.layout_name == "side" \
            else None
        w.guide.set_html(guide_html(w.model, w.analysis, w.display, w.maps, support, self.shared_scale()))

    def control_changed(self, what: str) -> None:
        w = self.window
        if what == "device":
            if w.model is not None:
                w.models.request_model(w.model.on_device(w.controls.device_name()))
            return
        w.controls.read_analysis(w.analysis)
        if what == "texts":
            w.controls.update_shown(w.analysis.texts, w.analysis.shown)
            w.analysis.shown = max(w.controls.shown.currentIndex(), 0)
        w.state.touch("analysis")
        if what == "texts":
            w.request_maps(TEXT_DEBOUNCE_MS)
        elif what == "shown":
            w.convis.leave_convis()
            w.refresh()
        else:
            w.refresh()
            w.request_maps(0)

    def add_prompt(self, text: str) -> None:
        """Append a prompt line (from the WordNet dock) unless it is there, and map it."""
        w = self.window
        texts = w.controls.texts()
        if text not in texts:
            w.controls.prompts.appendPlainText(text)
            texts = w.controls.texts()
        w.controls.shown.setCurrentIndex(texts.index(text))
        w.status.set_job_text(f"prompt: {text}")

    def shown_clicked(self, index: int) -> None:
        w = self.window
        w.controls.shown.setCurrentIndex(index)

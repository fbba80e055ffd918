"""The window's analysis side: what a change of pooling, layout, display, prompt or image list
does — display changes redraw at once on the UI thread, the rest ask for maps (debounced)."""
from __future__ import annotations

from eclip_desktop.app.views.guide import guide_html

TEXT_DEBOUNCE_MS = 250


class AnalysisMixin:
    def set_pooling(self, pooling: str, compute: bool = True) -> None:
        self.analysis.pooling = pooling
        action = self.pooling_actions[pooling]
        if not action.isChecked():
            action.setChecked(True)
        if compute:
            self.refresh()
            self.request_maps(0)

    def set_layout(self, key: str) -> None:
        self.layout_name = key
        if not self.layout_actions[key].isChecked():
            self.layout_actions[key].setChecked(True)
        self.refresh()
        self.request_maps(0)

    def _display_changed(self) -> None:
        before = self.display.show_contribution
        self.display = self.display_bar.read_display()
        if before != self.display.show_contribution:
            self.refresh()
        else:
            self.views.apply_display(self.display)
            self._update_guide()

    def toggle_map(self, on: bool) -> None:
        """Overlay on/off (key O): the image alone, then the map again, with nothing recomputed."""
        self.views.set_map_visible(on)
        self.views.apply_display(self.display)

    def toggle_histogram(self, on: bool) -> None:
        self.views.side.histogram.setVisible(on)
        self.views.side.apply_display(self.display)

    def remove_current_image(self) -> None:
        path = self.image_list.current_path()
        if path is None:
            return
        self.image_list.remove(path)
        self._thumbs.discard(path)
        if self.image_list.current_path() is None:
            self.image_view, self.maps, self._context = None, {}, None
        self.refresh()
        self.request_maps(0)

    def _update_guide(self) -> None:
        r = self.convis_result
        support = (r.support_text() if r is not None else "") if self.convis_on and self.layout_name == "side" \
            else None
        self.guide.set_html(guide_html(self.model, self.analysis, self.display, self.maps, support))

    def _control_changed(self, what: str) -> None:
        if what == "device":
            if self.model is not None:
                self.request_model(self.model.on_device(self.controls.device_name()))
            return
        self.controls.read_analysis(self.analysis)
        if what == "texts":
            self.controls.update_shown(self.analysis.texts, self.analysis.shown)
            self.analysis.shown = max(self.controls.shown.currentIndex(), 0)
            self.request_maps(TEXT_DEBOUNCE_MS)
        elif what == "shown":
            self.leave_convis()
            self.refresh()
        else:
            self.refresh()
            self.request_maps(0)

    def add_prompt(self, text: str) -> None:
        """Append a prompt line (from the WordNet dock) unless it is there, and map it."""
        texts = self.controls.texts()
        if text not in texts:
            self.controls.prompts.appendPlainText(text)
            texts = self.controls.texts()
        self.controls.shown.setCurrentIndex(texts.index(text))
        self.status.set_job_text(f"prompt: {text}")

    def _shown_clicked(self, index: int) -> None:
        self.controls.shown.setCurrentIndex(index)

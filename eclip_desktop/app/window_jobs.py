"""The window's job side: what happens when a worker job starts, progresses, succeeds, fails or is
cancelled; each result goes to the part of the window it belongs to."""
from __future__ import annotations

from PySide6.QtCore import Qt


class JobsMixin:
    def _start_work(self, choice) -> None:
        if self._closing:
            return
        if choice is not None and self.model is None and self._pending_model == choice:
            self.request_model(choice)  # the list of models follows the first maps (_maps_ready)
        else:
            self.request_catalogue()

    def _busy_changed(self, _busy: bool) -> None:
        busy = self.compute.is_busy() or self.io.is_busy() or self.wordnet_dock.is_busy()
        self.status.set_busy(busy)

    def cancel_jobs(self) -> None:
        """Esc: stop the running jobs, and leave a text box so the plain keys work again."""
        focus = self.focusWidget()
        if focus is not None and (focus.inherits("QPlainTextEdit") or focus.inherits("QLineEdit")):
            self.centralWidget().setFocus(Qt.ShortcutFocusReason)
        self._debounce.stop()
        self.compute.cancel()
        self.io.cancel()

    def _job_partial(self, kind: str, obj) -> None:
        if kind == "maps" and obj.path == self.image_list.current_path():
            self.image_view = obj
            self.refresh()
        elif kind == "thumbs":
            self._thumbnail_ready(*obj)
        elif kind == "convis":
            self._convis_partial(obj)

    def _job_succeeded(self, kind: str, result) -> None:
        if kind == "model":
            self._model_loaded(result)
            self.status.set_job_text(f"loaded {result.choice.label()}")
        elif kind == "maps":
            self._maps_ready(result)
            self.status.set_job_text("maps ready" if result.maps else "")
        elif kind == "compare-model":
            self._compare_loaded(result)
            self.status.set_job_text(f"loaded the second model {result.choice.label()}")
        elif kind == "compare":
            self._compare_ready(result)
            self.status.set_job_text("second model's map ready")
        elif kind == "convis":
            self._convis_ready(result)
            self.status.set_job_text(f"ConVis map of {result.synset} ready")
        elif kind == "catalogue":
            self._catalogue_ready(result)
        elif kind == "faithfulness":
            self.faithfulness.done(result)
            self.status.set_job_text("deletion and insertion curves ready")
        elif kind == "mask":
            self._mask_ready(result)
        elif kind == "picture":
            if result.path == self.image_list.current_path() and (self.image_view is None
                                                                  or self.image_view.path != result.path):
                self.image_view = result
                self.refresh()
        else:
            self._file_job_done(kind, result)

    def _job_failed(self, kind: str, message: str) -> None:
        if kind == "picture":
            return  # the thumbnail and map jobs report an unreadable image, once
        if kind == "faithfulness":
            self.faithfulness.failed(message)
            return
        if kind == "model":
            self._model_failed(message)
        elif kind == "compare-model":
            self._compare_model_failed(message)
        elif kind == "compare":
            self._compare_failed(message)
        elif kind == "maps":
            if self.controls.picker.catalogue is None and not self._catalogue_asked:
                self.request_catalogue()
            self.banner.show_message(message, "error", "maps")
            if self.image_view is None:
                self._failed_path = self.image_list.current_path()
            self._map_note = "no map \u2014 see the message above"
            self.refresh()
        elif kind == "convis":
            self._convis_asked = None
            self.banner.show_message(message, "error", "convis")
            self.wordnet_dock.set_convis_status(message)
            self._convis_note = "no ConVis map \u2014 see the message above"
            self.refresh()
        else:
            self.banner.show_message(message, "error", kind)
        self.status.set_job_text("")

    def _job_cancelled(self, kind: str) -> None:
        if kind == "model":
            self._model_cancelled()
        elif kind == "catalogue":
            self.request_catalogue()  # Esc was meant for a map, not for the list of models
        elif kind == "compare-model":
            self._compare_model_cancelled()
        elif kind == "compare":
            self._compare_cancelled()
        elif kind == "faithfulness":
            self.faithfulness.failed("cancelled")
        if kind == "maps":
            self._map_note = "cancelled \u2014 press F5 to compute again"
            self.refresh()
        elif kind == "convis":
            self._convis_was_cancelled()
        self.status.set_job_text(f"{kind} cancelled")

    def _banner_action(self, action: str) -> None:
        if action in ("choose-model", "open-checkpoint", "load-open-clip"):
            self.controls_dock.show()
            self.controls_dock.raise_()
            self.controls.picker.arch.setFocus()
        if action == "open-checkpoint":
            self.controls.picker.open_checkpoint()
        elif action == "load-open-clip":
            self.load_open_clip()

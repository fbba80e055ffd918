"""Sessions: what the window shows, saved to a file and opened again (viewer/session.py checks them)."""
from __future__ import annotations

import os
import weakref

from PySide6.QtWidgets import QFileDialog

from eclip_desktop.viewer.session import (
    SUFFIX,
    Session,
    SessionError,
    load_session,
    save_session,
)

SESSION_FILTER = "eclip-desktop sessions (*.eclip.json *.json);;All files (*)"


class SessionPresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py

    @property
    def window(self):
        return self._window()

    def current_session(self) -> Session:
        w = self.window
        w.controls.read_analysis(w.analysis)
        paths = w.image_list.paths()
        current = w.image_list.currentRow()
        return Session(images=paths, current=max(current, 0), model=w.model, analysis=w.analysis,
                       display=w.display, layout=w.layout_name, synset=w.convis.selected_synset,
                       convis=w.convis.on, concept_set=w.wordnet_dock.key, compare=w.comparison.model,
                       shared_scale=w.act_shared_scale.isChecked())

    def save_session_dialog(self) -> None:
        w = self.window
        start = os.path.join(w.settings.last_dir(), "session" + SUFFIX)
        path, _ = QFileDialog.getSaveFileName(w, "Save session", start, SESSION_FILTER)
        if path:
            self.save_session(path)

    def save_session(self, path: str) -> bool:
        w = self.window
        try:
            written = save_session(path, self.current_session())
        except SessionError as exc:
            w.banner.show_message(str(exc), "error", "session")
            return False
        w.settings.add_recent_session(str(written))
        w.status.set_job_text(f"session saved to {written}")
        return True

    def open_session_dialog(self) -> None:
        w = self.window
        path, _ = QFileDialog.getOpenFileName(w, "Open session", w.settings.last_dir(), SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        w = self.window
        try:
            s = load_session(path)
        except SessionError as exc:
            w.banner.show_message(str(exc), "error", "session")
            return False
        w.settings.add_recent_session(os.path.abspath(path))
        w.image_list.blockSignals(True)
        w.image_list.clear()
        w.image_list.blockSignals(False)
        w.files.thumbs.clear()
        w.maps_area.clear_maps()
        w.analysis, w.display = s.analysis, s.display
        w.controls.show_analysis(w.analysis)
        w.display_bar.show_display(w.display)
        w.pooling_actions[w.analysis.pooling].setChecked(True)
        w.layout_name = s.layout
        w.layout_actions[s.layout].setChecked(True)
        if s.model is not None and s.model != w.model:
            w.models.request_model(s.model)
        w.act_shared_scale.setChecked(s.shared_scale)
        if s.compare is not None and s.compare != w.comparison.model:
            w.comparison.request_model(s.compare, show=False)
        if s.images:
            w.files.open_paths(s.images, select=False, remember=False)
            w.image_list.select(s.images[s.current])
        self._restore_concepts(s)
        if s.warnings:
            w.banner.show_message("; ".join(s.warnings), "warning", "session")
        w.refresh()
        w.request_maps(0)
        w.status.set_job_text(f"session opened from {path}")
        return True

    def _restore_concepts(self, s: Session) -> None:
        w = self.window
        from eclip_desktop.viewer.jobs.wordnet import BUILTIN_SETS
        dock = w.wordnet_dock
        if s.concept_set != dock.key:
            if s.concept_set in BUILTIN_SETS:
                dock.use_concept_set(s.concept_set)
            elif os.path.isfile(s.concept_set):
                dock.load_vocabulary(s.concept_set)
            else:
                s.warnings.append(f"the session's vocabulary file {s.concept_set} was not found; "
                                  "the concept set stays as it was")
        w.convis.selected_synset = s.synset
        if s.convis:
            w.convis.show_convis(s.synset)
        else:
            w.convis.leave_convis()

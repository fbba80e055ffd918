"""The window's file side: open, drop, recent files, sessions, copy and export of the figure."""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from eclip_desktop.app.session import (
    SUFFIX,
    Session,
    SessionError,
    load_session,
    save_session,
)
from eclip_desktop.app.views.figure import (
    contribution_figure,
    convis_figure,
    export_convis,
    export_grid,
    export_job,
    figure_job,
    grid_picture,
    grid_tiles,
    map_figure,
)
from eclip_desktop.app.widgets.image_list import (
    image_extensions,
    split_paths,
    to_qimage,
)
from eclip_desktop.app.workers.compute import thumbnails_job
from eclip_desktop.app.workers.jobs import Job
from eclip_desktop.core.figures.render import short_model_name

SESSION_FILTER = "eclip-desktop sessions (*.eclip.json *.json);;All files (*)"


def image_filter() -> str:
    exts = sorted(image_extensions())
    common = [e for e in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp") if e in exts]
    return f"Images ({' '.join('*' + e for e in common)});;All images ({' '.join('*' + e for e in exts)})"


class FilesMixin:
    """Needs: image_list, settings, banner, status, io, compute, analysis, display, model, maps."""

    # --- images -------------------------------------------------------------------------------

    def open_images_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open images", self.settings.last_dir(), image_filter())
        if paths:
            self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", self.settings.last_dir())
        if folder:
            self.open_paths([folder])

    def open_sample(self) -> None:
        from eclip_desktop.app.samples import sample_path, sample_prompts
        self.analysis.texts = sample_prompts()
        self.controls.show_analysis(self.analysis)
        self.open_paths([str(sample_path())], remember=False)

    def open_paths(self, paths, select: bool = True, remember: bool = True) -> list[str]:
        """Add image files (and the images of folders) to the list; say which inputs were refused."""
        images, rejected = split_paths(paths)
        if rejected:
            names = ", ".join(os.path.basename(p) or p for p in rejected[:4]) + (" \u2026" if len(rejected) > 4 else "")
            self.banner.show_message(f"Not an image: {names}. Open PNG, JPEG, TIFF, BMP or WebP files, or a "
                                     "folder that contains them.", "warning", "files")
        elif not images and paths:
            self.banner.show_message("No image files found there.", "warning", "files")
        if not images:
            return []
        added = self.image_list.add_paths(images)
        if remember:
            for p in paths:
                self.settings.add_recent(os.fspath(p))
            self.settings.set_last_dir(os.fspath(paths[0]))
        self._submit_thumbnails()
        if select:
            first = os.path.abspath(images[0])
            if self.image_list.current_path() == first:
                self.request_maps(0)
            else:
                self.image_list.select(first)
        return added

    def _submit_thumbnails(self) -> None:
        todo = [p for p in self.image_list.paths() if p not in self._thumbs]
        if todo:
            self.io.submit(Job("thumbs", thumbnails_job(todo), label="reading thumbnails \u2026"))

    def _thumbnail_ready(self, path: str, thumb, error: str | None) -> None:
        self._thumbs.add(path)
        if thumb is not None:
            self.image_list.set_thumbnail(path, thumb)
        else:
            self.image_list.mark_broken(path, error)
            self.banner.show_message(error, "error", "files")
            if path == self.image_list.current_path():
                self.image_view = None
                self.refresh()

    def _image_selected(self, path: str) -> None:
        if self.image_view is not None and self.image_view.path != path:
            self.image_view = None
        self.status.set_cursor("")
        self.request_maps(0)

    # --- drag and drop ------------------------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        urls = event.mimeData().urls()
        local = [u.toLocalFile() for u in urls if u.isLocalFile()]
        if not local:
            self.banner.show_message("Only files from this computer can be dropped here.", "warning", "files")
            return
        event.acceptProposedAction()
        self.open_paths(local)

    # --- recent ---------------------------------------------------------------------------------

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files, sessions = self.settings.recent(), self.settings.recent_sessions()
        for p in files:
            menu.addAction(p, lambda p=p: self.open_paths([p]))
        if sessions:
            menu.addSeparator()
            for p in sessions:
                menu.addAction(f"session: {p}", lambda p=p: self.open_session(p))
        if not files and not sessions:
            menu.addAction("(nothing yet)").setEnabled(False)

    # --- sessions ------------------------------------------------------------------------------

    def current_session(self) -> Session:
        self.controls.read_analysis(self.analysis)
        paths = self.image_list.paths()
        current = self.image_list.currentRow()
        return Session(images=paths, current=max(current, 0), model=self.model, analysis=self.analysis,
                       display=self.display, layout=self.layout_name, synset=self.selected_synset,
                       convis=self.convis_on, concept_set=self.wordnet_dock.key, compare=self.compare_model,
                       shared_scale=self.act_shared_scale.isChecked())

    def save_session_dialog(self) -> None:
        start = os.path.join(self.settings.last_dir(), "session" + SUFFIX)
        path, _ = QFileDialog.getSaveFileName(self, "Save session", start, SESSION_FILTER)
        if path:
            self.save_session(path)

    def save_session(self, path: str) -> bool:
        try:
            written = save_session(path, self.current_session())
        except SessionError as exc:
            self.banner.show_message(str(exc), "error", "session")
            return False
        self.settings.add_recent_session(str(written))
        self.status.set_job_text(f"session saved to {written}")
        return True

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", self.settings.last_dir(), SESSION_FILTER)
        if path:
            self.open_session(path)

    def open_session(self, path: str) -> bool:
        try:
            s = load_session(path)
        except SessionError as exc:
            self.banner.show_message(str(exc), "error", "session")
            return False
        self.settings.add_recent_session(os.path.abspath(path))
        self.image_list.blockSignals(True)
        self.image_list.clear()
        self.image_list.blockSignals(False)
        self._thumbs.clear()
        self.image_view, self.maps, self._context = None, {}, None
        self.analysis, self.display = s.analysis, s.display
        self.controls.show_analysis(self.analysis)
        self.display_bar.show_display(self.display)
        self.pooling_actions[self.analysis.pooling].setChecked(True)
        self.layout_name = s.layout
        self.layout_actions[s.layout].setChecked(True)
        if s.model is not None and s.model != self.model:
            self.request_model(s.model)
        self.act_shared_scale.setChecked(s.shared_scale)
        if s.compare is not None and s.compare != self.compare_model:
            self.request_compare_model(s.compare, show=False)
        if s.images:
            self.open_paths(s.images, select=False, remember=False)
            self.image_list.select(s.images[s.current])
        self._restore_concepts(s)
        if s.warnings:
            self.banner.show_message("; ".join(s.warnings), "warning", "session")
        self.refresh()
        self.request_maps(0)
        self.status.set_job_text(f"session opened from {path}")
        return True

    def _restore_concepts(self, s: Session) -> None:
        from eclip_desktop.app.wordnet.service import BUILTIN_SETS
        dock = self.wordnet_dock
        if s.concept_set != dock.key:
            if s.concept_set in BUILTIN_SETS:
                dock.use_concept_set(s.concept_set)
            elif os.path.isfile(s.concept_set):
                dock.load_vocabulary(s.concept_set)
            else:
                s.warnings.append(f"the session's vocabulary file {s.concept_set} was not found; "
                                  "the concept set stays as it was")
        self.selected_synset = s.synset
        if s.convis:
            self.show_convis(s.synset)
        else:
            self.leave_convis()

    # --- figure ----------------------------------------------------------------------------------

    def _shown_convis(self):
        """The ConVis result the map pane shows now, or None (prompt maps, or not computed yet)."""
        r = self.convis_result
        if (not self.convis_on or self.layout_name != "side" or self.image_view is None
                or not self._convis_current(self._convis_request()) or r.request.path != self.image_view.path):
            return None
        return r

    def _model_text(self) -> str:
        # Folder and file name only: a picture must not carry (or be cut by) an absolute path.
        return short_model_name(self.model_info["model"], self.model_info["pretrained"]) if self.model_info else ""

    def _shown_grid(self, model: str):
        """(grid kind, tiles, title lines, export options) of a grid layout on screen, or None in the
        side-by-side view."""
        from eclip_desktop.app.views.layouts import needed_pairs
        kinds = {"poolings": "pooling", "prompts": "prompt", "methods": "method"}
        if self.layout_name == "compare" and self.image_view is not None:
            return self.compare_grid()
        if self.layout_name not in kinds or self.image_view is None:
            return None
        a = self.analysis
        tiles = grid_tiles(self.maps, needed_pairs(self.layout_name, a, self.model), self.layout_name,
                           a.shown_index())
        if not tiles:
            return None
        kind = kinds[self.layout_name]
        if kind == "pooling" and self.model is not None and self.model.family:
            model = self.model.label()  # each tile is another sibling: no single weights file to name
        fixed = {"pooling": f"method: {a.method}", "prompt": f"method: {a.method} \u00b7 pooling: {a.pooling}",
                 "method": f"pooling: {a.pooling}"}[kind]
        lines = [f"{Path(self.image_view.path).name}: one tile per {kind}", f"{model} \u00b7 {fixed}"]
        if kind != "prompt":
            # Every tile maps the same prompt; without it the grid would not say what was looked for.
            ms = next((m for m in self.maps.values() if m.heatmaps), None)
            if ms is not None:
                lines.insert(1, f"\u201c{ms.heatmaps[min(a.shown_index(), len(ms.heatmaps) - 1)].text}\u201d")
        return kind, tiles, lines, {}

    def _figure_parts(self):
        """(image view, builder of the FigureSpec, map set, text index) of the map on screen;
        for a ConVis map the map set and index are None."""
        a = self.analysis
        model = self._model_text()
        convis = self._shown_convis()
        if convis is not None:
            return self.image_view, lambda rgb: convis_figure(rgb, convis, model), None, None
        grid = self._shown_grid(model)
        if grid is not None:
            kind, tiles, title, options = grid
            label = options.get("colorbar_label")
            return self.image_view, lambda rgb: grid_picture(rgb, tiles, title, self.display, label), kind, tiles
        ms = self.maps.get((a.method, a.pooling))
        if self.image_view is None or ms is None:
            return None
        t = min(a.shown_index(), len(ms.heatmaps) - 1)
        if self.display.show_contribution:
            def build(rgb):
                return contribution_figure(rgb, ms.contribution, a.pooling, model)
        else:
            def build(rgb):
                return map_figure(rgb, ms.heatmaps[t], a.pooling, ms.scores, t, ms.trained_with_pooling)
        return self.image_view, build, ms, t

    def copy_figure(self) -> None:
        parts = self._figure_parts()
        if parts is None:
            self.banner.show_message("Nothing to copy yet: no map is shown.", "info", "figure")
            return
        view, build, _, _ = parts
        self.io.submit(Job("figure", figure_job(view.path, view.sha256, build, self.display),
                           label="rendering figure \u2026"))

    def batch_export_dialog(self) -> None:
        from eclip_desktop.app.dialogs.batch import BatchExportDialog
        if getattr(self, "batch_dialog", None) is None:
            self.batch_dialog = BatchExportDialog(self)
        self.batch_dialog.show()
        self.batch_dialog.raise_()

    def export_dialog(self) -> None:
        parts = self._figure_parts()
        if parts is None:
            self.banner.show_message("Nothing to export yet: no map is shown.", "info", "export")
            return
        from eclip_desktop.app.dialogs.export import ExportMapDialog
        dialog = ExportMapDialog(self, getattr(self, "_export_folder", "") or self.settings.export_dir(),
                                 self.figure_options)
        if dialog.exec() != ExportMapDialog.Accepted:
            return
        folder, self.figure_options = dialog.result_options()
        self._export_folder = folder
        self.settings.set_export_dir(folder)
        overwrite = False
        stem = Path(parts[0].path).stem
        if isinstance(parts[2], str):
            pattern, what = f"{stem}__grid-{parts[2]}.*", "This grid\u2019s files are"
        elif parts[2] is None:
            pattern, what = f"{stem}__convis__{self.selected_synset}.*", "The files of this synset\u2019s ConVis map are"
        else:
            pattern = f"{stem}__{self.analysis.method}__{self.analysis.pooling}__*"
            what = "Maps of this image with this method and pooling are"
        if any(Path(folder).glob(pattern)):
            answer = QMessageBox.question(self, "Replace files?", f"{what} already in that folder. "
                                          "Replace them?")
            if answer != QMessageBox.Yes:
                return
            overwrite = True
        self.export_map(folder, overwrite)

    def _export_kind(self) -> str:
        # Each export is its own kind: a second export must not supersede (cancel) the first.
        self._exports = getattr(self, "_exports", 0) + 1
        return f"export:{self._exports}"

    def export_map(self, folder: str, overwrite: bool = False, options=None) -> None:
        parts = self._figure_parts()
        if parts is None:
            return
        view, _, ms, t = parts
        if isinstance(ms, str):  # a grid layout: the grid figure and its sidecar
            kind, tiles, title, grid_options = self._shown_grid(self._model_text())
            self.io.submit(Job(self._export_kind(), export_job(
                view.path, view.sha256, folder, overwrite, writer=export_grid, kind=kind, tiles=tiles,
                title=title, display=self.display, model_info=self.model_info or {}, **grid_options),
                label="exporting \u2026"))
            return
        if ms is None:
            self.io.submit(Job(self._export_kind(), export_job(
                view.path, view.sha256, folder, overwrite, writer=export_convis, result=self._shown_convis(),
                display=self.display, model_info=self.model_info or {}, options=options or self.figure_options),
                label="exporting \u2026"))
            return
        labels = [h.text for h in ms.heatmaps]
        # The sidecar describes the map on screen: its own pooling and method options, not the controls'
        # current ones (a switch flipped since may not have been computed yet).
        options_used = ms.method_options if ms.method_options is not None else self.analysis.method_options(ms.method)
        self.io.submit(Job(self._export_kind(), export_job(
            view.path, view.sha256, folder, overwrite, heatmap=ms.heatmaps[t], pooling=ms.pooling, scores=ms.scores,
            labels=labels, index=t, display=self.display, trained_with_pooling=ms.trained_with_pooling,
            model_info=ms.model_info or self.model_info or {}, method_options=options_used,
            options=options or self.figure_options, ensemble=ms.ensemble, tau=ms.tau),
            label="exporting \u2026"))

    def _file_job_done(self, kind: str, result) -> None:
        if kind == "figure":
            h, w = result.shape[:2]
            QApplication.clipboard().setImage(to_qimage(result))
            self.status.set_job_text(f"figure copied to the clipboard ({w}\u00d7{h} px)")
        elif kind.startswith("export:"):
            self.status.set_job_text(f"wrote {', '.join(p.name for p in result)}")
        elif kind == "batch":
            self.status.set_job_text(f"batch export: {result.summary()}")

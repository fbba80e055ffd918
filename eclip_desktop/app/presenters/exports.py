"""Figures out of the window: copy, Export Map (the figure, raw map and sidecar of what is on
screen) and the batch export dialog."""
from __future__ import annotations

import weakref
from pathlib import Path

from PySide6.QtWidgets import QApplication, QMessageBox

from eclip_desktop.app.widgets.image_list import (
    to_qimage,
)
from eclip_desktop.core.figures.render import short_model_name
from eclip_desktop.viewer.figure import (
    contribution_figure,
    convis_figure,
    export_convis,
    export_grid,
    export_job,
    figure_job,
    grid_picture,
    map_figure,
)
from eclip_desktop.viewer.layouts import grid_figure


class ExportPresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.folder = ""
        self.count = 0
        self.batch_dialog = None

    @property
    def window(self):
        return self._window()

    def shown_convis(self):
        """The ConVis result the map pane shows now, or None (prompt maps, or not computed yet)."""
        w = self.window
        r = w.convis.result
        if (not w.convis.on or w.layout_name != "side" or w.image_view is None
                or not w.convis.convis_current(w.convis.convis_request()) or r.request.path != w.image_view.path):
            return None
        return r

    def _model_text(self) -> str:
        w = self.window
        # Folder and file name only: a picture must not carry (or be cut by) an absolute path.
        return short_model_name(w.model_info["model"], w.model_info["pretrained"]) if w.model_info else ""

    def _shown_grid(self, model: str):
        """(grid kind, tiles, title lines, export options) of a grid layout on screen, or None in the
        side-by-side view (the layout module composes its figure: viewer/layouts/)."""
        w = self.window
        if w.image_view is None:
            return None
        if w.layout_name == "compare":
            return w.comparison.grid()
        return grid_figure(w.layout_name, w.maps, w.analysis, w.model, Path(w.image_view.path).name, model)

    def _figure_parts(self):
        """(image view, builder of the FigureSpec, map set, text index) of the map on screen;
        for a ConVis map the map set and index are None."""
        w = self.window
        a = w.analysis
        model = self._model_text()
        convis = self.shown_convis()
        if convis is not None:
            return w.image_view, lambda rgb: convis_figure(rgb, convis, model, w.convis.listed_for(convis)), None, None
        grid = self._shown_grid(model)
        if grid is not None:
            kind, tiles, title, options = grid
            label = options.get("colorbar_label")
            return w.image_view, lambda rgb: grid_picture(rgb, tiles, title, w.display, label), kind, tiles
        ms = w.maps.get((a.method, a.pooling))
        if w.image_view is None or ms is None:
            return None
        t = min(a.shown_index(), len(ms.heatmaps) - 1)
        if w.display.show_contribution:
            def build(rgb):
                return contribution_figure(rgb, ms.contribution, a.pooling, model)
        else:
            def build(rgb):
                return map_figure(rgb, ms.heatmaps[t], a.pooling, ms.scores, t, ms.trained_with_pooling)
        return w.image_view, build, ms, t

    def copy_figure(self) -> None:
        w = self.window
        parts = self._figure_parts()
        if parts is None:
            w.banner.show_message("Nothing to copy yet: no map is shown.", "info", "figure")
            return
        view, build, _, _ = parts
        w.submit(w.io, "figure", figure_job(view.path, view.sha256, build, w.display), "rendering figure \u2026",
                 self._figure_copied)

    def batch_export_dialog(self) -> None:
        from eclip_desktop.app.dialogs.batch import BatchExportDialog
        if self.batch_dialog is None:
            self.batch_dialog = BatchExportDialog(self.window)
        self.batch_dialog.show()
        self.batch_dialog.raise_()

    def export_dialog(self) -> None:
        w = self.window
        parts = self._figure_parts()
        if parts is None:
            w.banner.show_message("Nothing to export yet: no map is shown.", "info", "export")
            return
        from eclip_desktop.app.dialogs.export import ExportMapDialog
        dialog = ExportMapDialog(w, self.folder or w.settings.export_dir(),
                                 w.figure_options)
        if dialog.exec() != ExportMapDialog.Accepted:
            return
        folder, w.figure_options = dialog.result_options()
        self.folder = folder
        w.settings.set_export_dir(folder)
        overwrite = False
        stem = Path(parts[0].path).stem
        if isinstance(parts[2], str):
            pattern, what = f"{stem}__grid-{parts[2]}.*", "This grid\u2019s files are"
        elif parts[2] is None:
            pattern, what = f"{stem}__convis__{w.convis.selected_synset}.*", "The files of this synset\u2019s ConVis map are"
        else:
            pattern = f"{stem}__{w.analysis.method}__{w.analysis.pooling}__*"
            what = "Maps of this image with this method and pooling are"
        if any(Path(folder).glob(pattern)):
            answer = QMessageBox.question(w, "Replace files?", f"{what} already in that folder. "
                                          "Replace them?")
            if answer != QMessageBox.Yes:
                return
            overwrite = True
        self.export_map(folder, overwrite)

    def _export(self, run) -> None:
        w = self.window
        # Each export is its own kind: a second export must not supersede (cancel) the first.
        self.count += 1
        w.submit(w.io, f"export:{self.count}", run, "exporting \u2026", lambda _paths: None,
                 done_text=lambda paths: f"wrote {', '.join(p.name for p in paths)}")

    def export_map(self, folder: str, overwrite: bool = False, options=None) -> None:
        w = self.window
        parts = self._figure_parts()
        if parts is None:
            return
        view, _, ms, t = parts
        if isinstance(ms, str):  # a grid layout: the grid figure and its sidecar
            kind, tiles, title, grid_options = self._shown_grid(self._model_text())
            self._export(export_job(
                view.path, view.sha256, folder, overwrite, writer=export_grid, kind=kind, tiles=tiles,
                title=title, display=w.display, model_info=w.model_info or {}, **grid_options))
            return
        if ms is None:
            self._export(export_job(
                view.path, view.sha256, folder, overwrite, writer=export_convis, result=self.shown_convis(),
                display=w.display, model_info=w.model_info or {}, options=options or w.figure_options,
                concepts=w.convis.listed_for(self.shown_convis())))
            return
        labels = [h.text for h in ms.heatmaps]
        # The sidecar describes the map on screen: its own pooling and method options, not the controls'
        # current ones (a switch flipped since may not have been computed yet).
        options_used = ms.method_options if ms.method_options is not None else w.analysis.method_options(ms.method)
        self._export(export_job(
            view.path, view.sha256, folder, overwrite, heatmap=ms.heatmaps[t], pooling=ms.pooling, scores=ms.scores,
            labels=labels, index=t, display=w.display, trained_with_pooling=ms.trained_with_pooling,
            model_info=ms.model_info or w.model_info or {}, method_options=options_used,
            options=options or w.figure_options, ensemble=ms.ensemble, tau=ms.tau))

    def _figure_copied(self, picture) -> None:
        w = self.window
        height, width = picture.shape[:2]
        QApplication.clipboard().setImage(to_qimage(picture))
        w.status.set_job_text(f"figure copied to the clipboard ({width}\u00d7{height} px)")

"""File ▸ Batch Export: images × prompts/synsets × poolings × methods, with progress, cancel and ETA.

The dialog only gathers an ExportRequest; the work is the CLI's `export` (core/export/batch.py) on
the worker that owns the model (batch_job.py), so the files, index and resume rule are the same.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.explain.methods import get_method, method_names
from eclip_desktop.core.export.batch import FIGURE_SUFFIX, RAW_SUFFIX, ExportRequest
from eclip_desktop.core.figures.grids import GRID_KINDS
from eclip_desktop.core.model.poolings import POOLING_LABELS, POOLING_SHORT, pooling_names
from eclip_desktop.viewer.jobs.batch import (
    BatchOutcome,
    BatchProgress,
    batch_export_job,
    check_request,
    images,
)

KIND = "batch"
SHOWN_FAILURES = 5  # failed images named in the dialog; index.csv lists them all


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "estimating the time left \u2026"
    if seconds < 90:
        return f"about {seconds:.0f} s left"
    return f"about {seconds / 60:.1f} min left"


def _checks(names, labels, checked, tips=None) -> tuple[QWidget, dict[str, QCheckBox]]:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    boxes = {}
    for n in names:
        cb = QCheckBox(labels.get(n, n))
        cb.setChecked(n in checked)
        if tips and n in tips:
            cb.setToolTip(tips[n])
        row.addWidget(cb)
        boxes[n] = cb
    row.addStretch(1)
    return box, boxes


class BatchExportDialog(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("Batch Export")
        self.setMinimumWidth(620)
        self._running = False
        self.outcome: BatchOutcome | None = None
        a = window.analysis
        listed = window.image_list.paths()

        sources = QGroupBox("Images")
        s = QVBoxLayout(sources)
        self.use_list = QRadioButton(f"the {len(listed)} image(s) in the list")
        self.use_other = QRadioButton("a folder, glob or list file:")
        self.other = QLineEdit()
        self.other.setPlaceholderText("/data/images   or   /data/**/*.jpg   or   list.txt")
        browse_in = QPushButton("Folder\u2026")
        browse_in.clicked.connect(self._pick_input)
        self.use_list.setChecked(bool(listed))
        self.use_other.setChecked(not listed)
        self.use_list.setEnabled(bool(listed))
        row = QHBoxLayout()
        row.addWidget(self.use_other)
        row.addWidget(self.other, 1)
        row.addWidget(browse_in)
        s.addWidget(self.use_list)
        s.addLayout(row)

        what = QGroupBox("What to export")
        f = QFormLayout(what)
        self.texts = QPlainTextEdit("\n".join(a.texts))
        self.texts.setPlaceholderText("one prompt per line (leave empty for ConVis maps only)")
        self.texts.setFixedHeight(80)
        f.addRow("Prompts", self.texts)
        self.synsets = QLineEdit(getattr(window, "selected_synset", "") or "")
        self.synsets.setPlaceholderText("e.g. circle.n.01 polygon.n.01 (ConVis maps; empty for none)")
        f.addRow("Synsets", self.synsets)
        w, self.methods = _checks(method_names(), {m: get_method(m).label for m in method_names()}, {a.method})
        f.addRow("Methods", w)
        w, self.poolings = _checks(pooling_names(), POOLING_SHORT, {a.pooling}, POOLING_LABELS)
        f.addRow("Poolings", w)
        w, self.grids = _checks(GRID_KINDS, {}, set())
        f.addRow("Grids", w)
        # One grid per image and kind, as `export --grid` makes them: say which maps it is built from.
        grid_note = QLabel("One grid per image: pooling grid = the first prompt and method; method grid = the "
                           "first prompt and pooling; prompt grid = the first method and pooling; concept grid = "
                           "every synset.")
        grid_note.setWordWrap(True)
        grid_note.setStyleSheet("color: palette(mid);")
        self.grid_note = grid_note
        f.addRow("", grid_note)

        files = QGroupBox("Files")
        g = QFormLayout(files)
        self.format = QComboBox()
        self.format.addItems(list(FIGURE_SUFFIX))
        g.addRow("Figure format", self.format)
        w, self.raw = _checks(list(RAW_SUFFIX), {"png16": "16-bit PNG", "tiff16": "16-bit TIFF"}, set())
        g.addRow("Raw maps (.npy always)", w)
        self.out = QLineEdit(window.settings.export_dir())  # not the images' folder (see AppSettings)
        browse_out = QPushButton("Folder\u2026")
        browse_out.clicked.connect(self._pick_output)
        row = QHBoxLayout()
        row.addWidget(self.out, 1)
        row.addWidget(browse_out)
        g.addRow("Output folder", row)
        self.overwrite = QCheckBox("replace existing files (otherwise complete maps are skipped)")
        g.addRow("", self.overwrite)

        self.bar = QProgressBar()
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.start_btn = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.cancel_btn = self.buttons.addButton("Cancel Export", QDialogButtonBox.ActionRole)
        self.open_btn = self.buttons.addButton("Open Folder", QDialogButtonBox.ActionRole)
        self.close_btn = self.buttons.addButton(QDialogButtonBox.Close)
        self.cancel_btn.setEnabled(False)
        self.open_btn.setEnabled(False)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.open_btn.clicked.connect(self._open_folder)
        self.close_btn.clicked.connect(self.close)

        box = QVBoxLayout(self)
        for widget in (sources, what, files, self.bar, self.status, self.buttons):
            box.addWidget(widget)

    # --- input ------------------------------------------------------------------------------------

    def _pick_input(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the images of", self.window_.settings.last_dir())
        if folder:
            self.other.setText(folder)
            self.use_other.setChecked(True)

    def _pick_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Write the maps into", self.out.text())
        if folder:
            self.out.setText(folder)

    def request(self) -> ExportRequest:
        from eclip_desktop.core.export.inputs import collect_images
        if self.use_list.isChecked():
            images = self.window_.image_list.paths()
        else:
            spec = self.other.text().strip()
            if not spec:
                raise EclipError("batch export: name a folder, glob or list file of images, or use the list")
            if not set("*?[") & set(spec) and not Path(spec).expanduser().exists():
                raise EclipError(f"batch export: {spec} does not exist")
            images = collect_images([spec], exclude=self.out.text().strip() or None)
        out = self.out.text().strip()
        if not out:
            raise EclipError("batch export: choose an output folder")
        a, d = self.window_.analysis, self.window_.display
        texts = [t.strip() for t in self.texts.toPlainText().splitlines() if t.strip()]
        chosen = lambda boxes: [n for n, cb in boxes.items() if cb.isChecked()]  # noqa: E731
        return ExportRequest(
            images=images, out_dir=out, texts=texts, synsets=self.synsets.text().replace(",", " ").split(),
            methods=chosen(self.methods), poolings=chosen(self.poolings), figure_format=self.format.currentText(),
            raw=["npy", *chosen(self.raw)], overwrite=self.overwrite.isChecked(), ensemble=a.ensemble,
            tau=a.tau, cmap=d.colormap, alpha=d.opacity, grids=chosen(self.grids),
            method_options={m: a.method_options(m) for m in chosen(self.methods)})

    # --- run --------------------------------------------------------------------------------------

    def start(self) -> None:
        win = self.window_
        if win.model is None:
            self._say("Choose a model first (Controls \u25b8 Model): batch export uses the loaded model.", True)
            return
        try:
            req = self.request()
            check_request(req)
        except EclipError as exc:
            self._say(str(exc), True)
            return
        wordnet = win.wordnet_dock.service if req.synsets else None
        self.outcome = None
        self._set_running(True)
        self.bar.setRange(0, len(req.images))
        self.bar.setValue(0)
        self._say(f"exporting {len(req.images)} image(s) into {req.out_dir} \u2026")
        win.submit(win.compute, KIND, batch_export_job(req, win.model, wordnet, win.wordnet_dock.key),
                   "batch export \u2026", self._succeeded, self._failed, self._cancelled, self._partial,
                   done_text=lambda outcome: f"batch export: {outcome.summary()}", yields=True)

    def cancel(self) -> None:
        self.window_.compute.cancel(KIND)
        self._say("cancelling after the current image \u2026")

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.start_btn.setEnabled(not running)
        self.cancel_btn.setEnabled(running)
        self.close_btn.setEnabled(not running)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020;" if error else "")
        self.status.setText(text)

    def _partial(self, info) -> None:
        if not isinstance(info, BatchProgress):
            return
        self.bar.setValue(info.done)
        self._say(f"[{info.done}/{info.total}] {Path(info.image).name} \u2014 {images(info.images_done)} done, "
                  f"{info.images_failed} failed \u2014 {eta_text(info.eta_s)}")

    def _succeeded(self, outcome) -> None:
        self.outcome = outcome
        self._set_running(False)
        self.open_btn.setEnabled(True)
        failures = outcome.failures()
        # the core's reasons name the file already; others get its name in front
        lines = [why if Path(image).name in why else f"{Path(image).name}: {why}"
                 for image, why in failures[:SHOWN_FAILURES]]
        if len(failures) > SHOWN_FAILURES:
            lines.append(f"\u2026 and {len(failures) - SHOWN_FAILURES} more")
        if failures:
            lines.append(f"every map of the run, and why one failed, is listed in {Path(outcome.out_dir) / 'index.csv'}")
        self._say("\n".join([outcome.summary(), *lines, *outcome.notices]), bool(failures))

    def _failed(self, message: str) -> None:
        self._set_running(False)
        self._say(message, True)

    def _cancelled(self) -> None:
        self._set_running(False)
        self._say("batch export cancelled; export again with the same settings to resume")

    def _open_folder(self) -> None:
        if self.outcome is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.outcome.out_dir))

    def closeEvent(self, event) -> None:
        if self._running:  # the job would write on with nobody watching: ask to cancel first
            self._say("an export is running: cancel it first", True)
            event.ignore()
            return
        super().closeEvent(event)

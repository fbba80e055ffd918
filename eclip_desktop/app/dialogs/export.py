"""File ▸ Export Map: where to, and how the figure is drawn (format, layout, width)."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
)

from eclip_desktop.viewer.figure import FIGURE_FORMATS, FIGURE_LAYOUTS, FigureOptions

FORMAT_LABELS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF", "svg": "SVG (vector title and colorbar)"}


class ExportMapDialog(QDialog):
    def __init__(self, parent, folder: str, options: FigureOptions):
        super().__init__(parent)
        self.setWindowTitle("Export Map")
        self.setMinimumWidth(520)
        form = QFormLayout(self)
        self.folder = QLineEdit(folder)
        browse = QPushButton("Folder\u2026")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("Folder", row)
        self.format = QComboBox()
        for key in FIGURE_FORMATS:
            self.format.addItem(FORMAT_LABELS[key], key)
        self.format.setCurrentIndex(self.format.findData(options.format))
        form.addRow("Figure format", self.format)
        self.layout_box = QComboBox()
        for key, label in FIGURE_LAYOUTS.items():
            self.layout_box.addItem(label, key)
        self.layout_box.setCurrentIndex(self.layout_box.findData(options.layout))
        form.addRow("Layout", self.layout_box)
        self.width = QSpinBox()
        self.width.setRange(0, 16384)
        self.width.setSingleStep(100)
        self.width.setSpecialValueText("the image's own")
        self.width.setSuffix(" px")
        self.width.setValue(options.width)
        form.addRow("Panel width", self.width)
        note = QLabel("The raw map (.npy, float32 at the image size) and a JSON sidecar are always written; "
                      "the title, colorbar and threshold outline follow the display settings.")
        note.setWordWrap(True)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export the map into", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _accept(self) -> None:
        if self.folder.text().strip():
            self.accept()
        else:
            self.folder.setFocus()
            self.folder.setPlaceholderText("choose a folder")

    def result_options(self) -> tuple[str, FigureOptions]:
        return self.folder.text().strip(), FigureOptions(self.format.currentData(), self.layout_box.currentData(),
                                                         self.width.value())

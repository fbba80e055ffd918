"""The list of open images with thumbnails; arrow keys and Page Up/Down move through it."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem

PATH_ROLE = Qt.UserRole
_PLACEHOLDER_SIDE = 64


def image_extensions() -> set[str]:
    """Suffixes of the raster formats the tool opens (core/io/imageio.RASTER_FORMATS), lower case, with
    the dot: not every format Pillow knows (EPS would go to Ghostscript)."""
    from eclip_desktop.core.io.imageio import RASTER_FORMATS
    return {ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in RASTER_FORMATS}


def split_paths(paths) -> tuple[list[str], list[str]]:
    """(image files, rejected) from files and folders; folders give their images, sorted by name."""
    exts = image_extensions()
    images, rejected = [], []
    for raw in paths:
        p = Path(os.fspath(raw)).expanduser()
        if p.is_dir():
            images += [str(c) for c in sorted(p.iterdir(), key=lambda c: c.name.lower())
                       if c.is_file() and c.suffix.lower() in exts]
        elif p.suffix.lower() in exts:
            images.append(str(p))
        else:
            rejected.append(str(p))
    return images, rejected


def to_qimage(rgb: np.ndarray) -> QImage:
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()  # copy: numpy owns `data`


class ImageList(QListWidget):
    image_selected = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setIconSize(QSize(_PLACEHOLDER_SIDE, _PLACEHOLDER_SIDE))
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setUniformItemSizes(True)
        self.setTextElideMode(Qt.ElideMiddle)
        # Names are elided to the panel's width; a sideways scroll bar would hide the thumbnails' text.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setSpacing(2)
        placeholder = QPixmap(_PLACEHOLDER_SIDE, _PLACEHOLDER_SIDE)
        placeholder.fill(QColor(90, 90, 90))
        self._placeholder = QIcon(placeholder)
        self.currentRowChanged.connect(self._row_changed)

    def paths(self) -> list[str]:
        return [self.item(i).data(PATH_ROLE) for i in range(self.count())]

    def current_path(self) -> str | None:
        item = self.currentItem()
        return item.data(PATH_ROLE) if item else None

    def add_paths(self, paths: list[str]) -> list[str]:
        """Append paths not already listed; returns those added."""
        known = {os.path.abspath(p) for p in self.paths()}
        added = []
        for p in paths:
            full = os.path.abspath(p)
            if full in known:
                continue
            known.add(full)
            item = QListWidgetItem(self._placeholder, os.path.basename(full))
            item.setData(PATH_ROLE, full)
            item.setToolTip(full)
            self.addItem(item)
            added.append(full)
        return added

    def row_of(self, path: str) -> int:
        full = os.path.abspath(path)
        return next((i for i in range(self.count()) if self.item(i).data(PATH_ROLE) == full), -1)

    def select(self, path: str) -> None:
        row = self.row_of(path)
        if row >= 0:
            self.setCurrentRow(row)

    def set_thumbnail(self, path: str, rgb: np.ndarray) -> None:
        row = self.row_of(path)
        if row >= 0:
            self.item(row).setIcon(QIcon(QPixmap.fromImage(to_qimage(rgb))))

    def mark_broken(self, path: str, message: str) -> None:
        row = self.row_of(path)
        if row >= 0:
            item = self.item(row)
            item.setForeground(QColor(200, 40, 50))
            item.setToolTip(f"{path}\n{message}")
            item.setData(Qt.UserRole + 1, message)

    def broken_message(self, path: str) -> str | None:
        row = self.row_of(path)
        return self.item(row).data(Qt.UserRole + 1) if row >= 0 else None

    def remove(self, path: str) -> None:
        """Take one image out of the list; the next one (or none) becomes current."""
        row = self.row_of(path)
        if row >= 0:
            self.takeItem(row)
            if self.count() == 0:
                self.image_selected.emit("")  # nothing is current any more: the views must empty

    def step(self, delta: int) -> None:
        if self.count():
            self.setCurrentRow((max(self.currentRow(), 0) + delta) % self.count())

    def _row_changed(self, row: int) -> None:
        if row >= 0:
            self.image_selected.emit(self.item(row).data(PATH_ROLE))

"""The list of open images with thumbnails; arrow keys and Page Up/Down move through it.

Names are shortened in the middle of the stem and keep their extension ("chel\u2026sea.png"): Qt's own
eliding left "c\u2026g" for both chelsea.png and corrupt.png in a narrow panel. When the panel is too
narrow for a useful name beside the thumbnail, the name goes under it; the tooltip has the full path.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

PATH_ROLE = Qt.UserRole
_PLACEHOLDER_SIDE = 64
NAME_BESIDE_MIN_PX = 90  # less room than this beside the thumbnail, and the name goes under it
ELLIPSIS = "\u2026"


def elide_name(name: str, metrics, width: int) -> str:
    """`name` within `width` pixels: the stem shortened in its middle, the extension kept whole."""
    if metrics.horizontalAdvance(name) <= width:
        return name
    stem, ext = os.path.splitext(name)
    room = width - metrics.horizontalAdvance(ext)
    if not ext or room < metrics.horizontalAdvance(stem[:1] + ELLIPSIS + stem[-1:]):
        return metrics.elidedText(name, Qt.ElideMiddle, width)
    return metrics.elidedText(stem, Qt.ElideMiddle, room) + ext


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


class NameDelegate(QStyledItemDelegate):
    """Draws each name with elide_name, beside the thumbnail or, in a narrow list, under it."""

    def initStyleOption(self, option, index) -> None:  # noqa: N802 (Qt naming)
        super().initStyleOption(option, index)
        view = self.parent()
        if getattr(view, "names_below", False):
            option.decorationPosition = QStyleOptionViewItem.Top
            option.displayAlignment = Qt.AlignHCenter | Qt.AlignTop
        if option.rect.width() > 0:
            style = view.style() if view is not None else None
            if style is not None:
                text_rect = style.subElementRect(QStyle.SE_ItemViewItemText, option, view)
                # the style draws the text inside this margin on each side, and elides what overflows
                margin = style.pixelMetric(QStyle.PM_FocusFrameHMargin, None, view) + 1
                option.text = elide_name(option.text, option.fontMetrics, text_rect.width() - 2 * margin - 1)


class ImageList(QListWidget):
    image_selected = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setIconSize(QSize(_PLACEHOLDER_SIDE, _PLACEHOLDER_SIDE))
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setUniformItemSizes(True)
        self.names_below = False
        self.setItemDelegate(NameDelegate(self))
        # Names are elided to the panel's width; a sideways scroll bar would hide the thumbnails' text.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setSpacing(2)
        placeholder = QPixmap(_PLACEHOLDER_SIDE, _PLACEHOLDER_SIDE)
        placeholder.fill(QColor(90, 90, 90))
        self._placeholder = QIcon(placeholder)
        self.currentRowChanged.connect(self._row_changed)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        below = self.viewport().width() - self.iconSize().width() - 16 < NAME_BESIDE_MIN_PX
        if below != self.names_below:
            self.names_below = below
            self.scheduleDelayedItemsLayout()  # the items' height changes with the name's place

    def shown_name(self, row: int) -> str:
        """The name as the list draws it now (shortened to the room it has)."""
        index = self.model().index(row, 0)
        option = QStyleOptionViewItem()
        option.initFrom(self.viewport())
        option.rect = self.visualRect(index)
        option.decorationSize = self.iconSize()
        self.itemDelegate().initStyleOption(option, index)
        return option.text

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

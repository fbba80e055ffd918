"""Which architecture a checkpoint file is for: a searchable list of the candidates, with the one
that fits the file's tensor shapes proposed and selected (core/model/fit.py decides which fits).

Before, a plain ~150-entry drop-down opened on whatever the picker showed (eclip-tiny-rn for a fresh
window), and a wrong pick only failed later, at Load, with a list of mismatched keys.
"""
from __future__ import annotations

import os
from html import escape

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QVBoxLayout,
)

from eclip_desktop.core.model.fit import proposed_architecture


class ArchitectureDialog(QDialog):
    def __init__(self, parent, path: str, names: list[str], current: str = "", proposed: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Architecture of the checkpoint")
        self.setMinimumSize(420, 420)
        self.proposed = proposed
        file = os.path.basename(path)
        if proposed:
            text = (f"<b>{escape(proposed)}</b> fits the tensors of {escape(file)}; it is selected. Another architecture "
                    "can be chosen below.")
        else:
            text = (f"No listed architecture has the tensor names and shapes of {file}: choose the one it was "
                    "trained as (loading then says which weights differ).")
        self.note = QLabel(text)
        self.note.setWordWrap(True)
        self.note.setTextFormat(Qt.RichText if proposed else Qt.PlainText)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("type to filter, e.g. ViT-B or RN50")
        self.filter.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.addItems(names)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.Ok)
        self.ok_button.setText("Load")
        box = QVBoxLayout(self)
        box.addWidget(self.note)
        box.addWidget(self.filter)
        box.addWidget(self.list, 1)
        box.addWidget(self.buttons)
        self.filter.textChanged.connect(self._filter)
        self.filter.returnPressed.connect(self._accept_if_one)
        self.list.currentItemChanged.connect(lambda *_: self._sync())
        self.list.itemDoubleClicked.connect(lambda *_: self.accept())
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self._select(proposed or (current if current in names else ""))
        self.filter.setFocus()

    def chosen(self) -> str:
        item = self.list.currentItem()
        return item.text() if item is not None and not item.isHidden() else ""

    def shown(self) -> list[str]:
        """The names the filter leaves in the list."""
        return [self.list.item(i).text() for i in range(self.list.count()) if not self.list.item(i).isHidden()]

    def _select(self, name: str) -> None:
        matches = self.list.findItems(name, Qt.MatchExactly) if name else []
        self.list.setCurrentItem(matches[0] if matches else None)
        if matches:
            self.list.scrollToItem(matches[0], QListWidget.PositionAtCenter)
        self._sync()

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setHidden(bool(needle) and needle not in item.text().lower())
        if not self.chosen():
            shown = self.shown()
            self._select(self.proposed if self.proposed in shown else (shown[0] if shown else ""))
        self._sync()

    def _accept_if_one(self) -> None:
        if self.chosen():
            self.accept()

    def _sync(self) -> None:
        self.ok_button.setEnabled(bool(self.chosen()))

    @classmethod
    def ask(cls, parent, path: str, names: list[str], current: str = "") -> str | None:
        """The architecture for `path`, or None when the user cancels. Reading the file's shapes takes
        well under a second for a typical checkpoint (its data stays on disk)."""
        QGuiApplication.setOverrideCursor(Qt.WaitCursor)
        try:
            proposed = proposed_architecture(path, names, current)
        finally:
            QGuiApplication.restoreOverrideCursor()
        dialog = cls(parent, path, names, current, proposed)
        return dialog.chosen() if dialog.exec() == QDialog.Accepted and dialog.chosen() else None

"""The dock's history (back, forward) and its hyponym tree (lazy children, subtree sizes): two parts
the dock composes, each with its own state."""
from __future__ import annotations

import itertools
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

# Item data of the tree: the synset's name, and whether its children were asked for.
NAME_ROLE = Qt.UserRole
LOADED_ROLE = Qt.UserRole + 1


class History:
    """The synsets shown, in order, and where Back and Forward lead (no Qt)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.pos = -1

    def record(self, name: str) -> None:
        if self.pos < 0 or self.names[self.pos] != name:
            del self.names[self.pos + 1:]
            self.names.append(name)
            self.pos = len(self.names) - 1

    def can_go(self, step: int) -> bool:
        return 0 <= self.pos + step < len(self.names)

    def go(self, step: int) -> str | None:
        if not self.can_go(step):
            return None
        self.pos += step
        return self.names[self.pos]


class HyponymTree:
    """The tree widget's content: a root synset and its hyponyms, children asked for when a node is
    expanded. `ask(kind, run, done)` sends a job to the dock's worker; `chosen(name)` navigates."""

    def __init__(self, tree: QTreeWidget, ask: Callable, service, chosen: Callable[[str], None]):
        self.tree, self._ask, self._service, self._chosen = tree, ask, service, chosen
        self.key = None  # the concept set the tree was built from
        self._seq = itertools.count()
        self._nodes: dict[str, QTreeWidgetItem] = {}
        tree.itemExpanded.connect(self._expanded)
        tree.itemClicked.connect(lambda item, _c: self._pick(item))
        tree.itemActivated.connect(lambda item, _c: self._pick(item))

    @staticmethod
    def _item(name: str, size: int | None) -> QTreeWidgetItem:
        word = name.rsplit(".", 2)[0].replace("_", " ")
        item = QTreeWidgetItem([f"{word}  ({name})", "" if size is None else str(size)])
        item.setData(0, NAME_ROLE, name)
        item.setToolTip(0, name)
        item.setTextAlignment(1, Qt.AlignRight | Qt.AlignVCenter)
        if size is None or size > 1:
            item.addChild(QTreeWidgetItem(["loading \u2026"]))  # a placeholder makes it expandable
        return item

    def set_root(self, name: str, key: str, size: int | None = None) -> None:
        self.tree.clear()
        self._nodes.clear()
        self.key = key
        item = self._item(name, size)
        self.tree.addTopLevelItem(item)
        if size is None:
            self._ask("wn-node", lambda ctx: self._service.node(ctx, name, key), lambda r: self._show_size(*r))
        item.setExpanded(True)

    def _show_size(self, name: str, size: int) -> None:
        top = self.tree.topLevelItem(0)
        if top is not None and top.data(0, NAME_ROLE) == name:
            top.setText(1, str(size))

    def _expanded(self, item: QTreeWidgetItem) -> None:
        if item.data(0, LOADED_ROLE):
            return
        item.setData(0, LOADED_ROLE, True)
        name, key = item.data(0, NAME_ROLE), self.key
        node = f"{next(self._seq)}"
        self._nodes[node] = item
        self._ask(f"wn-children:{node}", lambda ctx: self._service.children(ctx, name, key),
                  lambda r: self._show_children(node, *r))

    def _show_children(self, node: str, name: str, children) -> None:
        item = self._nodes.pop(node, None)
        if item is None:
            return  # the tree was rebuilt since
        item.takeChildren()
        item.addChildren([self._item(child, size) for child, size in children])

    def _pick(self, item: QTreeWidgetItem) -> None:
        name = item.data(0, NAME_ROLE)
        if name:
            self._chosen(name)

"""The dock's history (back, forward) and its hyponym tree (lazy children, subtree sizes)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTreeWidgetItem

# Item data of the tree: the synset's name, and whether its children were asked for.
NAME_ROLE = Qt.UserRole
LOADED_ROLE = Qt.UserRole + 1


class TreeHistoryMixin:
    """Mixed into WordNetDock: uses its widgets (tree, back/forward actions) and its worker jobs."""

    def back(self) -> None:
        if self.history_pos > 0:
            self.history_pos -= 1
            self._sync_history()
            self.navigate(self.history[self.history_pos], record=False)

    def forward(self) -> None:
        if self.history_pos < len(self.history) - 1:
            self.history_pos += 1
            self._sync_history()
            self.navigate(self.history[self.history_pos], record=False)

    def _sync_history(self) -> None:
        self.act_back.setEnabled(self.history_pos > 0)
        self.act_forward.setEnabled(self.history_pos < len(self.history) - 1)

    # --- tree -----------------------------------------------------------------------------------

    def _item(self, name: str, size: int | None) -> QTreeWidgetItem:
        word = name.rsplit(".", 2)[0].replace("_", " ")
        item = QTreeWidgetItem([f"{word}  ({name})", "" if size is None else str(size)])
        item.setData(0, NAME_ROLE, name)
        item.setToolTip(0, name)
        item.setTextAlignment(1, Qt.AlignRight | Qt.AlignVCenter)
        if size is None or size > 1:
            item.addChild(QTreeWidgetItem(["loading \u2026"]))  # a placeholder makes it expandable
        return item

    def set_tree_root(self, name: str, size: int | None = None) -> None:
        self.tree.clear()
        self._nodes.clear()
        self._tree_key = self.key
        item = self._item(name, size)
        self.tree.addTopLevelItem(item)
        if size is None:
            key = self.key
            self._submit("wn-node", lambda ctx: self.service.node(ctx, name, key))
        item.setExpanded(True)

    def _show_node_size(self, name: str, size: int) -> None:
        top = self.tree.topLevelItem(0)
        if top is not None and top.data(0, NAME_ROLE) == name:
            top.setText(1, str(size))

    def _expanded(self, item: QTreeWidgetItem) -> None:
        if item.data(0, LOADED_ROLE):
            return
        item.setData(0, LOADED_ROLE, True)
        name, key = item.data(0, NAME_ROLE), self.key
        node = f"{next(self._node_seq)}"
        self._nodes[node] = item
        self._submit(f"wn-children:{node}", lambda ctx: (node,) + self.service.children(ctx, name, key))

    def _show_children(self, node: str, name: str, children) -> None:
        item = self._nodes.pop(node, None)
        if item is None:
            return  # the tree was rebuilt since
        item.takeChildren()
        item.addChildren([self._item(child, size) for child, size in children])

    def _tree_chosen(self, item: QTreeWidgetItem) -> None:
        name = item.data(0, NAME_ROLE)
        if name and (self.info is None or self.info.name != name):
            self.navigate(name, reroot=False)

    # --- concept sets ---------------------------------------------------------------------------


"""The details pane of the WordNet dock: gloss, lemmas, examples, facts, and one breadcrumb row per
hypernym path (a synset with two parents has two ways up, and hiding one would misstate its place).
"""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from eclip_desktop.core.wordnet.hierarchy import SynsetInfo

LINK = "synset:"


def crumb_text(name: str) -> str:
    """The word of a synset, with the sense number only where it is not the first sense."""
    word, _, sense = name.rsplit(".", 2)
    word = word.replace("_", " ")
    return word if sense == "01" else name


def crumb_html(path: list[str]) -> str:
    *ups, last = path
    links = [f'<a href="{LINK}{escape(n)}">{escape(crumb_text(n))}</a>' for n in ups]
    return " \u203a ".join(links + [f"<b>{escape(crumb_text(last))}</b>"])


def _label(rich: bool = True) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.RichText if rich else Qt.PlainText)
    label.setTextInteractionFlags(Qt.TextBrowserInteraction)
    return label


class SynsetDetails(QWidget):
    navigate = Signal(str)  # a synset name from a clicked crumb

    def __init__(self, parent=None):
        super().__init__(parent)
        self.info: SynsetInfo | None = None
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        self.title = _label()
        self.body = _label()
        self.body.setOpenExternalLinks(False)
        self.paths_title = QLabel()
        self.paths_title.setStyleSheet("color: gray;")
        self.crumbs = QFrame()
        self.crumb_box = QVBoxLayout(self.crumbs)
        self.crumb_box.setContentsMargins(0, 0, 0, 0)
        self.crumb_box.setSpacing(2)
        for w in (self.title, self.body, self.paths_title, self.crumbs):
            box.addWidget(w)
        box.addStretch(1)
        self.crumb_rows: list[QLabel] = []

    def show_info(self, info: SynsetInfo) -> None:
        self.info = info
        self.title.setText(f"<b>{escape(info.name)}</b> &nbsp;<span style='color:gray'>"
                           f"{escape(info.lexname)}</span>")
        lemmas = ", ".join(escape(lemma.replace("_", " ")) for lemma in info.lemmas)
        examples = "".join(f"<br><i>\u201c{escape(e)}\u201d</i>" for e in info.examples)
        self.body.setText(
            f"{escape(info.gloss)}{examples}<br><br>"
            f"<b>lemmas</b>: {lemmas}<br>"
            f"<b>depth</b>: {info.depth} &nbsp; <b>hyponyms</b>: {info.n_hyponyms} &nbsp; "
            f"<b>subtree</b>: {info.subtree_size}")
        for row in self.crumb_rows:
            self.crumb_box.removeWidget(row)
            row.deleteLater()
        self.crumb_rows = []
        n = len(info.hypernym_paths)
        self.paths_title.setText("path to the root" if n == 1 else f"{n} paths to the root")
        for path in info.hypernym_paths:
            row = _label()
            row.setText(crumb_html(path))
            row.setToolTip(" \u203a ".join(path))
            row.linkActivated.connect(self._link)
            self.crumb_box.addWidget(row)
            self.crumb_rows.append(row)

    def _link(self, href: str) -> None:
        if href.startswith(LINK):
            self.navigate.emit(href[len(LINK):])

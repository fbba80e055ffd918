"""Zero-shot scores as horizontal bars, one row per prompt; the row shown on the map is bold."""
from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

_ROW = 20
_BAR = QColor(70, 120, 200)
_BAR_SHOWN = QColor(230, 140, 30)


def fitted_labels(labels: list[str], fm: QFontMetrics, width: int) -> list[str]:
    """Labels that fit `width`: prompts from one template differ at their end ("a photo of a purple
    ellipse." / "a photo of a circle."), so when one is too long every label loses the words all share
    at the front (the rows stay alike), then a too-long one characters from the front — never the words
    that tell the rows apart."""
    if not labels or all(fm.horizontalAdvance(t) <= width for t in labels):
        return list(labels)
    words = [t.split(" ") for t in labels]
    common = 0
    while all(len(w) > common + 1 for w in words) and len({w[common] for w in words}) == 1:
        common += 1
    if len(labels) == 1:  # one row: keep its last three words, the rest is template
        common = max(0, len(words[0]) - 3)
    out = []
    for text, w in zip(labels, words):
        if common:
            text = "\u2026" + " ".join(w[common:])
        out.append(fm.elidedText(text, Qt.ElideLeft, width))
    return out


class ScoreBars(QWidget):
    row_clicked = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.labels: list[str] = []
        self.probabilities: list[float] = []
        self.cosines: list[float] = []
        self.shown = -1
        self.title = ""
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMouseTracking(True)

    def set_scores(self, labels, probabilities, cosines, shown: int = -1, title: str = "") -> None:
        self.labels, self.probabilities, self.cosines = list(labels), list(probabilities), list(cosines)
        self.shown, self.title = shown, title
        tips = [f"{t}: p = {p:.3f}, cos = {c:.3f}" for t, p, c in zip(self.labels, self.probabilities, self.cosines)]
        self.setToolTip("\n".join(tips))
        self.updateGeometry()
        self.setFixedHeight(self.sizeHint().height())
        self.update()

    def clear(self, title: str = "") -> None:
        self.set_scores([], [], [], -1, title)

    def _header(self) -> int:
        return _ROW if self.title else 0

    def sizeHint(self) -> QSize:
        return QSize(260, self._header() + _ROW * max(1, len(self.labels)) + 6)

    def minimumSizeHint(self) -> QSize:
        return QSize(160, self.sizeHint().height())

    def mousePressEvent(self, event) -> None:
        row = int((event.position().y() - self._header() - 3) // _ROW)
        if 0 <= row < len(self.labels):
            self.row_clicked.emit(row)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        w = self.width()
        fm = QFontMetrics(self.font())
        text_color = self.palette().windowText().color()
        y = 3
        if self.title:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(QRectF(4, y, w - 8, _ROW), Qt.AlignVCenter | Qt.AlignLeft,
                       fm.elidedText(self.title, Qt.ElideRight, w - 8))
            y += _ROW
        if not self.labels:
            p.end()
            return
        bold = QFont(self.font())
        bold.setBold(True)
        bold_fm = QFontMetrics(bold)  # the widest a label is drawn (the shown row is bold)
        label_w = min(int(w * 0.45), max(bold_fm.horizontalAdvance(t) for t in self.labels) + 8)
        value_w = fm.horizontalAdvance("0.000") + 10
        bar_x, bar_w = label_w + 6, max(10, w - label_w - value_w - 12)
        texts = fitted_labels(self.labels, bold_fm, label_w - 4)
        for i, (text, prob) in enumerate(zip(texts, self.probabilities)):
            shown = i == self.shown
            p.setFont(bold if shown else self.font())
            p.setPen(text_color)
            p.drawText(QRectF(4, y, label_w, _ROW), Qt.AlignVCenter | Qt.AlignLeft, text)
            p.setPen(Qt.NoPen)
            p.setBrush(QColor(0, 0, 0, 25))
            p.drawRoundedRect(QRectF(bar_x, y + 4, bar_w, _ROW - 8), 2, 2)
            p.setBrush(_BAR_SHOWN if shown else _BAR)
            p.drawRoundedRect(QRectF(bar_x, y + 4, max(1.0, bar_w * min(max(prob, 0.0), 1.0)), _ROW - 8), 2, 2)
            p.setPen(text_color)
            p.drawText(QRectF(bar_x + bar_w + 4, y, value_w, _ROW), Qt.AlignVCenter | Qt.AlignLeft, f"{prob:.3f}")
            y += _ROW
        p.end()

"""Each method's options as controls, built from the method's declaration (core/explain/methods):
a check box for a switch, a drop-down for choices, a spin box for a number. Only the box of the
method in use is shown, so a method added to the registry brings its controls with it."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from eclip_desktop.core.explain.methods import METHODS, Method, Option

SPIN_LIMIT = 1_000_000_000  # Qt spin boxes hold 32-bit ints


def _bounds(o: Option) -> tuple[float, float]:
    low = -SPIN_LIMIT if o.minimum is None else max(o.minimum, -SPIN_LIMIT)
    high = SPIN_LIMIT if o.maximum is None else min(o.maximum, SPIN_LIMIT)
    return low, high


def _control(o: Option) -> QWidget:
    if o.kind is bool:
        w = QCheckBox(o.label[:1].upper() + o.label[1:])
    elif o.choices:
        w = QComboBox()
        for c in o.choices:
            w.addItem(str(c), c)
    elif o.kind is int:
        w = QSpinBox()
        low, high = _bounds(o)
        w.setRange(int(low), int(high))
    elif o.kind is float:
        w = QDoubleSpinBox()
        w.setDecimals(3)
        w.setSingleStep(0.05)
        w.setRange(*_bounds(o))
    else:
        raise TypeError(f"option {o.name}: free text options have no control")
    w.setToolTip(o.help[:1].upper() + o.help[1:])
    w.setObjectName(o.name)
    return w


def _value(w: QWidget):
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentData()
    return w.value()


def _set(w: QWidget, value) -> None:
    if isinstance(w, QCheckBox):
        w.setChecked(bool(value))
    elif isinstance(w, QComboBox):
        w.setCurrentIndex(max(w.findData(value), 0))
    else:
        w.setValue(value)


class MethodOptionsBox(QWidget):
    """One group box per method that has options; `changed` says an option was edited."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.boxes: dict[str, QGroupBox] = {}
        self.controls: dict[str, dict[str, QWidget]] = {}
        self.rebuild()

    def rebuild(self) -> None:
        """Boxes for the registered methods (again, after a method was registered at run time)."""
        for box in self.boxes.values():
            box.setParent(None)
        self.boxes, self.controls = {}, {}
        for info in METHODS.values():
            if info.options:
                self._add(info)

    def _add(self, info: Method) -> None:
        box = QGroupBox(info.label)
        box.setObjectName(f"options-{info.name}")
        v = QVBoxLayout(box)
        form = QFormLayout()
        controls = {}
        for o in info.options:
            w = _control(o)
            controls[o.name] = w
            _set(w, o.default)
            if isinstance(w, QCheckBox):
                form.addRow(w)
            else:
                form.addRow(o.label[:1].upper() + o.label[1:], w)
            signal = (w.toggled if isinstance(w, QCheckBox) else
                      w.currentIndexChanged if isinstance(w, QComboBox) else w.valueChanged)
            signal.connect(lambda *_: self.changed.emit())
        v.addLayout(form)
        if info.hint:
            hint = QLabel(info.hint)
            hint.setWordWrap(True)
            hint.setStyleSheet("color: palette(placeholder-text);")
            v.addWidget(hint)
        box.hide()
        self._layout.addWidget(box)
        self.boxes[info.name] = box
        self.controls[info.name] = controls

    def show_method(self, method: str) -> None:
        for name, box in self.boxes.items():
            box.setVisible(name == method)

    def values(self) -> dict:
        """method -> {option: value} as the controls hold them."""
        return {m: {name: _value(w) for name, w in ws.items()} for m, ws in self.controls.items()}

    def show_values(self, options_of) -> None:
        """options_of(method) -> the method's options; controls set with their signals blocked."""
        for m, ws in self.controls.items():
            values = options_of(m)
            for name, w in ws.items():
                w.blockSignals(True)
                _set(w, values.get(name))
                w.blockSignals(False)

"""The controls dock: model and device, the comparison's second model, method and pooling, prompts,
the method's options.

Widgets here hold no truth of their own: the window reads them into AnalysisState
(`read_analysis`) and writes states back (`show_analysis`, e.g. after opening a session) with signals blocked.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from eclip_desktop.app.widgets.method_options import MethodOptionsBox
from eclip_desktop.app.widgets.model_picker import ModelPicker
from eclip_desktop.core.explain.methods import METHODS
from eclip_desktop.viewer.state import AnalysisState

COMPARE_PROMPT = ("Choose the model to show beside the first: a family, downloaded weights, or a checkpoint "
                  "(Open checkpoint\u2026). It runs on the device chosen above.")
DEVICE_LABELS = {"auto": "Auto", "cpu": "CPU", "cuda": "CUDA (GPU)", "mps": "MPS (Apple GPU)"}


def parse_prompts(text: str) -> list[str]:
    """One label per line; blank lines and lines starting with '#' are skipped."""
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def _action_button(action) -> QToolButton:
    """A text button that triggers (and shows the checked state of) a window action."""
    b = QToolButton()
    b.setDefaultAction(action)
    b.setToolButtonStyle(Qt.ToolButtonTextOnly)
    b.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
    return b


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


class ControlsPanel(QWidget):
    changed = Signal(str)  # what changed: method, texts, shown, ensemble, surgery, device

    def __init__(self, pooling_actions, compare_actions=(), parent=None):
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(8)

        # --- model ---------------------------------------------------------------------------
        model_box = QGroupBox("Model")
        mv = QVBoxLayout(model_box)
        self.picker = ModelPicker()
        mv.addWidget(self.picker)
        row = QHBoxLayout()
        row.addWidget(QLabel("Device"))
        self.device = QComboBox()
        # Auto and CPU at once; the GPUs are added once torch is loaded on the worker (set_devices),
        # so the window does not wait for torch to open.
        for name in ("auto", "cpu"):
            self.device.addItem(DEVICE_LABELS.get(name, name), name)
        self.device.setToolTip("Where the model runs; the device in use is shown in the status bar")
        row.addWidget(self.device, 1)
        mv.addLayout(row)
        outer.addWidget(model_box)

        # --- the model comparison's second model (shown with that layout only) -----------------
        self.compare_box = QGroupBox("Compare with")
        cv = QVBoxLayout(self.compare_box)
        self.compare_picker = ModelPicker(prompt=COMPARE_PROMPT)
        self.compare_picker.share_lists(self.picker)
        cv.addWidget(self.compare_picker)
        for action in compare_actions:
            cv.addWidget(_action_button(action))
        self.compare_box.hide()
        outer.addWidget(self.compare_box)

        # --- explanation -----------------------------------------------------------------------
        exp_box = QGroupBox("Explanation")
        ev = QVBoxLayout(exp_box)
        form = QFormLayout()
        self.method = QComboBox()
        for info in METHODS.values():
            self.method.addItem(info.label, info.name)
            self.method.setItemData(self.method.count() - 1, info.description, Qt.ToolTipRole)
        form.addRow("Method", self.method)
        ev.addLayout(form)
        ev.addWidget(QLabel("Pooling"))
        buttons = QHBoxLayout()
        buttons.setSpacing(3)
        self.pooling_buttons = []
        for action in pooling_actions:
            b = _action_button(action)
            buttons.addWidget(b)
            self.pooling_buttons.append(b)
        ev.addLayout(buttons)
        self.pooling_note = _muted()
        ev.addWidget(self.pooling_note)
        outer.addWidget(exp_box)

        # --- prompts -------------------------------------------------------------------------
        prompt_box = QGroupBox("Prompts (one label per line)")
        pv = QVBoxLayout(prompt_box)
        self.prompts = QPlainTextEdit()
        self.prompts.setPlaceholderText("a photo of a cat.\na photo of a dog.")
        self.prompts.setTabChangesFocus(True)
        self.prompts.setMinimumHeight(90)
        self.prompts.setMaximumHeight(120)
        pv.addWidget(self.prompts)
        form = QFormLayout()
        self.shown = QComboBox()
        self.shown.setToolTip("Which prompt the single-map views show (or click its score bar)")
        self.shown.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.shown.setMinimumContentsLength(12)
        form.addRow("Map for", self.shown)
        pv.addLayout(form)
        # Short, so a narrow Controls dock needs no sideways scrolling; the tooltip has the detail.
        self.ensemble = QCheckBox("Prompt ensemble (85 templates)")
        self.ensemble.setToolTip("Encode each label as the mean over CLIP's 80 ImageNet templates and 5 scene "
                                 "templates")
        pv.addWidget(self.ensemble)
        outer.addWidget(prompt_box)

        # --- the method's own options (from its declaration) ------------------------------------
        self.method_options = MethodOptionsBox()
        outer.addWidget(self.method_options)

        outer.addStretch(1)

        self._wire()

    def _wire(self) -> None:
        emit = self.changed.emit
        self.method.currentIndexChanged.connect(lambda *_: (self._sync_enabled(), emit("method")))
        self.prompts.textChanged.connect(lambda: emit("texts"))
        self.shown.currentIndexChanged.connect(lambda *_: emit("shown"))
        self.ensemble.toggled.connect(lambda *_: emit("ensemble"))
        self.method_options.changed.connect(lambda: emit("options"))
        self.device.currentIndexChanged.connect(lambda *_: emit("device"))

    def _sync_enabled(self) -> None:
        self.method_options.show_method(self.method.currentData())

    # --- state in and out ---------------------------------------------------------------------

    def texts(self) -> list[str]:
        return parse_prompts(self.prompts.toPlainText())

    def read_analysis(self, into: AnalysisState) -> AnalysisState:
        into.method = self.method.currentData()
        into.texts = self.texts()
        into.shown = max(self.shown.currentIndex(), 0)
        into.ensemble = self.ensemble.isChecked()
        for method, values in self.method_options.values().items():
            for name, value in values.items():
                into.set_option(method, name, value)
        return into

    def show_analysis(self, a: AnalysisState) -> None:
        widgets = (self.method, self.prompts, self.ensemble, self.shown)
        for w in widgets:
            w.blockSignals(True)
        self.method.setCurrentIndex(max(self.method.findData(a.method), 0))
        if self.texts() != a.texts:
            self.prompts.setPlainText("\n".join(a.texts))
        self.ensemble.setChecked(a.ensemble)
        self.method_options.show_values(a.method_options)
        self.update_shown(a.texts, a.shown_index())
        for w in widgets:
            w.blockSignals(False)
        self._sync_enabled()

    def update_shown(self, texts: list[str], index: int) -> None:
        self.shown.blockSignals(True)
        self.shown.clear()
        for i, t in enumerate(texts):
            self.shown.addItem(f"{i + 1}. {t}", i)
            self.shown.setItemData(i, t, Qt.ToolTipRole)
        self.shown.setCurrentIndex(min(index, len(texts) - 1) if texts else -1)
        self.shown.blockSignals(False)

    def device_name(self) -> str:
        return self.device.currentData()

    def set_devices(self, names: list[str]) -> None:
        current = self.device_name()
        self.device.blockSignals(True)
        for name in names:
            if self.device.findData(name) < 0:
                self.device.addItem(DEVICE_LABELS.get(name, name), name)
        self.device.setCurrentIndex(max(self.device.findData(current), 0))
        self.device.blockSignals(False)

    def show_device(self, name: str) -> None:
        i = self.device.findData(name)
        if i >= 0:
            self.device.blockSignals(True)
            self.device.setCurrentIndex(i)
            self.device.blockSignals(False)

"""Display controls in a toolbar beside the views: colormap, opacity, levels, threshold.

Nothing here starts a job: the window redraws from DisplayState on the UI thread.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QWidget,
)

from eclip_desktop.core.figures.render import colormap_names
from eclip_desktop.viewer.state import OVERLAYS, PERCENTILES, THRESHOLDS, DisplayState


class DisplayBar(QWidget):
    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(4, 0, 4, 0)
        row.setSpacing(6)
        self.colormap = QComboBox()
        self.colormap.addItems(colormap_names())  # perceptually uniform maps come first
        self.colormap.setToolTip("Colormap (the same tables as exported figures)")
        self.overlay = QComboBox()
        for key, label in OVERLAYS.items():
            self.overlay.addItem(label, key)
        self.overlay.setToolTip("blend: one opacity everywhere \u00b7 alpha by value: low values leave the image "
                                "visible, high ones keep their true colour \u00b7 heatmap alone: no image (O toggles "
                                "the map)")
        self.opacity = QSlider(Qt.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setFixedWidth(90)
        self.opacity.setToolTip("Opacity of the map over the image")
        self.opacity_value = QLabel()
        self.opacity_value.setMinimumWidth(38)
        self.percentile = QComboBox()
        for p in PERCENTILES:
            self.percentile.addItem(f"{p:g} %", p)
        self.percentile.setToolTip("Colour range over the central share of map values (100 % = the full 0..1)")
        self.threshold = QComboBox()
        for key, label in THRESHOLDS.items():
            self.threshold.addItem(label, key)
        self.threshold.setToolTip("Outline the part of the map above a threshold")
        self.threshold_value = QDoubleSpinBox()
        self.threshold_value.setDecimals(2)
        self.threshold_value.setFixedWidth(72)
        self.contribution = QCheckBox("Contribution")
        self.contribution.setToolTip("Show where the selected pooling takes its evidence instead of the similarity map")
        self._items = []
        for label, widget in (("Colormap", self.colormap), ("Overlay", self.overlay), ("Opacity", self.opacity),
                              (None, self.opacity_value),
                              ("Levels", self.percentile), ("Threshold", self.threshold),
                              (None, self.threshold_value), (None, self.contribution)):
            if label:
                row.addSpacing(6)
                text = QLabel(label)
                text.setContentsMargins(6, 0, 0, 0)
                row.addWidget(text)
                self._items.append(text)
            row.addWidget(widget)
            self._items.append(widget)
        self._state = DisplayState()
        self.show_display(self._state)
        for w in (self.colormap, self.overlay, self.percentile, self.threshold):
            w.currentIndexChanged.connect(self._edited)
        self.opacity.valueChanged.connect(self._edited)
        self.threshold_value.valueChanged.connect(self._edited)
        self.contribution.toggled.connect(self._edited)

    def populate(self, toolbar) -> None:
        """Put the controls into `toolbar` one by one, so a narrow window folds the last ones into
        the toolbar's » menu instead of the whole bar forcing the window wider than the screen."""
        for item in self._items:
            self.layout().removeWidget(item)
            toolbar.addWidget(item)

    def _edited(self, *_):
        previous = self._state.threshold
        self._state = self.read_display()
        if previous != self._state.threshold:
            self._show_threshold_value(self._state)
        self.opacity_value.setText(f"{self.opacity.value()} %")
        self.changed.emit()

    def read_display(self) -> DisplayState:
        d = DisplayState(colormap=self.colormap.currentText(), opacity=self.opacity.value() / 100.0,
                         percentile=float(self.percentile.currentData()), threshold=self.threshold.currentData(),
                         fixed_level=self._state.fixed_level, threshold_percentile=self._state.threshold_percentile,
                         show_contribution=self.contribution.isChecked(), overlay=self.overlay.currentData())
        # The spin box edits whichever number the current threshold mode uses.
        if d.threshold == "fixed" and self._state.threshold == "fixed":
            d.fixed_level = self.threshold_value.value()
        elif d.threshold == "percentile" and self._state.threshold == "percentile":
            d.threshold_percentile = self.threshold_value.value()
        return d

    def _show_threshold_value(self, d: DisplayState) -> None:
        spin = self.threshold_value
        spin.blockSignals(True)
        if d.threshold == "percentile":
            spin.setRange(0.0, 100.0)
            spin.setSingleStep(1.0)
            spin.setSuffix(" %")
            spin.setValue(d.threshold_percentile)
            spin.setToolTip("Outline values above this percentile of the map")
        else:
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(0.05)
            spin.setSuffix("")
            spin.setValue(d.fixed_level)
            spin.setToolTip("Map value (0..1) at which the outline is drawn")
        spin.setEnabled(d.threshold in ("fixed", "percentile"))
        spin.blockSignals(False)

    def show_display(self, d: DisplayState) -> None:
        widgets = (self.colormap, self.overlay, self.opacity, self.percentile, self.threshold, self.threshold_value,
                   self.contribution)
        for w in widgets:
            w.blockSignals(True)
        self.colormap.setCurrentText(d.colormap)
        self.opacity.setValue(round(d.opacity * 100))
        self.opacity_value.setText(f"{round(d.opacity * 100)} %")
        self.percentile.setCurrentIndex(max(self.percentile.findData(d.percentile), 0))
        self.threshold.setCurrentIndex(max(self.threshold.findData(d.threshold), 0))
        self.contribution.setChecked(d.show_contribution)
        self.overlay.setCurrentIndex(max(self.overlay.findData(d.overlay), 0))
        for w in widgets:
            w.blockSignals(False)
        self._state = d
        self._show_threshold_value(d)

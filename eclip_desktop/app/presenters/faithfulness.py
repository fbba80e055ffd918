"""Presenter of the Faithfulness dock: which map is on screen, the job that measures it, its result."""
from __future__ import annotations

import os
import weakref
from dataclasses import replace

from eclip_desktop.app.widgets.faithfulness_dock import FaithfulnessDock
from eclip_desktop.viewer.jobs.faithfulness import FaithfulnessRequest, faithfulness_job

KIND = "faithfulness"


class FaithfulnessPresenter:
    def __init__(self, window):
        # Weak: the window holds the presenter; a strong reference back would make the pair cyclic
        # garbage, freed by whichever thread the cyclic collector runs on (a worker thread deleting
        # Qt widgets deadlocks against the GUI thread).
        self._window = weakref.ref(window)
        self.dock = FaithfulnessDock(window)
        window.add_side_dock(self.dock)
        self.dock.measure_requested.connect(self.measure)

    def current(self, steps: int | None = None) -> tuple[FaithfulnessRequest, object] | None:
        """(request, map values) of the prompt map on screen (in a grid: the highlighted tile, which is
        the current method, pooling and prompt), or None with nothing measurable shown."""
        w = self.window
        a = w.analysis
        if (w.layout_name == "compare" or w.image_view is None or w.model is None or w.display.show_contribution
                or w.exports.shown_convis() is not None):
            return None
        ms = w.maps.get((a.method, a.pooling))
        if ms is None:
            return None
        t = min(a.shown_index(), len(ms.heatmaps) - 1)
        hm = ms.heatmaps[t]
        req = FaithfulnessRequest(w.image_view.path, w.model, a.method, a.pooling, hm.text, ms.ensemble, ms.tau,
                                  steps if steps is not None else self.dock.steps.value())
        return req, hm.values

    @property
    def window(self):
        return self._window()

    def measure(self, steps: int) -> None:
        found = self.current(steps)
        if found is None:
            self.dock.show_unavailable("Show a prompt's map (not ConVis, a contribution map or the model "
                                       "comparison) to measure it.")
            return
        req, values = found
        self.dock.show_busy(req.describe())
        self.window.submit(self.window.compute, KIND, faithfulness_job(req, values),
                           f"{os.path.basename(req.path)}: deletion and insertion \u2026", self.done, self.failed,
                           lambda: self.failed("cancelled"), done_text="deletion and insertion curves ready")

    def done(self, result) -> None:
        self.dock.show_result(result, self._now(result.request.steps))

    def failed(self, message: str) -> None:
        self.dock.show_error(message)

    def state_changed(self, _names: frozenset) -> None:
        self.refresh()  # it says whether the map it measured is still the one on screen

    def refresh(self) -> None:
        if self.dock.measured is not None:
            self.dock.show_state(self._now(self.dock.measured.steps))

    def _now(self, steps: int):
        found = self.current(steps)
        return replace(found[0], steps=steps) if found else None

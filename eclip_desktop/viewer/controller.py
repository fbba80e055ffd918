"""What a change needs computed, free of Qt.

The window keeps one cache of maps for one context (image, model, prompts, options); a change of
pooling, layout or method asks only for the (method, pooling) pairs the layout shows and the cache
lacks. Requests within the debounce delay merge into one job; a result whose context is no longer
the one on screen is stale and dropped, so maps of another image or prompt never appear under this
one's name. The timer is injected (a QTimer in the window, a fake in tests).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from eclip_desktop.core.explain.methods import method_names
from eclip_desktop.viewer.events import Event
from eclip_desktop.viewer.jobs.compute import MapRequest, MapResult
from eclip_desktop.viewer.layouts import needed_pairs
from eclip_desktop.viewer.state import AnalysisState, ModelChoice


class Timer(Protocol):
    def start(self, msec: int) -> None: ...
    def stop(self) -> None: ...
    def isActive(self) -> bool: ...


@dataclass
class MapCache:
    context: tuple | None = None
    maps: dict = field(default_factory=dict)  # (method, pooling) -> MapSet
    refused: dict = field(default_factory=dict)  # (method, pooling) -> why the method does not apply
    version: int = 0  # bumped on every change: a render compares it instead of the maps themselves


def options_key(analysis: AnalysisState) -> tuple:
    return tuple((m, tuple(sorted(analysis.method_options(m).items()))) for m in method_names())


class MapController:
    """Decides which maps a change needs, which results are stale, and when to ask (debounce)."""

    def __init__(self, timer: Timer):
        self.cache = MapCache()
        self.changed = Event()  # emitted when the cache changes (new maps, or cleared)
        self._timer = timer  # its timeout submits the maps job (the window connects it)

    def request(self, delay_ms: int = 0) -> None:
        """Ask for maps after `delay_ms`; further requests within it merge into the same one."""
        self._timer.start(delay_ms)

    def stop(self) -> None:
        self._timer.stop()

    def waiting(self) -> bool:
        """A request is waiting out its debounce delay."""
        return self._timer.isActive()

    def clear(self) -> None:
        if self.cache.context is None and not self.cache.maps and not self.cache.refused:
            return
        self.cache = MapCache(version=self.cache.version + 1)
        self.changed.emit()

    def plan(self, path: str, model: ModelChoice | None, analysis: AnalysisState, layout: str) -> MapRequest:
        """The request for what the layout shows; its pairs are those the cache lacks (maybe none).
        A new context empties the cache first."""
        req = MapRequest(path, model, (), tuple(analysis.texts), analysis.ensemble, options_key(analysis), analysis.tau)
        if req.context() != self.cache.context:
            self.cache = MapCache(req.context(), version=self.cache.version + 1)
            self.changed.emit()
        return replace(req, pairs=tuple(self.missing(layout, analysis, model)))

    def missing(self, layout: str, analysis: AnalysisState, model: ModelChoice | None) -> list[tuple[str, str]]:
        if model is None or not analysis.texts:
            return []
        return [p for p in needed_pairs(layout, analysis, model)
                if p not in self.cache.maps and p not in self.cache.refused]

    def current(self, result: MapResult) -> bool:
        return result.request.context() == self.cache.context

    def accept(self, result: MapResult, model: ModelChoice | None = None) -> bool:
        """Merge a result that still belongs to the context on screen; False for a stale one.
        `model`: what actually ran (the worker may have fallen back to the CPU)."""
        if not self.current(result):
            return False
        context = replace(result.request, model=model).context() if model is not None else self.cache.context
        self.cache = MapCache(context, {**self.cache.maps, **result.maps}, {**self.cache.refused, **result.refused},
                              self.cache.version + 1)
        self.changed.emit()
        return True

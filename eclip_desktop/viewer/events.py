"""A minimal observer: the viewer's state announces changes without knowing who listens (the Qt
presenters in `app/`, or a test with no display at all)."""
from __future__ import annotations

from typing import Callable


class Event:
    def __init__(self) -> None:
        self._listeners: list[Callable] = []

    def connect(self, listener: Callable) -> None:
        if listener not in self._listeners:
            self._listeners.append(listener)

    def disconnect(self, listener: Callable) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, *args) -> None:
        # A copy: a listener may disconnect itself while being told.
        for listener in list(self._listeners):
            listener(*args)

"""What the window shows, as one object that announces its changes: the presenters that depend on a
part of it (the out-of-domain notice on the model and the picture, the faithfulness dock on
everything) listen instead of being called by whoever changed it."""
from __future__ import annotations

from eclip_desktop.viewer.events import Event
from eclip_desktop.viewer.state import AnalysisState, DisplayState

FIELDS = ("analysis", "display", "layout", "model", "model_info", "image")


class ViewState:
    def __init__(self) -> None:
        self.changed = Event()  # changed(names): a frozenset of the fields replaced or touched
        self.analysis = AnalysisState()  # what the worker computes (method, pooling, prompts, options)
        self.display = DisplayState()  # how maps are drawn (colormap, opacity, levels, threshold)
        self.layout = "side"  # viewer/layouts key
        self.model = None  # the ModelChoice that computes the maps on screen
        self.model_info = None  # its describe(): weights, card, device
        self.image = None  # the ImageView on screen

    def set(self, **values) -> None:
        """Replace fields; listeners hear once, about the fields whose value is another object."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise AttributeError(f"no view state field {', '.join(sorted(unknown))}; have {', '.join(FIELDS)}")
        names = frozenset(k for k, v in values.items() if getattr(self, k) is not v)
        for k in names:
            setattr(self, k, values[k])
        if names:
            self.changed.emit(names)

    def touch(self, *names: str) -> None:
        """A field changed in place (AnalysisState and DisplayState are mutable): tell the listeners."""
        self.changed.emit(frozenset(names))

"""The polite, persistent notice while an embedded Shapes World model explains another picture
(the core decides: core/model/training_domain.py)."""
from __future__ import annotations

import os
import weakref

from eclip_desktop.core.model.family import is_embedded


def out_of_domain_text(image_name: str) -> str:
    return (f"The embedded models were trained only on Shapes World scenes (coloured shapes on plain or "
            f"textured backgrounds), so their scores and maps of \u201c{image_name}\u201d say little about it. "
            "For photographs, load an open_clip model or a checkpoint of your own.")


class DomainNotice:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.dismissed = set()
        self.known = {}

    @property
    def window(self):
        return self._window()

    def state_changed(self, names: frozenset) -> None:
        if names & {"model", "model_info", "image"}:
            self.update_domain_notice()

    def update_domain_notice(self) -> None:
        """The polite, persistent notice while an embedded Shapes World model explains another picture."""
        w = self.window
        path = w.image_list.current_path()
        # An unreadable file gets its error, not advice about models: there is no picture to explain.
        show = (w.model is not None and self._shapes_world_model()
                and bool(path) and not w.maps_area.unreadable(path) and path not in self.dismissed
                and not self._in_domain(path))
        if not show:
            w.domain_banner.dismiss()
            return
        if w.domain_banner.isVisible() and w.domain_banner.source == path:
            return
        w.domain_banner.show_message(out_of_domain_text(os.path.basename(path)), "info", path,
                                     "load-open-clip", "Load an open_clip model",
                                     "open-checkpoint", "Open checkpoint\u2026")

    def _shapes_world_model(self) -> bool:
        """The core's decision (core/model/training_domain.py, from the weights' card): w.model and
        w.model_info are set together when a model has loaded."""
        w = self.window
        from eclip_desktop.core.model.training_domain import shapes_world_model
        if w.model_info is not None:
            return shapes_world_model(w.model_info)
        return w.model.family and is_embedded(w.model.architecture)

    def _in_domain(self, path: str) -> bool:
        # Provenance files are read once per image, not on every model or image switch of the UI thread.
        from eclip_desktop.core.shapes.domain import is_shapes_world_image
        if self.known is None:
            self.known = {}
        if path not in self.known:
            self.known[path] = is_shapes_world_image(path)
        return self.known[path]

    def domain_closed(self) -> None:
        w = self.window
        if w.domain_banner.source:
            self.dismissed = self.dismissed | {w.domain_banner.source}

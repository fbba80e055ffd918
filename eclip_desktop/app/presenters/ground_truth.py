"""A ground-truth mask for the current image: its outline over the maps and, live, how much of each
map's evidence sits on the object (score contrast, as mSC reports it, and pointing)."""
from __future__ import annotations

import os
import weakref

from PySide6.QtWidgets import QFileDialog

from eclip_desktop.viewer.jobs.compute import mask_job

MASK_FILTER = "Masks (*.png *.bmp *.tif *.tiff);;All files (*)"


class GroundTruthPresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.masks: dict = {}  # image path -> bool mask at the image's size

    @property
    def window(self):
        return self._window()

    def open_dialog(self) -> None:
        w = self.window
        if w.image_view is None:
            w.banner.show_message("Open an image first: a mask belongs to one image.", "info", "mask")
            return
        path, _ = QFileDialog.getOpenFileName(w, "Ground-truth mask (nonzero = object)",
                                              os.path.dirname(w.image_view.path), MASK_FILTER)
        if path:
            self.load(path)

    def load(self, mask_path: str) -> None:
        w = self.window
        view = w.image_view
        if view is None:
            return
        # Decoded on the io worker like any image: a large mask must not stall the window.
        w.submit(w.io, "mask", mask_job(mask_path, view.path, view.width, view.height),
                 f"reading the mask {os.path.basename(mask_path)} \u2026", self._ready)

    def _ready(self, result) -> None:
        w = self.window
        image_path, mask_path, mask = result
        self.masks[image_path] = mask
        w.banner.clear_source("mask")
        w.status.set_job_text(f"ground truth: {os.path.basename(mask_path)} ({mask.mean():.0%} of the image)")
        w.refresh()

    def clear(self) -> None:
        w = self.window
        self.masks.pop(w.image_list.current_path(), None)
        w.refresh()

    def current(self):
        """The mask of the image on screen, at its size, or None."""
        w = self.window
        view = w.image_view
        if view is None or view.path != w.image_list.current_path():
            return None
        mask = self.masks.get(view.path)
        return mask if mask is not None and mask.shape == (view.height, view.width) else None

"""A ground-truth mask for the current image: its outline over the maps and, live, how much of each
map's evidence sits on the object (score contrast, as mSC reports it, and pointing)."""
from __future__ import annotations

import os

from PySide6.QtWidgets import QFileDialog

from eclip_desktop.app.workers.compute import mask_job
from eclip_desktop.app.workers.jobs import Job

MASK_FILTER = "Masks (*.png *.bmp *.tif *.tiff);;All files (*)"


class GroundTruthMixin:
    gt_masks: dict  # image path -> bool mask at the image's size

    def load_ground_truth_dialog(self) -> None:
        if self.image_view is None:
            self.banner.show_message("Open an image first: a mask belongs to one image.", "info", "mask")
            return
        path, _ = QFileDialog.getOpenFileName(self, "Ground-truth mask (nonzero = object)",
                                              os.path.dirname(self.image_view.path), MASK_FILTER)
        if path:
            self.load_ground_truth(path)

    def load_ground_truth(self, mask_path: str) -> None:
        view = self.image_view
        if view is None:
            return
        # Decoded on the io worker like any image: a large mask must not stall the window.
        self.io.submit(Job("mask", mask_job(mask_path, view.path, view.width, view.height),
                           label=f"reading the mask {os.path.basename(mask_path)} \u2026"))

    def _mask_ready(self, result) -> None:
        image_path, mask_path, mask = result
        self.gt_masks[image_path] = mask
        self.banner.clear_source("mask")
        self.status.set_job_text(f"ground truth: {os.path.basename(mask_path)} ({mask.mean():.0%} of the image)")
        self.act_clear_mask.setEnabled(True)
        self.refresh()

    def clear_ground_truth(self) -> None:
        path = self.image_list.current_path()
        self.gt_masks.pop(path, None)
        self.act_clear_mask.setEnabled(False)
        self.refresh()

    def current_ground_truth(self):
        view = self.image_view
        if view is None or view.path != self.image_list.current_path():
            return None
        mask = self.gt_masks.get(view.path)
        return mask if mask is not None and mask.shape == (view.height, view.width) else None

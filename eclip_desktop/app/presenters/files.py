"""Images in the window: open (dialogs, folders, the sample, recent files, drops), the list and its
thumbnails, removing an image."""
from __future__ import annotations

import os
import weakref

from PySide6.QtWidgets import QFileDialog

from eclip_desktop.app.widgets.image_list import (
    image_extensions,
    split_paths,
)
from eclip_desktop.viewer.jobs.compute import thumbnails_job


def image_filter() -> str:
    exts = sorted(image_extensions())
    common = [e for e in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp") if e in exts]
    return f"Images ({' '.join('*' + e for e in common)});;All images ({' '.join('*' + e for e in exts)})"


class FilesPresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.thumbs = set()

    @property
    def window(self):
        return self._window()

    def remove_current_image(self) -> None:
        w = self.window
        path = w.image_list.current_path()
        if path is None:
            return
        w.image_list.remove(path)
        self.thumbs.discard(path)
        if w.image_list.current_path() is None:
            w.maps_area.clear_maps()
        w.refresh()
        w.request_maps(0)

    def open_images_dialog(self) -> None:
        w = self.window
        paths, _ = QFileDialog.getOpenFileNames(w, "Open images", w.settings.last_dir(), image_filter())
        if paths:
            self.open_paths(paths)

    def open_folder_dialog(self) -> None:
        w = self.window
        folder = QFileDialog.getExistingDirectory(w, "Open a folder of images", w.settings.last_dir())
        if folder:
            self.open_paths([folder])

    def open_sample(self) -> None:
        w = self.window
        from eclip_desktop.viewer.samples import sample_path, sample_prompts
        w.analysis.texts = sample_prompts()
        w.controls.show_analysis(w.analysis)
        self.open_paths([str(sample_path())], remember=False)

    def open_paths(self, paths, select: bool = True, remember: bool = True) -> list[str]:
        """Add image files (and the images of folders) to the list; say which inputs were refused."""
        w = self.window
        images, rejected = split_paths(paths)
        if rejected:
            names = ", ".join(os.path.basename(p) or p for p in rejected[:4]) + (" \u2026" if len(rejected) > 4 else "")
            w.banner.show_message(f"Not an image: {names}. Open PNG, JPEG, TIFF, BMP or WebP files, or a "
                                  "folder that contains them.", "warning", "files")
        elif not images and paths:
            w.banner.show_message("No image files found there.", "warning", "files")
        if not images:
            return []
        added = w.image_list.add_paths(images)
        if remember:
            for p in paths:
                w.settings.add_recent(os.fspath(p))
            w.settings.set_last_dir(os.fspath(paths[0]))
        self._submit_thumbnails()
        if select:
            first = os.path.abspath(images[0])
            if w.image_list.current_path() == first:
                w.request_maps(0)
            else:
                w.image_list.select(first)
        return added

    def _submit_thumbnails(self) -> None:
        w = self.window
        todo = [p for p in w.image_list.paths() if p not in self.thumbs]
        if todo:
            w.submit(w.io, "thumbs", thumbnails_job(todo), "reading thumbnails \u2026", lambda _n: None,
                     partial=lambda part: self.thumbnail_ready(*part))

    def thumbnail_ready(self, path: str, thumb, error: str | None) -> None:
        w = self.window
        self.thumbs.add(path)
        if thumb is not None:
            w.image_list.set_thumbnail(path, thumb)
        else:
            w.image_list.mark_broken(path, error)  # the list marks it; the banner speaks for the current one
            if path == w.image_list.current_path():
                w.banner.show_message(error, "error", "files")
                w.image_view = None
                w.refresh()

    def image_selected(self, path: str) -> None:
        w = self.window
        if w.image_view is not None and w.image_view.path != path:
            w.image_view = None
        broken = w.image_list.broken_message(path)
        if broken:
            w.banner.show_message(broken, "error", "files")
        else:
            w.banner.clear_source("files")  # another file's "not an image" no longer applies
        w.status.set_cursor("")
        w.request_maps(0)

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        w = self.window
        urls = event.mimeData().urls()
        local = [u.toLocalFile() for u in urls if u.isLocalFile()]
        if not local:
            w.banner.show_message("Only files from this computer can be dropped here.", "warning", "files")
            return
        event.acceptProposedAction()
        self.open_paths(local)

    def fill_recent_menu(self) -> None:
        w = self.window
        menu = w.recent_menu
        menu.clear()
        files, sessions = w.settings.recent(), w.settings.recent_sessions()
        for p in files:
            menu.addAction(p, lambda p=p: self.open_paths([p]))
        if sessions:
            menu.addSeparator()
            for p in sessions:
                menu.addAction(f"session: {p}", lambda p=p: w.sessions.open_session(p))
        if not files and not sessions:
            menu.addAction("(nothing yet)").setEnabled(False)

"""The window's actions, menus and Help: every shortcut is a window-level QAction, listed in the
shortcut sheet (Help ▸ Keyboard Shortcuts), so what the keys do is written down in one place."""
from __future__ import annotations

import html
import platform
from importlib import metadata

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from eclip_desktop.app.state import LAYOUT_SHORT, LAYOUTS
from eclip_desktop.app.views.layouts import POOLING_SHORT
from eclip_desktop.core.io.paths import RESOURCES
from eclip_desktop.core.model.poolings import POOLING_LABELS, pooling_names

DOCS = RESOURCES.parent / "docs"
DOC_PAGES = (("The desktop window", "GUI.md"), ("Methods: ITSM, pooling, CLIP Surgery", "METHODS.md"),
             ("ConVis concept maps", "CONVIS.md"), ("Command line", "CLI.md"), ("Results", "RESULTS.md"))
# Plain keys type into text boxes; these hold while a text box has focus (the sheet says so).
TYPING_KEYS_NOTE = ("Keys without Ctrl or Alt (1\u20134, O, W, D, H, Delete, arrows) type into a text box or move in a "
                    "list while one has focus; Alt+1\u2013Alt+4 choose the pooling from anywhere, and Esc or a "
                    "click on a map gives the keys back to the window.")

READING_HTML = """
<h3>How to read these maps</h3>
<p><b>Bright</b> marks where the model finds the text: each location's image token is compared
with the text embedding (ECLIP's Image-Text Similarity Map, ITSM). <b>Dark</b> is where it finds it
least. Every map is stretched to its own min&ndash;max range, so compare <i>where</i> maps are
bright, not how bright; the raw similarity range is printed with each map, and a near-constant map
is flagged.</p>
<p><b>Pooling and semantic shift.</b> How a model pools its tokens during training decides where its
map puts the evidence. A model trained with plain average pooling can learn to read the object
from its surroundings: its map lights up the <i>background</i> around the object. That is the
semantic shift. Masked max pooling keeps the evidence on the object. In an embedded family each
pooling is its own model, so keys 1&ndash;4 and the pooling grid (Ctrl+2) show the shift directly;
the reading guide under the map names the shifted pooling of the loaded family from its measured
model cards. For a single open_clip model the pooling only changes the scores and the
contribution map.</p>
<p><b>Threshold outlines</b> enclose the part of the map above the threshold; that side is
<i>hatched</i>. An outline around a dark hole with no hatching inside is a low region, not a
detection.</p>
<p><b>Overlay</b>: <i>blend</i> mixes the map with the photo at one opacity (colours mix);
<i>alpha by value</i> lets the photo show through low values and keeps high values in their true
colour; <i>heatmap alone</i> hides the photo. O hides and shows the map.</p>
<p><b>CLIP Surgery</b> (Method) removes the part of the similarity shared by all texts and uses
value-value attention; <b>ConVis</b> (WordNet tab) ranks a WordNet concept against the whole
concept set in windows of the image: an absent concept ranks low everywhere, and the caption says
how strongly the image supports it.</p>
<p><b>Model comparison</b> (Ctrl+5) puts a second model's map of the same image, prompt, method
and pooling beside the first. Each tile is stretched to its own range unless <i>Shared Colour
Scale</i> (View menu) puts both on one raw-similarity scale; the header and each tile say which.
Two models' similarities need not be on one scale, so compare where each is bright first.</p>
<p><b>Out of domain</b>: the embedded models were trained on Shapes World scenes only. On any
other picture their scores and maps mean little; the window says so and offers an open_clip
model.</p>
"""


class MenusMixin:

    def _action(self, text, slot=None, shortcut=None, tip="", checkable=False) -> QAction:
        a = QAction(text, self)
        if isinstance(shortcut, (list, tuple)):
            a.setShortcuts([QKeySequence(k) for k in shortcut])
        elif shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.setCheckable(checkable)
        if slot is not None:
            a.triggered.connect(slot)
        self.addAction(a)  # shortcuts work while docks are hidden too
        return a

    def _build_actions(self) -> None:
        A = self._action
        self.act_open = A("&Open Images\u2026", self.open_images_dialog, QKeySequence.Open)
        self.act_open_folder = A("Open &Folder\u2026", self.open_folder_dialog, "Ctrl+Shift+O")
        self.act_sample = A("Open &Sample", self.open_sample)
        self.act_open_family = A("Open Model &Family…", lambda: self.controls.picker.open_family(),
                                 tip="A folder of models trained with each pooling (eclip-desktop train --out)")
        self.act_load_mask = A("Load Ground-Truth &Mask\u2026", self.load_ground_truth_dialog, "Ctrl+M",
                               "A mask of the object in this image (nonzero = object): outlined over the maps, "
                               "with live score contrast and pointing")
        self.act_clear_mask = A("Clear Ground-Truth Mask", self.clear_ground_truth)
        self.act_clear_mask.setEnabled(False)
        self.act_open_session = A("Open Session\u2026", self.open_session_dialog, "Ctrl+Alt+O")
        self.act_save_session = A("&Save Session\u2026", self.save_session_dialog, QKeySequence.Save)
        self.act_copy = A("&Copy Figure", self.copy_figure, "Ctrl+Shift+C",
                          "Copy the current map as an annotated figure")
        self.act_export = A("&Export Map\u2026", self.export_dialog, "Ctrl+E",
                            "Write the figure (.png), the raw map (.npy) and a sidecar (.json)")
        self.act_batch = A("&Batch Export\u2026", self.batch_export_dialog, "Ctrl+Shift+E",
                           "Export maps of many images, prompts, synsets, poolings and methods")
        self.act_quit = A("&Quit", self.close, QKeySequence.Quit)
        self.act_next = A("Next Image", lambda: self.image_list.step(1), "PgDown")
        self.act_prev = A("Previous Image", lambda: self.image_list.step(-1), "PgUp")
        self.act_zoom = A("Reset Zoom", lambda: self.views.reset_zoom(), "Ctrl+0")
        self.act_recompute = A("Recompute", lambda: self.request_maps(0), "F5")
        self.act_cancel = A("Cancel Job", self.cancel_jobs, "Esc")
        self.act_toggle_map = A("Show &Map", self.toggle_map, "O", "Show or hide the map over the image",
                                checkable=True)
        self.act_toggle_map.setChecked(True)
        self.act_remove = A("&Remove Image from List", self.remove_current_image, QKeySequence.Delete,
                            "Take the selected image out of the list (the file is not touched)")
        self.act_difference = A("&Difference Tile in the Pooling Grid", lambda _=False: self.refresh(), "D",
                                "Add the shifted pooling's map minus the best pooling's map to the pooling grid",
                                checkable=True)
        self.act_compare = A("Compare with a Second &Model\u2026", self.choose_compare_model, None,
                             "The model comparison (Ctrl+5): pick the second model under Controls \u25b8 Compare with")
        self.act_shared_scale = A("Shared Colour Scale in the Model Comparison", lambda _=False: self.refresh(), None,
                                  "Both tiles on one raw-similarity scale, so the brighter tile is the more similar "
                                  "model; off: each tile stretched to its own range", checkable=True)
        self.act_shared_scale.setIconText("Shared colour scale")
        self.act_swipe = A("S&wipe Compare", lambda on: self.views.side.set_swipe(on), "W",
                           "Drag a line across the map: the map on its left, the photo on its right",
                           checkable=True)
        self.act_histogram = A("&Histogram of Map Values", self.toggle_histogram, "H",
                               "The shown map's values, with the colour levels and the threshold", checkable=True)
        self.act_guide = A("Reading &Guide", lambda on: self.guide.setVisible(on), None,
                           "What the map on screen shows, under the views", checkable=True)
        self.act_guide.setChecked(True)
        self.act_panels = A("Hide/Show Side &Panels", self.toggle_side_panels, "F11",
                            "Give the maps the whole window (small screens)")
        self.act_shortcuts = A("&Keyboard Shortcuts", self.show_shortcuts, "F1")
        self.act_reading = A("How to &Read These Maps", self.show_reading_help)
        self.act_about = A("&About eclip-desktop", self.show_about)
        self.pooling_group = QActionGroup(self)
        self.pooling_actions = {}
        for i, p in enumerate(pooling_names()):
            # Alt+N as well: a plain digit belongs to a text box that has focus, Alt+N never does.
            keys = [str(i + 1), f"Alt+{i + 1}"] if i < 9 else None
            a = A(POOLING_SHORT.get(p, p), lambda _=False, p=p: self.set_pooling(p), keys,
                  f"{POOLING_LABELS.get(p, p)} (key {i + 1} or Alt+{i + 1})", checkable=True)
            self.pooling_group.addAction(a)
            self.pooling_actions[p] = a
        self.layout_group = QActionGroup(self)
        self.layout_actions = {}
        for i, (key, label) in enumerate(LAYOUTS.items()):
            a = A(label, lambda _=False, k=key: self.set_layout(k), f"Ctrl+{i + 1}", f"{label} (Ctrl+{i + 1})",
                  checkable=True)
            a.setIconText(LAYOUT_SHORT.get(key, label))  # the toolbar's word; menus keep the full name
            self.layout_group.addAction(a)
            self.layout_actions[key] = a

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        for a in (self.act_open, self.act_open_folder, self.act_sample):
            m.addAction(a)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        m.addSeparator()
        for a in (self.act_open_session, self.act_save_session):
            m.addAction(a)
        m.addAction(self.act_open_family)
        m.addAction(self.act_load_mask)
        m.addAction(self.act_clear_mask)
        m.addSeparator()
        for a in (self.act_copy, self.act_export, self.act_batch):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.act_quit)
        v = self.menuBar().addMenu("&View")
        for a in self.layout_actions.values():
            v.addAction(a)
        v.addSeparator()
        for a in self.pooling_actions.values():
            v.addAction(a)
        v.addSeparator()
        for a in (self.act_next, self.act_prev, self.act_zoom, self.act_recompute, self.act_cancel):
            v.addAction(a)
        v.addSeparator()
        v.addAction(self.images_dock.toggleViewAction())
        v.addAction(self.controls_dock.toggleViewAction())
        v.addAction(self.wordnet_dock.toggleViewAction())
        v.addAction(self.faithfulness.dock.toggleViewAction())
        v.addAction(self.act_swipe)
        v.addAction(self.act_histogram)
        v.addAction(self.act_difference)
        v.addAction(self.act_compare)
        v.addAction(self.act_shared_scale)
        v.addAction(self.act_panels)
        v.addAction(self.act_guide)
        v.addAction(self.act_toggle_map)
        h = self.menuBar().addMenu("&Help")
        for a in (self.act_shortcuts, self.act_reading):
            h.addAction(a)
        docs = h.addMenu("&Documentation")
        for title, name in DOC_PAGES:
            a = docs.addAction(title)
            a.triggered.connect(lambda _=False, n=name: self.open_doc(n))
            a.setEnabled((DOCS / name).exists())
        h.addSeparator()
        h.addAction(self.act_about)

    # --- help -------------------------------------------------------------------------------------

    def _text_dialog(self, title: str, body: str, name: str) -> QDialog:
        dialog = getattr(self, name, None)
        if dialog is None:
            dialog = QDialog(self)
            dialog.setWindowTitle(title)
            box = QVBoxLayout(dialog)
            dialog.browser = QTextBrowser()
            dialog.browser.setOpenExternalLinks(True)
            box.addWidget(dialog.browser)
            buttons = QDialogButtonBox(QDialogButtonBox.Close)
            buttons.rejected.connect(dialog.close)
            box.addWidget(buttons)
            dialog.resize(620, 520)
            setattr(self, name, dialog)
        dialog.browser.setHtml(body)
        dialog.show()
        dialog.raise_()
        return dialog

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(what, keys) of every window action with a shortcut, in menu order."""
        rows = []
        for a in self.actions():
            keys = ", ".join(k.toString(QKeySequence.NativeText) for k in a.shortcuts())
            if keys:
                rows.append((a.text().replace("&", "").rstrip("\u2026"), keys))
        return rows

    def show_shortcuts(self) -> QDialog:
        rows = "".join(f"<tr><td>{html.escape(t)}</td><td><b>{html.escape(k)}</b></td></tr>"
                       for t, k in self.shortcut_rows())
        body = (f"<h3>Keyboard shortcuts</h3><table cellspacing='4'>{rows}</table>"
                f"<p>{html.escape(TYPING_KEYS_NOTE)}</p>")
        return self._text_dialog("Keyboard Shortcuts", body, "_shortcuts_dialog")

    def show_reading_help(self) -> QDialog:
        return self._text_dialog("How to Read These Maps", READING_HTML, "_reading_dialog")

    def about_rows(self) -> list[tuple[str, str]]:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        from eclip_desktop import __version__

        def version(dist: str) -> str:
            # From the installed metadata: importing torch here would stall the window for seconds.
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                return "not installed"
        info = self.model_info or {}
        device = f"{info.get('device', '?')} \u00b7 {info.get('dtype', '?')}" if info else "no model loaded"
        return [("eclip-desktop", __version__), ("torch", version("torch")), ("open_clip", version("open_clip_torch")),
                ("Qt", f"{qVersion()} (PySide6 {pyside_version})"), ("pyqtgraph", version("pyqtgraph")),
                ("Python", platform.python_version()), ("Model", self.model.label() if self.model else "none"),
                ("Device", device)]

    def show_about(self) -> QDialog:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in self.about_rows())
        links = " \u00b7 ".join(f"<a href='{QUrl.fromLocalFile(str(DOCS / n)).toString()}'>{html.escape(t)}</a>"
                                 for t, n in DOC_PAGES if (DOCS / n).exists())
        body = (f"<h3>eclip-desktop</h3><p>Explains CLIP models: ECLIP's image-text similarity maps, pooling "
                f"and semantic shift, CLIP Surgery and ConVis concept maps.</p><table cellspacing='4'>{rows}</table>"
                f"<p>{links}</p>")
        return self._text_dialog("About eclip-desktop", body, "_about_dialog")

    def open_doc(self, name: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(DOCS / name)))

"""Help: the shortcut sheet (every window action with a shortcut, in menu order), how to read the
maps, About, and the documentation pages."""
from __future__ import annotations

import html
import platform
import weakref
from importlib import metadata

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

from eclip_desktop.core.io.paths import RESOURCES

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



class HelpPresenter:
    def __init__(self, window):
        self._window = weakref.ref(window)  # weak: see presenters/faithfulness.py
        self.dialogs: dict = {}  # title -> the dialog, made once and shown again

    @property
    def window(self):
        return self._window()

    def _text_dialog(self, title: str, body: str) -> QDialog:
        dialog = self.dialogs.get(title)
        if dialog is None:
            dialog = QDialog(self.window)
            dialog.setWindowTitle(title)
            box = QVBoxLayout(dialog)
            dialog.browser = QTextBrowser()
            dialog.browser.setOpenExternalLinks(True)
            box.addWidget(dialog.browser)
            buttons = QDialogButtonBox(QDialogButtonBox.Close)
            buttons.rejected.connect(dialog.close)
            box.addWidget(buttons)
            dialog.resize(620, 520)
            self.dialogs[title] = dialog
        dialog.browser.setHtml(body)
        dialog.show()
        dialog.raise_()
        return dialog

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """(what, keys) of every window action with a shortcut, in menu order."""
        w = self.window
        rows = []
        for a in w.actions():
            keys = ", ".join(k.toString(QKeySequence.NativeText) for k in a.shortcuts())
            if keys:
                rows.append((a.text().replace("&", "").rstrip("\u2026"), keys))
        return rows

    def show_shortcuts(self) -> QDialog:
        rows = "".join(f"<tr><td>{html.escape(t)}</td><td><b>{html.escape(k)}</b></td></tr>"
                       for t, k in self.shortcut_rows())
        body = (f"<h3>Keyboard shortcuts</h3><table cellspacing='4'>{rows}</table>"
                f"<p>{html.escape(TYPING_KEYS_NOTE)}</p>")
        return self._text_dialog("Keyboard Shortcuts", body)

    def show_reading_help(self) -> QDialog:
        return self._text_dialog("How to Read These Maps", READING_HTML)

    def about_rows(self) -> list[tuple[str, str]]:
        w = self.window
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        from eclip_desktop import __version__

        def version(dist: str) -> str:
            # From the installed metadata: importing torch here would stall the window for seconds.
            try:
                return metadata.version(dist)
            except metadata.PackageNotFoundError:
                return "not installed"
        info = w.model_info or {}
        device = f"{info.get('device', '?')} \u00b7 {info.get('dtype', '?')}" if info else "no model loaded"
        return [("eclip-desktop", __version__), ("torch", version("torch")), ("open_clip", version("open_clip_torch")),
                ("Qt", f"{qVersion()} (PySide6 {pyside_version})"), ("pyqtgraph", version("pyqtgraph")),
                ("Python", platform.python_version()), ("Model", w.model.label() if w.model else "none"),
                ("Device", device)]

    def show_about(self) -> QDialog:
        rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in self.about_rows())
        links = " \u00b7 ".join(f"<a href='{QUrl.fromLocalFile(str(DOCS / n)).toString()}'>{html.escape(t)}</a>"
                                for t, n in DOC_PAGES if (DOCS / n).exists())
        body = (f"<h3>eclip-desktop</h3><p>Explains CLIP models: ECLIP's image-text similarity maps, pooling "
                f"and semantic shift, CLIP Surgery and ConVis concept maps.</p><table cellspacing='4'>{rows}</table>"
                f"<p>{links}</p>")
        return self._text_dialog("About eclip-desktop", body)

    def open_doc(self, name: str) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(DOCS / name)))

"""The WordNet browser dock: search, a lazily loaded hyponym tree, details with every hypernym path,
concept-set filter, history, and "use as prompt".

All WordNet work runs on the dock's own worker thread (wordnet_service.py), created only when the
dock is first needed, so a window whose dock stays closed never loads WordNet. Each kind of request
supersedes the older one of its kind; tree expansions get a kind per node so that opening two
nodes quickly loads both.

Selecting a synset also asks the window for its ConVis map of the current image (synset_selected);
the window computes it on the model's worker and hands back a status line and the image's
"concepts in this image" listing, which this dock only displays (clicking one selects it).
"""
from __future__ import annotations

import re
from html import escape

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QToolButton,
    QTreeWidget,
    QVBoxLayout,
    QWidget,
)

from eclip_desktop.app.wordnet.details import SynsetDetails
from eclip_desktop.app.wordnet.tree import NAME_ROLE, History, HyponymTree
from eclip_desktop.app.workers.jobs import Job, JobRunner
from eclip_desktop.core.wordnet.hierarchy import SynsetInfo
from eclip_desktop.viewer.jobs.wordnet import (
    ALL_NOUNS,
    DEFAULT_SET,
    PAPER,
    ROOT,
    SHAPES,
    SetLoaded,
    Unknown,
    WordNetService,
    short,
    vocabulary_key,
)

SEARCH_DEBOUNCE_MS = 200
PROMPT_TEMPLATE = "a photo of a {lemma}."


def fill_template(template: str, lemma: str) -> str:
    """The prompt for a lemma; "a {lemma}" becomes "an {lemma}" before a vowel ("an attribute")."""
    if "{lemma}" not in template:
        return f"{template} {lemma}"
    if lemma[:1].lower() in "aeiou":
        template = re.sub(r"\b([Aa]) \{lemma\}", r"\1n {lemma}", template)
    return template.replace("{lemma}", lemma)
CONVIS_NOTE = "Selecting a synset shows its ConVis map of the current image in the map pane."
OPEN_FILE = "__open__"


class WordNetDock(QDockWidget):
    synset_selected = Signal(str)
    prompt_requested = Signal(str)  # a prompt line for the prompts editor
    job_text = Signal(str, bool)  # for the status bar: the text, and whether it is a running job's progress
    busy_changed = Signal(bool)
    concept_set_changed = Signal(str)  # the key of the set now in use (ConVis maps and lists follow it)

    def __init__(self, parent=None):
        super().__init__("WordNet", parent)
        self.setObjectName("wordnetDock")
        self.service = WordNetService()
        self.runner: JobRunner | None = None
        self.key = DEFAULT_SET
        self.info: SynsetInfo | None = None
        self.history = History()
        self.broken = ""  # the WordNetError message once WordNet proved missing
        self._started = False
        # (record in history, re-root the tree, emit synset_selected) for the newest request
        self._pending = (True, True, True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.timeout.connect(self.search_now)
        self._build()
        self.visibilityChanged.connect(lambda shown: shown and self.start())

    # --- construction -------------------------------------------------------------------------

    def _build(self) -> None:
        root = QWidget()
        box = QVBoxLayout(root)
        box.setContentsMargins(6, 6, 6, 6)
        box.setSpacing(4)

        nav = QHBoxLayout()
        self.act_back = self._shortcut("Back", "Alt+Left", self.back)
        self.act_forward = self._shortcut("Forward", "Alt+Right", self.forward)
        self.back_button, self.forward_button = QToolButton(), QToolButton()
        for button, action, arrow in ((self.back_button, self.act_back, Qt.LeftArrow),
                                      (self.forward_button, self.act_forward, Qt.RightArrow)):
            button.setDefaultAction(action)
            button.setArrowType(arrow)
            nav.addWidget(button)
        self.root_button = QToolButton()
        self.root_button.setText("entity")
        self.root_button.setToolTip("Show the tree from entity.n.01")
        self.root_button.clicked.connect(lambda: self.set_tree_root(ROOT))
        nav.addWidget(self.root_button)
        self.concepts = QComboBox()
        self.concepts.setToolTip("Which synsets the search, the tree and the subtree sizes cover")
        self.concepts.addItem("Default concepts", DEFAULT_SET)
        self.concepts.addItem("ConVis paper's concepts (7,080)", PAPER)
        self.concepts.addItem("All nouns", ALL_NOUNS)
        self.concepts.addItem("Shapes World classes", SHAPES)
        self.concepts.addItem("Open vocabulary file\u2026", OPEN_FILE)
        self.concepts.activated.connect(self._concepts_activated)
        nav.addWidget(self.concepts, 1)
        box.addLayout(nav)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search a word, a synset name (dog.n.01) or a gloss; Enter opens it")
        self.search.setClearButtonEnabled(True)
        self.search.textEdited.connect(lambda _: self._search_timer.start(SEARCH_DEBOUNCE_MS))
        self.search.returnPressed.connect(self._open_typed)
        box.addWidget(self.search)

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.RichText)
        self.message.setStyleSheet("background:#fff4ce; color:#5c4400; padding:4px; border-radius:3px;")
        self.message.linkActivated.connect(self._message_link)
        self.message.hide()
        box.addWidget(self.message)

        self.results = QListWidget()
        # Hits are one line each; the tooltip carries the whole gloss, so clip instead of scrolling.
        self.results.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.results.itemActivated.connect(self._result_chosen)
        self.results.itemClicked.connect(self._result_chosen)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["hyponyms", "subtree"])
        self.tree.setColumnWidth(0, 220)
        self.hyponyms = HyponymTree(self.tree, self._submit, self.service, self._tree_chosen)
        self.hyponyms.key = DEFAULT_SET  # what the tree shows before WordNet has loaded

        self.details = SynsetDetails()
        self.details.navigate.connect(lambda name: self.navigate(name))
        detail_box = QWidget()
        dv = QVBoxLayout(detail_box)
        dv.setContentsMargins(0, 0, 0, 0)
        dv.addWidget(self.details)
        row = QHBoxLayout()
        self.template = QLineEdit(PROMPT_TEMPLATE)
        self.template.setToolTip("{lemma} becomes the synset's first lemma")
        self.use_prompt = QPushButton("Use as prompt")
        self.use_prompt.setToolTip("Add this synset's lemma to the prompts under Controls")
        self.use_prompt.clicked.connect(self.use_as_prompt)
        self.use_prompt.setEnabled(False)
        row.addWidget(self.template, 1)
        row.addWidget(self.use_prompt)
        self.convis_note = QLabel(CONVIS_NOTE)
        self.convis_note.setWordWrap(True)
        self.convis_note.setStyleSheet("color: gray;")
        self.image_concepts_title = QLabel("<b>Concepts in this image</b>")
        self.image_concepts_title.setWordWrap(True)
        self.image_concepts_title.setToolTip("Top concepts of the set by ConVis map mass (the mean over the "
                                             "image of how well the concept ranks); a click selects it")
        dv.addWidget(self.image_concepts_title)
        self.image_concepts = QListWidget()
        self.image_concepts.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.image_concepts.setMinimumHeight(120)
        self.image_concepts.itemClicked.connect(self._result_chosen)
        self.image_concepts.itemActivated.connect(self._result_chosen)
        dv.addWidget(self.image_concepts)
        # Always there, empty until a ConVis map lists them: a list that appears pushes the rows
        # around it while the user is about to click one.
        self.show_image_concepts(None)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(detail_box)

        split = QSplitter(Qt.Vertical)
        for w in (self.results, self.tree, scroll):
            split.addWidget(w)
        split.setSizes([130, 210, 370])
        box.addWidget(split, 1)
        # Under the splitter, not in the details' scroll area: a long gloss or many hypernym paths
        # pushed the prompt row and the ConVis line below the dock's bottom edge.
        box.addLayout(row)
        box.addWidget(self.convis_note)
        self.setWidget(root)
        self._sync_history()

    def _shortcut(self, text: str, keys: str, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        action.setToolTip(f"{text} ({keys})")
        # Only while the dock has focus: Alt+arrows mean other things in text fields elsewhere.
        action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # --- worker ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Load WordNet on the worker and show entity.n.01 (once; later calls do nothing)."""
        if self._started:
            return
        self._started = True
        self.runner = JobRunner("wordnet", None, self)
        self.runner.started.connect(lambda kind, label: label and self.job_text.emit(label, True))
        self.runner.progressed.connect(lambda kind, text: self.job_text.emit(text, True))
        self.runner.busy_changed.connect(self.busy_changed)
        self._submit("wn-load", lambda ctx: self.service.load(ctx, self.key), self._set_loaded, "WordNet: loading \u2026")
        # Opening the tab shows entity.n.01 without selecting it: a selection starts a ConVis job,
        # which on first use encodes every gloss of the set (minutes for big models).
        self.navigate(ROOT, select=False)

    def _submit(self, kind: str, run, done, label: str = "") -> None:
        """A job on the dock's worker; its result goes to `done`, a failure to _failed."""
        if self.broken:
            return
        if self.runner is None:
            self.start()
        self.runner.submit(Job(kind, run, label, done=done, failed=lambda message: self._failed(kind, message)))

    def is_busy(self) -> bool:
        return self.runner is not None and self.runner.is_busy()

    def shutdown(self) -> None:
        self._search_timer.stop()
        if self.runner is not None:
            self.runner.shutdown()

    def _failed(self, kind: str, message: str) -> None:
        if not self.service.loaded and not self.broken:
            # Without the hierarchy nothing here can work; say why once and stop asking.
            self.broken = message
            for w in (self.search, self.concepts, self.results, self.tree, self.root_button):
                w.setEnabled(False)
        elif kind == "wn-load" and getattr(self, "_key_before", None) is not None:
            # A set that could not be built must not stay selected, or ConVis would ask for it again.
            self.key = self._key_before
            self._select_key(self.key)
        self.show_message(escape(message))
        self.job_text.emit("WordNet unavailable" if self.broken else "", False)

    # --- messages -------------------------------------------------------------------------------

    def show_message(self, html: str) -> None:
        self.message.setText(html)
        self.message.setVisible(bool(html))

    def _message_link(self, href: str) -> None:
        self.navigate(href.removeprefix("synset:"))

    # --- search ---------------------------------------------------------------------------------

    def search_now(self) -> None:
        query, key = self.search.text(), self.key
        if not query.strip():
            self.results.clear()
            return
        self._submit("wn-search", lambda ctx: self.service.search(ctx, query, key), lambda r: self._show_hits(*r))

    def _show_hits(self, query: str, hits) -> None:
        if query != self.search.text():
            return
        self.results.clear()
        for hit in hits:
            item = QListWidgetItem(f"{hit.name}  \u00b7  {hit.lemma} \u2014 {hit.gloss}")
            item.setData(NAME_ROLE, hit.name)
            item.setToolTip(hit.gloss)
            self.results.addItem(item)
        if not hits:
            self.results.addItem(QListWidgetItem("no match in this concept set"))

    def _result_chosen(self, item: QListWidgetItem) -> None:
        name = item.data(NAME_ROLE)
        if name and (self.info is None or self.info.name != name):
            self.navigate(name)

    def _open_typed(self) -> None:
        text = self.search.text().strip()
        if text:
            self.navigate(text)

    # --- navigation and history ------------------------------------------------------------------

    def back(self) -> None:
        self._step(-1)

    def forward(self) -> None:
        self._step(1)

    def _step(self, step: int) -> None:
        name = self.history.go(step)
        if name is not None:
            self._sync_history()
            self.navigate(name, record=False)

    def _sync_history(self) -> None:
        self.act_back.setEnabled(self.history.can_go(-1))
        self.act_forward.setEnabled(self.history.can_go(1))

    def set_tree_root(self, name: str, size: int | None = None) -> None:
        self.hyponyms.set_root(name, self.key, size)

    def _tree_chosen(self, name: str) -> None:
        if self.info is None or self.info.name != name:
            self.navigate(name, reroot=False)

    def navigate(self, text: str, record: bool = True, reroot: bool = True, select: bool = True) -> None:
        """Show a synset (a name, or a word's first sense) in the details, and usually in the tree."""
        key = self.key
        self._pending = (record, reroot, select)
        self._submit("wn-details", lambda ctx: self.service.details(ctx, text, key), self._show_details)

    def _show_details(self, result) -> None:
        if isinstance(result, Unknown):
            links = ", ".join(f'<a href="synset:{escape(s)}">{escape(s.replace("_", " "))}</a>'
                              for s in result.suggestions)
            text = escape(result.message.split(" Did you mean:")[0])
            self.show_message(text + (f"<br>Did you mean: {links}?" if links else ""))
            return
        record, reroot, select = self._pending
        self.show_message("")
        self.info = result
        self.details.show_info(result)
        self.use_prompt.setEnabled(True)
        if record:
            self.history.record(result.name)
        self._sync_history()
        if reroot:
            self.set_tree_root(result.name, result.subtree_size)
        if select:
            self.synset_selected.emit(result.name)

    def _select_key(self, key: str) -> None:
        self.concepts.setCurrentIndex(max(self.concepts.findData(key), 0))

    def _concepts_activated(self, index: int) -> None:
        key = self.concepts.itemData(index)
        if key == OPEN_FILE:
            self._select_key(self.key)
            path, _ = QFileDialog.getOpenFileName(self, "Open a vocabulary file", "",
                                                  "Text files (*.txt);;All files (*)")
            if path:
                self.load_vocabulary(path)
            return
        self.use_concept_set(key)

    def use_concept_set(self, key: str) -> None:
        self._key_before = self.key  # restored if this set cannot be loaded (the paper's set offline)
        self.key = key
        self._select_key(key)
        self._submit("wn-load", lambda ctx: self.service.load(ctx, key), self._set_loaded, "WordNet: concept set \u2026")

    def load_vocabulary(self, path: str) -> None:
        """Use one word or synset per line of a file; rejected lines are listed in the message."""
        key = vocabulary_key(path)
        self._submit("wn-load", lambda ctx: self.service.load(ctx, key), self._set_loaded,
                     "WordNet: reading the vocabulary \u2026")

    def _set_loaded(self, loaded: SetLoaded) -> None:
        if self.concepts.findData(loaded.key) < 0:
            self.concepts.insertItem(self.concepts.count() - 1, f"{loaded.name} (file)", loaded.key)
        changed = loaded.key != self.hyponyms.key
        self.key = loaded.key
        self._select_key(loaded.key)
        self.job_text.emit(f"WordNet: {loaded.size} synsets in \u2018{loaded.name}\u2019", False)
        if loaded.rejected:
            lines = "<br>".join(f"line {n}: {escape(text)} \u2014 {escape(reason)}"
                                for n, text, reason in loaded.rejected[:8])
            more = f"<br>\u2026 and {len(loaded.rejected) - 8} more" if len(loaded.rejected) > 8 else ""
            self.show_message(f"{len(loaded.rejected)} line(s) of the file were not used:<br>{lines}{more}")
        if changed:
            self.concept_set_changed.emit(loaded.key)
            self.set_tree_root(ROOT)
            if self.search.text().strip():
                self.search_now()

    # --- ConVis (computed by the window; shown here) ----------------------------------------------

    def set_convis_status(self, text: str) -> None:
        self.convis_note.setText(text or CONVIS_NOTE)

    def show_image_concepts(self, rows: list[dict] | None, image_name: str = "", note: str = "") -> None:
        """rows: the core's concepts_in_image "by_mass" entries; None empties the list (note: why)."""
        self.image_concepts.clear()
        if rows is None and note:
            self.image_concepts_title.setText(f"<b>Concepts in this image</b> <span style='color: gray'>\u2014 "
                                              f"not listed: {escape(note)}</span>")
            return
        if rows is None:
            self.image_concepts_title.setText("<b>Concepts in this image</b> <span style='color: gray'>\u2014 "
                                              "listed with the first ConVis map of the image</span>")
            return
        self.image_concepts_title.setText(f"<b>Concepts in this image</b> {escape(image_name)}")
        for row in rows:
            item = QListWidgetItem(f"{row['synset']}  \u00b7  {row['mass']:.3f} \u2014 {short(row['gloss'], 50)}")
            item.setData(NAME_ROLE, row["synset"])
            item.setToolTip(f"{row['gloss']}\nmap mass {row['mass']:.4f}, best rank {row['best_rank']}")
            self.image_concepts.addItem(item)

    # --- prompts --------------------------------------------------------------------------------

    def prompt_text(self) -> str:
        if self.info is None:
            return ""
        lemma = self.info.lemmas[0].replace("_", " ")
        template = self.template.text().strip() or PROMPT_TEMPLATE
        return fill_template(template, lemma)

    def use_as_prompt(self) -> None:
        text = self.prompt_text()
        if text:
            self.prompt_requested.emit(text)

"""The main window: views in the middle, images on the left, controls on the right.

Flow: a control changes a plain state -> display changes redraw at once on this thread; changes
that need the model go through one debounce timer to a single "maps" job on the worker, whose
result is merged into `self.maps` if it still belongs to what is on screen (`_context`).

ConVis: a synset selected in the WordNet dock turns the side-by-side map pane into that synset's
concept map of the current image ("convis" jobs on the same worker, which owns the model); picking
a Method or a prompt under Controls returns the pane to the prompt maps.
"""
from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QScrollArea,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from eclip_desktop.app.settings import AppSettings
from eclip_desktop.app.state import LAYOUTS, AnalysisState, DisplayState, ModelChoice
from eclip_desktop.app.views.figure import FigureOptions
from eclip_desktop.app.views.layouts import (
    POOLING_SHORT,
    SINGLE_MODEL_NOTE,
    ConVisPane,
    MapViews,
    Scene,
    needed_pairs,
)
from eclip_desktop.app.widgets.banner import MessageBanner
from eclip_desktop.app.widgets.controls import ControlsPanel
from eclip_desktop.app.widgets.display_bar import DisplayBar
from eclip_desktop.app.widgets.image_list import ImageList
from eclip_desktop.app.widgets.status import StatusBar
from eclip_desktop.app.window_files import FilesMixin
from eclip_desktop.app.wordnet.dock import WordNetDock
from eclip_desktop.app.workers.compute import (
    MapRequest,
    MapResult,
    ModelLoaded,
    WorkerState,
    load_model_job,
    map_job,
)
from eclip_desktop.app.workers.convis import ConVisRequest, ConVisResult, convis_job
from eclip_desktop.app.workers.jobs import Job, JobRunner
from eclip_desktop.core.explain.methods import method_names
from eclip_desktop.core.model.family import FAMILY, family_available
from eclip_desktop.core.model.loading import ModelSpec
from eclip_desktop.core.model.poolings import POOLING_LABELS, pooling_names

TEXT_DEBOUNCE_MS = 250
NO_FAMILY_MESSAGE = ("No embedded model found \u2014 choose a model: an open_clip architecture with downloaded "
                     "weights, a checkpoint file (Open checkpoint\u2026), or \u201crandom (untrained)\u201d "
                     "for a dry run whose maps mean nothing.")


def as_choice(model) -> ModelChoice | None:
    if isinstance(model, ModelChoice):
        return model
    if isinstance(model, ModelSpec):
        return ModelChoice(model.architecture, model.pretrained, model.device, model.dtype)
    return None


class MainWindow(FilesMixin, QMainWindow):
    def __init__(self, model="auto", images=None, texts=None, settings: AppSettings | None = None,
                 open_sample: bool = True, restore_geometry: bool = True):
        """model: "auto" (embedded family if installed), a ModelSpec/ModelChoice, or None (none loaded)."""
        super().__init__()
        self.setWindowTitle("eclip-desktop")
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings()
        self.analysis = AnalysisState()
        self.display = DisplayState()
        self.figure_options = FigureOptions()  # Export Map's last choices
        self.layout_name = "side"
        self.model: ModelChoice | None = None
        self.model_info: dict | None = None
        self.image_view = None
        self.maps: dict = {}
        self._context = None
        self._map_note = ""
        self._thumbs: set[str] = set()
        self._failed_path = None  # the image whose last map job failed before it could be shown
        self.selected_synset = ""
        self.convis_on = False  # the side-by-side map pane shows selected_synset's ConVis map
        self.convis_result: ConVisResult | None = None
        self._convis_note = ""
        self._convis_asked = None  # (context, synset) of the ConVis job in flight
        self._concepts_context = None  # what the dock's "concepts in this image" list belongs to

        self.compute = JobRunner("compute", WorkerState(), self)
        self.io = JobRunner("io", None, self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._submit_maps)

        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._connect_jobs()
        self.resize(1440, 900)
        if restore_geometry:
            geometry, state = self.settings.geometry()
            if geometry is not None:
                self.restoreGeometry(geometry)
            if state is not None:
                self.restoreState(state)
        self._start(model, images, texts, open_sample)

    # --- construction -----------------------------------------------------------------------------

    def _action(self, text, slot=None, shortcut=None, tip="", checkable=False) -> QAction:
        a = QAction(text, self)
        if shortcut:
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
        self.pooling_group = QActionGroup(self)
        self.pooling_actions = {}
        for i, p in enumerate(pooling_names()):
            a = A(POOLING_SHORT.get(p, p), lambda _=False, p=p: self.set_pooling(p), str(i + 1) if i < 9 else None,
                  f"{POOLING_LABELS.get(p, p)} (key {i + 1})", checkable=True)
            self.pooling_group.addAction(a)
            self.pooling_actions[p] = a
        self.layout_group = QActionGroup(self)
        self.layout_actions = {}
        for i, (key, label) in enumerate(LAYOUTS.items()):
            a = A(label, lambda _=False, k=key: self.set_layout(k), f"Ctrl+{i + 1}", checkable=True)
            self.layout_group.addAction(a)
            self.layout_actions[key] = a

    def _build_ui(self) -> None:
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(6, 6, 6, 0)
        box.setSpacing(6)
        self.banner = MessageBanner()
        self.banner.action_triggered.connect(self._banner_action)
        self.views = MapViews()
        self.views.shown_clicked.connect(self._shown_clicked)
        box.addWidget(self.banner)
        box.addWidget(self.views, 1)
        self.setCentralWidget(central)

        self.image_list = ImageList()
        self.image_list.image_selected.connect(self._image_selected)
        self.images_dock = QDockWidget("Images", self)
        self.images_dock.setObjectName("imagesDock")
        self.images_dock.setWidget(self.image_list)
        self.images_dock.setMinimumWidth(170)
        self.addDockWidget(Qt.LeftDockWidgetArea, self.images_dock)

        self.controls = ControlsPanel(list(self.pooling_actions.values()))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.controls)
        scroll.setMinimumWidth(340)
        self.controls_dock = QDockWidget("Controls", self)
        self.controls_dock.setObjectName("controlsDock")
        self.controls_dock.setWidget(scroll)
        self.addDockWidget(Qt.RightDockWidgetArea, self.controls_dock)
        self.wordnet_dock = WordNetDock(self)
        self.add_side_dock(self.wordnet_dock)
        # Controls stay in front: WordNet loads only once its tab is opened.
        self.controls_dock.raise_()
        self.wordnet_dock.synset_selected.connect(self.show_convis)
        self.wordnet_dock.prompt_requested.connect(self.add_prompt)
        self.controls.changed.connect(self._control_changed)
        # activated, not currentIndexChanged: re-picking the method already selected must also
        # bring the prompt maps back from a ConVis map.
        self.controls.method.activated.connect(lambda *_: self.leave_convis())
        self.controls.picker.load_requested.connect(
            lambda c: self.request_model(c.on_device(self.controls.device_name())))
        self.controls.picker.refused.connect(lambda text: self.banner.show_message(text, "warning", "model"))

        self.status = StatusBar()
        self.status.cancel_requested.connect(self.cancel_jobs)
        self.setStatusBar(self.status)
        self.views.cursor_text.connect(self.status.set_cursor)
        self.wordnet_dock.job_text.connect(self.status.set_job_text)
        self.wordnet_dock.busy_changed.connect(self._busy_changed)

        bar = QToolBar("Layouts")
        bar.setObjectName("layoutToolbar")
        bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
        for a in self.layout_actions.values():
            bar.addAction(a)
        bar.addSeparator()
        bar.addAction(self.act_copy)
        self.addToolBar(Qt.TopToolBarArea, bar)
        self.display_bar = DisplayBar()
        self.display_bar.changed.connect(self._display_changed)
        dbar = QToolBar("Display")
        dbar.setObjectName("displayToolbar")
        dbar.addWidget(self.display_bar)
        self.addToolBar(Qt.TopToolBarArea, dbar)

    def add_side_dock(self, dock: QDockWidget) -> None:
        """A place for further panels (e.g. the WordNet browser) below the controls."""
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        self.tabifyDockWidget(self.controls_dock, dock)

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

    def _connect_jobs(self) -> None:
        for runner in (self.compute, self.io):
            runner.busy_changed.connect(self._busy_changed)
            runner.started.connect(lambda kind, label: self.status.set_job_text(label))
            runner.progressed.connect(lambda kind, text: self.status.set_job_text(text))
            runner.failed.connect(self._job_failed)
            runner.cancelled.connect(self._job_cancelled)
            runner.succeeded.connect(self._job_succeeded)
            runner.partial.connect(self._job_partial)

    # --- start ----------------------------------------------------------------------------------

    def _start(self, model, images, texts, open_sample: bool) -> None:
        from eclip_desktop.app.samples import sample_path, sample_prompts
        use_sample = not images and open_sample
        self.analysis.texts = list(texts) if texts else (sample_prompts() if use_sample else self.analysis.texts)
        choice = ModelChoice(FAMILY) if model == "auto" and family_available() else as_choice(model)
        if choice is not None and choice.family:
            # The first start shows the family's default, the masked-max model (as the CLI does);
            # the native sibling's semantic shift is one key (1) away.
            start = "masked_max" if model == "auto" else self.analysis.pooling
            self.analysis.pooling = self._family_pooling(choice, start)
            if model == "auto" and use_sample:
                # The first screen opens on the pooling grid: the shifted siblings (avg, native) beside
                # masked max, ECLIP's remedy, are the point of the product (issue 12).
                self.layout_name = "poolings"
        self.controls.show_analysis(self.analysis)
        self.display_bar.show_display(self.display)
        self.pooling_actions[self.analysis.pooling].setChecked(True)
        self.layout_actions[self.layout_name].setChecked(True)
        self._update_pooling_availability(choice)
        if choice is not None:
            self.request_model(choice)
        elif model == "auto":
            self.banner.show_message(NO_FAMILY_MESSAGE, "warning", "model", "choose-model", "Choose a model\u2026")
        paths = list(images or []) or ([str(sample_path())] if use_sample else [])
        if paths:
            self.open_paths(paths, remember=bool(images))
        self.refresh()

    # --- model ----------------------------------------------------------------------------------

    @staticmethod
    def _family_pooling(choice: ModelChoice, pooling: str) -> str:
        have = choice.poolings()
        if pooling in have:
            return pooling
        return "masked_max" if "masked_max" in have else (have[0] if have else pooling)

    def request_model(self, choice: ModelChoice) -> None:
        if choice.family:
            self.set_pooling(self._family_pooling(choice, self.analysis.pooling), compute=False)
        self.controls.picker.set_choice(choice)
        self.controls.show_device(choice.device)
        self.compute.submit(Job("model", load_model_job(choice, self.analysis.pooling),
                                label=f"loading {choice.label()} \u2026"))

    def _model_loaded(self, loaded: ModelLoaded) -> None:
        self.model, self.model_info = loaded.choice, loaded.info
        self.banner.clear_source("model")
        self.status.set_model(loaded.info, loaded.choice.label())
        self.controls.show_device(loaded.choice.device)
        self._update_pooling_availability(loaded.choice)
        for notice in loaded.notices:
            self.banner.show_message(notice, "warning", "device")
        self.maps, self._context = {}, None
        self.request_maps(0)

    def _update_pooling_availability(self, choice: ModelChoice | None) -> None:
        family = choice is not None and choice.family
        have = set(choice.poolings() if choice is not None else pooling_names())
        for p, a in self.pooling_actions.items():
            a.setEnabled(p in have)
        if family:
            note = ("Each pooling is its own model, trained with that pooling: switching shows that "
                    "model's map, so semantic shift shows in the map itself.")
        else:
            note = ("One model: the pooling changes the scores and the contribution map, not the "
                    "similarity map — that needs a model trained with the pooling.")
        self.controls.pooling_note.setText(note)
        self.controls.pooling_note.setToolTip(SINGLE_MODEL_NOTE if not family else note)

    def current_engine(self):
        """The engine behind the map on screen (read-only peek for tests and diagnostics)."""
        if self.model is None:
            return None
        return self.compute.state.engines.get(self.model.spec(self.analysis.pooling))

    # --- analysis state -----------------------------------------------------------------------------

    def set_pooling(self, pooling: str, compute: bool = True) -> None:
        self.analysis.pooling = pooling
        action = self.pooling_actions[pooling]
        if not action.isChecked():
            action.setChecked(True)
        if compute:
            self.refresh()
            self.request_maps(0)

    def set_layout(self, key: str) -> None:
        self.layout_name = key
        if not self.layout_actions[key].isChecked():
            self.layout_actions[key].setChecked(True)
        self.refresh()
        self.request_maps(0)

    def _display_changed(self) -> None:
        before = self.display.show_contribution
        self.display = self.display_bar.read_display()
        if before != self.display.show_contribution:
            self.refresh()
        else:
            self.views.apply_display(self.display)

    def _control_changed(self, what: str) -> None:
        if what == "device":
            if self.model is not None:
                self.request_model(self.model.on_device(self.controls.device_name()))
            return
        self.controls.read_analysis(self.analysis)
        if what == "texts":
            self.controls.update_shown(self.analysis.texts, self.analysis.shown)
            self.analysis.shown = max(self.controls.shown.currentIndex(), 0)
            self.request_maps(TEXT_DEBOUNCE_MS)
        elif what == "shown":
            self.leave_convis()
            self.refresh()
        else:
            self.refresh()
            self.request_maps(0)

    def add_prompt(self, text: str) -> None:
        """Append a prompt line (from the WordNet dock) unless it is there, and map it."""
        texts = self.controls.texts()
        if text not in texts:
            self.controls.prompts.appendPlainText(text)
            texts = self.controls.texts()
        self.controls.shown.setCurrentIndex(texts.index(text))
        self.status.set_job_text(f"prompt: {text}")

    def _shown_clicked(self, index: int) -> None:
        self.controls.shown.setCurrentIndex(index)

    # --- maps -------------------------------------------------------------------------------------

    def request_maps(self, delay_ms: int = 0) -> None:
        """Ask for the maps the current layout needs; calls within the delay merge into one job."""
        self._debounce.start(delay_ms)

    def _options(self) -> tuple:
        return tuple((m, tuple(sorted(self.analysis.method_options(m).items()))) for m in method_names())

    def _submit_maps(self) -> None:
        path = self.image_list.current_path()
        if path is None:
            self.refresh()
            return
        broken = self.image_list.broken_message(path)
        if broken:
            self.banner.show_message(broken, "error", "files")
            self.image_view, self.maps, self._context = None, {}, None
            self.refresh()
            return
        a = self.controls.read_analysis(self.analysis)
        req = MapRequest(path, self.model, (), tuple(a.texts), a.ensemble, self._options(), a.tau)
        if req.context() != self._context:
            self.maps, self._context = {}, req.context()
        need = [p for p in needed_pairs(self.layout_name, a, self.model) if p not in self.maps] \
            if self.model is not None and a.texts else []
        have_image = self.image_view is not None and self.image_view.path == path
        if self._concepts_context is not None and self._concepts_context[0] != path:
            self.wordnet_dock.show_image_concepts(None)  # another image's listing would mislead
            self._concepts_context = None
        if not need and have_image:
            self.refresh()
            self._request_convis()
            return
        self._map_note = "computing \u2026"
        self.compute.submit(Job("maps", map_job(replace(req, pairs=tuple(need))),
                                label=f"{os.path.basename(path)}: maps \u2026"))
        self.refresh()
        # After the maps job, so the picture appears before the (slower) ConVis windows run.
        self._request_convis()

    def _maps_ready(self, result: MapResult) -> None:
        if result.request.context() != self._context:
            return
        self._failed_path = None
        self.image_view = result.image
        if result.model is not None and result.model != self.model:
            # The worker fell back to the CPU: what runs now is what the controls must show.
            self.model = result.model
            self.controls.show_device(result.model.device)
            self._context = replace(result.request, model=result.model).context()
        if result.model_info:
            self.model_info = result.model_info
            self.status.set_model(result.model_info, self.model.label() if self.model else "")
        for notice in result.notices:
            self.banner.show_message(notice, "warning", "device")
        self.maps.update(result.maps)
        self.banner.clear_source("maps")
        self._map_note = ""
        self.refresh()
        if self.model is not None and any(p not in self.maps for p in needed_pairs(self.layout_name, self.analysis,
                                                                                     self.model)):
            self.request_maps(0)

    # --- ConVis -------------------------------------------------------------------------------------

    def show_convis(self, synset: str) -> None:
        """Show a synset's ConVis map of the current image (the WordNet dock's selection)."""
        self.selected_synset = synset
        self.convis_on = True
        self._request_convis()

    def leave_convis(self) -> None:
        """Back to the prompt maps (ITSM / Surgery) in the map pane."""
        if not self.convis_on:
            return
        self.convis_on = False
        self._convis_asked = None
        self.compute.cancel("convis")
        self.wordnet_dock.set_convis_status("")
        self.refresh()

    def _convis_request(self) -> ConVisRequest | None:
        path = self.image_list.current_path()
        if path is None or self.model is None or not self.selected_synset or self.image_list.broken_message(path):
            return None
        req = ConVisRequest(path, self.model, self.analysis.pooling, self.selected_synset, self.wordnet_dock.key)
        return replace(req, with_concepts=req.context() != self._concepts_context)

    def _convis_current(self, req: ConVisRequest | None, preview_ok: bool = False) -> bool:
        """The result on hand is the map `req` asks for (final, or also the coarse preview)."""
        r = self.convis_result
        return (req is not None and r is not None and r.synset == req.synset
                and r.request.context() == req.context() and (r.final or preview_ok))

    def _request_convis(self) -> None:
        if not self.convis_on:
            return
        req = self._convis_request()
        if req is None:
            self._convis_note = "ConVis needs an image and a model"
            self.wordnet_dock.set_convis_status(f"ConVis map of {self.selected_synset}: open an image and "
                                                "load a model first.")
        elif self._convis_current(req):
            self.wordnet_dock.set_convis_status(f"ConVis map of {req.synset} shown.")
        elif self._convis_asked != (req.context(), req.synset):
            # A newer synset supersedes the older job (same kind); the rank matrix the older one
            # finished stays cached in the core, so nothing done is lost.
            self._convis_asked = (req.context(), req.synset)
            self._convis_note = f"ConVis: computing {req.synset} \u2026"
            self.compute.submit(Job("convis", convis_job(req, self.wordnet_dock.service),
                                    label=f"ConVis: {req.synset} \u2026"))
            self.wordnet_dock.set_convis_status(f"ConVis map of {req.synset}: computing \u2026 "
                                                "(progress in the status bar; Esc cancels)")
        self.refresh()

    def _convis_partial(self, r: ConVisResult) -> None:
        """The coarse preview: shown at once, replaced by the final map when the job ends."""
        req = self._convis_request()
        if not self.convis_on or req is None or r.synset != req.synset or r.request.context() != req.context():
            return
        self.convis_result = r
        if self.image_view is None or self.image_view.path != r.image.path:
            self.image_view = r.image
        self.wordnet_dock.set_convis_status(f"ConVis map of {r.synset}: coarse preview from {r.windows} windows, "
                                            "refining \u2026")
        self.refresh()

    def _convis_ready(self, r: ConVisResult) -> None:
        self._convis_asked = None
        if r.request.model != self.model and r.notices:
            # The worker fell back to the CPU: what runs now is what the controls must show.
            self.model = r.request.model
            self.controls.show_device(self.model.device)
        for notice in r.notices:
            self.banner.show_message(notice, "warning", "device")
        req = self._convis_request()
        if not self.convis_on or req is None or r.request.context() != req.context():
            return
        if r.concepts is not None:
            self.wordnet_dock.show_image_concepts(r.concepts, os.path.basename(r.request.path))
            self._concepts_context = r.request.context()
        self.convis_result = r
        if self.image_view is None or self.image_view.path != r.image.path:
            self.image_view = r.image
        self.banner.clear_source("convis")
        self.wordnet_dock.set_convis_status(f"ConVis map of {r.synset} shown ({r.windows} windows, "
                                            f"concept set \u2018{r.set_name}\u2019).")
        self.refresh()

    def _convis_pane(self, path: str) -> ConVisPane | None:
        if not self.convis_on or self.layout_name != "side":
            return None
        req = self._convis_request()
        r = self.convis_result
        if self._convis_current(req, preview_ok=True) and r.request.path == path:
            caption = (f"rank map over {r.windows} windows \u00b7 concept set \u2018{r.set_name}\u2019 \u00b7 "
                       "bright = the concept ranks high; 0 outside the centre square")
            if not r.final:
                caption = (f"coarse preview from {r.windows} windows (stride 32), refining \u2026 \u00b7 "
                           f"concept set \u2018{r.set_name}\u2019")
            return ConVisPane(f"ConVis \u00b7 {r.synset}: {r.gloss}", r.preview, r.values, caption)
        return ConVisPane(f"ConVis \u00b7 {self.selected_synset}", note=self._convis_note or "computing \u2026")

    def _note(self) -> str:
        if self.model is None:
            return "no model loaded \u2014 choose one under Controls \u25b8 Model"
        if not self.analysis.texts:
            return "type a prompt under Controls \u25b8 Prompts"
        return self._map_note or "computing \u2026"

    def refresh(self) -> None:
        path = self.image_list.current_path()
        image = self.image_view if self.image_view is not None and self.image_view.path == path else None
        # Maps of another image must never be drawn under this one's name, even for one frame.
        maps = self.maps if image is not None and self._context and self._context[0] == path else {}
        if path is None:
            image_note = "open images with Ctrl+O, or drop files here"
        elif self.image_list.broken_message(path) or path == self._failed_path:
            image_note = "cannot show this image — see the message above"
        else:
            image_note = "reading …"
        note = self._note() if path else ""
        convis = self._convis_pane(path) if image is not None else None
        self.views.render(self.layout_name, Scene(image, maps, self.analysis, self.display, self.model,
                                                  note, image_note, convis))
        name = os.path.basename(path) if path else ""
        self.setWindowTitle(f"{name} \u2014 eclip-desktop" if name else "eclip-desktop")

    # --- jobs -------------------------------------------------------------------------------------

    def _busy_changed(self, _busy: bool) -> None:
        busy = self.compute.is_busy() or self.io.is_busy() or self.wordnet_dock.is_busy()
        self.status.set_busy(busy)

    def cancel_jobs(self) -> None:
        self._debounce.stop()
        self.compute.cancel()
        self.io.cancel()

    def _job_partial(self, kind: str, obj) -> None:
        if kind == "maps" and obj.path == self.image_list.current_path():
            self.image_view = obj
            self.refresh()
        elif kind == "thumbs":
            self._thumbnail_ready(*obj)
        elif kind == "convis":
            self._convis_partial(obj)

    def _job_succeeded(self, kind: str, result) -> None:
        if kind == "model":
            self._model_loaded(result)
            self.status.set_job_text(f"loaded {result.choice.label()}")
        elif kind == "maps":
            self._maps_ready(result)
            self.status.set_job_text("maps ready" if result.maps else "")
        elif kind == "convis":
            self._convis_ready(result)
            self.status.set_job_text(f"ConVis map of {result.synset} ready")
        else:
            self._file_job_done(kind, result)

    def _job_failed(self, kind: str, message: str) -> None:
        if kind == "model":
            self.banner.show_message(f"Could not load the model: {message}", "error", "model",
                                     "choose-model", "Choose a model\u2026")
        elif kind == "maps":
            self.banner.show_message(message, "error", "maps")
            if self.image_view is None:
                self._failed_path = self.image_list.current_path()
            self._map_note = "no map \u2014 see the message above"
            self.refresh()
        elif kind == "convis":
            self._convis_asked = None
            self.banner.show_message(message, "error", "convis")
            self.wordnet_dock.set_convis_status(message)
            self._convis_note = "no ConVis map \u2014 see the message above"
            self.refresh()
        else:
            self.banner.show_message(message, "error", kind)
        self.status.set_job_text("")

    def _job_cancelled(self, kind: str) -> None:
        if kind == "maps":
            self._map_note = "cancelled \u2014 press F5 to compute again"
            self.refresh()
        elif kind == "convis":
            self._convis_asked = None
            self._convis_note = "ConVis cancelled \u2014 press F5 or select a synset to compute it"
            if self.convis_on:
                self.wordnet_dock.set_convis_status(self._convis_note)
            self.refresh()
        self.status.set_job_text(f"{kind} cancelled")

    def _banner_action(self, action: str) -> None:
        if action == "choose-model":
            self.controls_dock.show()
            self.controls_dock.raise_()
            self.controls.picker.arch.setFocus()

    # --- lifecycle -------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        self._debounce.stop()
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.status.set_job_text("stopping \u2026")
        self.compute.shutdown()
        self.io.shutdown()
        self.wordnet_dock.shutdown()
        super().closeEvent(event)

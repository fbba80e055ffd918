"""The main window: views in the middle, images on the left, controls on the right.

Flow: a control changes a plain state -> display changes redraw at once on this thread; changes
that need the model go through one debounce timer to a single "maps" job on the worker, whose
result is merged into `self.maps` if it still belongs to what is on screen (`_context`).

ConVis lives in window_convis.py, the model comparison's second model in window_compare.py,
actions/menus/Help in window_menus.py, files in window_files.py.
"""
from __future__ import annotations

import os
from dataclasses import replace

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QMainWindow,
    QScrollArea,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from eclip_desktop.app.faithfulness import FaithfulnessPresenter
from eclip_desktop.app.settings import AppSettings
from eclip_desktop.app.state import AnalysisState, DisplayState, ModelChoice
from eclip_desktop.app.views.figure import FigureOptions
from eclip_desktop.app.views.guide import guide_html
from eclip_desktop.app.views.layouts import (
    MapViews,
    Scene,
    needed_pairs,
)
from eclip_desktop.app.widgets.banner import MessageBanner
from eclip_desktop.app.widgets.controls import ControlsPanel
from eclip_desktop.app.widgets.display_bar import DisplayBar
from eclip_desktop.app.widgets.image_list import ImageList
from eclip_desktop.app.widgets.reading_guide import ReadingGuide
from eclip_desktop.app.widgets.status import StatusBar
from eclip_desktop.app.window_analysis import AnalysisMixin
from eclip_desktop.app.window_compare import CompareMixin
from eclip_desktop.app.window_convis import ConVisMixin
from eclip_desktop.app.window_files import FilesMixin
from eclip_desktop.app.window_groundtruth import GroundTruthMixin
from eclip_desktop.app.window_jobs import JobsMixin
from eclip_desktop.app.window_layout import LayoutMixin
from eclip_desktop.app.window_menus import MenusMixin
from eclip_desktop.app.window_model import ModelMixin
from eclip_desktop.app.wordnet.dock import WordNetDock
from eclip_desktop.app.workers.compute import (
    MapRequest,
    MapResult,
    WorkerState,
    map_job,
    picture_job,
)
from eclip_desktop.app.workers.convis import ConVisResult
from eclip_desktop.app.workers.jobs import Job, JobRunner
from eclip_desktop.core.explain.methods import method_names
from eclip_desktop.core.model.family import FAMILY, family_available
from eclip_desktop.core.model.spec import ModelSpec

NO_FAMILY_MESSAGE = ("No embedded model found \u2014 choose a model: an open_clip architecture with downloaded "
                     "weights, a checkpoint file (Open checkpoint\u2026), or \u201crandom (untrained)\u201d "
                     "for a dry run whose maps mean nothing.")


def as_choice(model) -> ModelChoice | None:
    if isinstance(model, ModelChoice):
        return model
    if isinstance(model, ModelSpec):
        return ModelChoice(model.architecture, model.pretrained, model.device, model.dtype)
    return None


class MainWindow(LayoutMixin, MenusMixin, AnalysisMixin, JobsMixin, ModelMixin, CompareMixin, ConVisMixin,
                 GroundTruthMixin, FilesMixin, QMainWindow):
    _horizontal = Qt.Horizontal
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
        self.refused: dict = {}  # (method, pooling) -> why the method does not apply to the model
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
        self.gt_masks: dict = {}  # image path -> ground-truth mask (window_groundtruth.py)
        self.compare_maps: dict = {}  # the second model's maps (window_compare.py)

        self.compute = JobRunner("compute", WorkerState(), self)
        self.io = JobRunner("io", None, self)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.timeout.connect(self._submit_maps)

        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._connect_jobs()
        self.initial_size()
        if restore_geometry:
            geometry, state = self.settings.geometry()
            if geometry is not None:
                self.restoreGeometry(geometry)
                self.fit_to_screen()  # saved on a larger screen than this one
            if state is not None:
                self.restoreState(state)
        self._start(model, images, texts, open_sample)

    def _build_ui(self) -> None:
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(6, 6, 6, 0)
        box.setSpacing(6)
        self.banner = MessageBanner()
        self.banner.action_triggered.connect(self._banner_action)
        # A second strip for the out-of-domain notice: errors come and go in the first one, this
        # stays while the picture and the model do not match.
        self.domain_banner = MessageBanner()
        self.domain_banner.action_triggered.connect(self._banner_action)
        self.domain_banner.dismissed.connect(self._domain_closed)
        self.views = MapViews()
        self.views.shown_clicked.connect(self._shown_clicked)
        self.guide = ReadingGuide()
        box.addWidget(self.banner)
        box.addWidget(self.domain_banner)
        box.addWidget(self.views, 1)
        box.addWidget(self.guide)
        # A click on the maps takes the keyboard focus out of a text box, so plain keys (1-4, O, D)
        # reach the window's shortcuts again; the maps themselves take no focus (canvas.py).
        central.setFocusPolicy(Qt.ClickFocus)
        self.setCentralWidget(central)

        self.image_list = ImageList()
        self.image_list.image_selected.connect(self._image_selected)
        self.images_dock = QDockWidget("Images", self)
        self.images_dock.setObjectName("imagesDock")
        self.images_dock.setWidget(self.image_list)
        self.images_dock.setMinimumWidth(120)  # small screens: thumbnails and elided names still fit
        self.addDockWidget(Qt.LeftDockWidgetArea, self.images_dock)

        self.controls = ControlsPanel(list(self.pooling_actions.values()), [self.act_shared_scale])
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.controls)
        # As narrow as the controls allow (set once shown and styled: LayoutMixin.showEvent), and
        # never a sideways scroll bar over them.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(280)
        self.controls_scroll = scroll
        self.controls_dock = QDockWidget("Controls", self)
        self.controls_dock.setObjectName("controlsDock")
        self.controls_dock.setWidget(scroll)
        self.addDockWidget(Qt.RightDockWidgetArea, self.controls_dock)
        self.wordnet_dock = WordNetDock(self)
        self.add_side_dock(self.wordnet_dock)
        self.faithfulness = FaithfulnessPresenter(self)
        # Controls stay in front: WordNet loads only once its tab is opened.
        self.controls_dock.raise_()
        self.wordnet_dock.synset_selected.connect(self.show_convis)
        self.wordnet_dock.concept_set_changed.connect(self._concept_set_changed)
        self.wordnet_dock.prompt_requested.connect(self.add_prompt)
        self.controls.changed.connect(self._control_changed)
        # activated, not currentIndexChanged: re-picking the method already selected must also
        # bring the prompt maps back from a ConVis map.
        self.controls.method.activated.connect(lambda *_: self.leave_convis())
        self.controls.picker.load_requested.connect(
            lambda c: self.request_model(c.on_device(self.controls.device_name())))
        self.controls.picker.refused.connect(lambda text: self.banner.show_message(text, "warning", "model"))
        second = self.controls.compare_picker
        second.load_requested.connect(lambda c: self.request_compare_model(c.on_device(self.controls.device_name())))
        second.refused.connect(lambda text: self.banner.show_message(text, "warning", "compare"))
        self.controls.changed.connect(self._compare_device)

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
        self.display_bar = DisplayBar(self)
        self.display_bar.changed.connect(self._display_changed)
        dbar = QToolBar("Display")
        dbar.setObjectName("displayToolbar")
        self.display_bar.populate(dbar)
        self.display_bar.hide()  # its controls live in the toolbar now; it keeps their state and signals
        self.addToolBar(Qt.TopToolBarArea, dbar)

    def add_side_dock(self, dock: QDockWidget) -> None:
        """A place for further panels (e.g. the WordNet browser) below the controls."""
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        self.tabifyDockWidget(self.controls_dock, dock)

    def _connect_jobs(self) -> None:
        for runner in (self.compute, self.io):
            runner.busy_changed.connect(self._busy_changed)
            runner.started.connect(lambda kind, label: self.status.set_job_text(label, progress=True))
            runner.progressed.connect(lambda kind, text: self.status.set_job_text(text, progress=True))
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
            self.analysis.pooling = choice.shown_pooling(start)
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
            self._pending_model = choice  # the map pane says "loading …" from the first frame
        elif model == "auto":
            self.banner.show_message(NO_FAMILY_MESSAGE, "warning", "model", "choose-model", "Choose a model\u2026")
        # The model (and with it torch) is asked for once the event loop runs, i.e. after the window
        # is on screen: a worker importing torch meanwhile would slow the first paint by seconds.
        QTimer.singleShot(0, lambda: self._start_work(choice))
        paths = list(images or []) or ([str(sample_path())] if use_sample else [])
        if paths:
            self.open_paths(paths, remember=bool(images))
        self.refresh()

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
            self.maps, self.refused, self._context = {}, {}, req.context()
        need = [p for p in needed_pairs(self.layout_name, a, self.model) if p not in self.maps and p not in self.refused] \
            if self.model is not None and a.texts else []
        have_image = self.image_view is not None and self.image_view.path == path
        if self._concepts_context is not None and self._concepts_context[0] != path:
            self.wordnet_dock.show_image_concepts(None)  # another image's listing would mislead
            self._concepts_context = None
        if not need and have_image:
            self._request_compare(req)
            self.refresh()
            self._request_convis()
            return
        self._map_note = "loading the model \u2026" if self._pending_model is not None else "computing \u2026"
        if not have_image:
            self.io.submit(Job("picture", picture_job(path), label=f"reading {os.path.basename(path)} \u2026"))
        self.compute.submit(Job("maps", map_job(replace(req, pairs=tuple(need))),
                                label=f"{os.path.basename(path)}: maps \u2026"))
        self._request_compare(req)  # the second model's map, after the first's on the same worker
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
        self.refused.update(result.refused)
        if self.controls.picker.catalogue is None and not self._catalogue_asked:
            self.request_catalogue()  # after the first map: it waits for nothing else on the worker
        self.banner.clear_source("maps")
        self._map_note = ""
        self.refresh()
        if self.model is not None and any(p not in self.maps and p not in self.refused
                                          for p in needed_pairs(self.layout_name, self.analysis, self.model)):
            self.request_maps(0)

    def _note(self) -> str:
        if self.model is None and self._pending_model is not None:
            return f"loading {self._pending_model.label()} \u2026"
        if self.model is None:
            return "no model loaded \u2014 choose one under Controls \u25b8 Model"
        if not self.analysis.texts:
            return "type a prompt under Controls \u25b8 Prompts"
        why = self.refused.get((self.analysis.method, self.analysis.pooling))
        return why or self._map_note or "computing \u2026"

    def unreadable(self, path: str | None) -> bool:
        """The current file turned out not to be a picture (its thumbnail or its map job said so)."""
        return bool(path) and (bool(self.image_list.broken_message(path)) or path == self._failed_path)

    def refresh(self) -> None:
        path = self.image_list.current_path()
        # Rendered from state like the panes, so a verdict that arrives late (an unreadable file) ends it.
        self.update_domain_notice()
        image = self.image_view if self.image_view is not None and self.image_view.path == path else None
        # Maps of another image must never be drawn under this one's name, even for one frame.
        maps = self.maps if image is not None and self._context and self._context[0] == path else {}
        if path is None:
            image_note = "open images with Ctrl+O, or drop files here"
        elif self.unreadable(path):
            image_note = "cannot show this image — see the message above"
        else:
            image_note = "reading …"
        # No map is coming for an image that cannot be read: the map pane must not say "computing".
        note = ("no map" if image_note.startswith("cannot") else self._note()) if path else ""
        convis = self._convis_pane(path) if image is not None else None
        compare = self.compare_pane(path) if self.layout_name == "compare" else None
        if self.layout_name == "compare" and not self.controls.compare_box.isVisibleTo(self.controls):
            self.controls.compare_picker.refresh_list()  # family folders opened meanwhile in the first picker
        self.controls.compare_box.setVisible(self.layout_name == "compare")
        self.views.render(self.layout_name, Scene(image, maps, self.analysis, self.display, self.model,
                                                  note, image_note, convis, self.act_difference.isChecked(),
                                                  self.current_ground_truth(), compare, self.refused))
        self.act_clear_mask.setEnabled(self.current_ground_truth() is not None)
        support = None
        if convis is not None:
            r = self.convis_result
            support = r.support_text() if convis.preview is not None and r is not None else ""
        self.guide.set_html(guide_html(self.model, self.analysis, self.display, maps, support))
        self.faithfulness.refresh()
        name = os.path.basename(path) if path else ""
        self.setWindowTitle(f"{name} \u2014 eclip-desktop" if name else "eclip-desktop")

    # --- lifecycle -------------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        self._closing = True
        self._debounce.stop()
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.status.set_job_text("stopping \u2026")
        self.compute.shutdown()
        self.io.shutdown()
        self.wordnet_dock.shutdown()
        super().closeEvent(event)

"""The main window: composes the map area, the docks, toolbars and status bar, and one presenter
per area (app/presenters/); it holds the plain state they share (viewer/state.py) and the two
worker threads.

Flow: a control changes a plain state -> display changes redraw at once on this thread; changes
that need the model ask the map controller (viewer/controller.py), which decides after its debounce
what the layout lacks and which results are stale. A render draws a scene only when it differs from
the last one drawn (viewer/scene.py: scene_key), so a change renders once however many paths ask.
Each job names the handlers its outcome goes to (Window.submit); nothing sorts results by kind.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow

from eclip_desktop.app import actions, geometry, window_ui
from eclip_desktop.app.presenters.comparison import ComparePresenter
from eclip_desktop.app.presenters.convis import ConVisPresenter
from eclip_desktop.app.presenters.domain import DomainNotice
from eclip_desktop.app.presenters.exports import ExportPresenter
from eclip_desktop.app.presenters.files import FilesPresenter
from eclip_desktop.app.presenters.ground_truth import GroundTruthPresenter
from eclip_desktop.app.presenters.help import HelpPresenter
from eclip_desktop.app.presenters.maps import MapsPresenter
from eclip_desktop.app.presenters.model import ModelPresenter
from eclip_desktop.app.presenters.sessions import SessionPresenter
from eclip_desktop.app.settings import AppSettings
from eclip_desktop.app.workers.jobs import Job, JobRunner
from eclip_desktop.core.model.family import FAMILY, family_available
from eclip_desktop.core.model.spec import ModelSpec
from eclip_desktop.viewer.controller import MapController
from eclip_desktop.viewer.figure import FigureOptions
from eclip_desktop.viewer.jobs.compute import WorkerState
from eclip_desktop.viewer.state import ModelChoice
from eclip_desktop.viewer.view_state import ViewState

NO_FAMILY_MESSAGE = ("No embedded model found \u2014 choose a model: an open_clip architecture with downloaded "
                     "weights, a checkpoint file (Open checkpoint\u2026), or \u201crandom (untrained)\u201d "
                     "for a dry run whose maps mean nothing.")


def _shown(name: str, doc: str) -> property:
    """A window attribute that is a field of the view state: setting it announces the change."""
    return property(lambda self: getattr(self.state, name), lambda self, value: self.state.set(**{name: value}),
                    doc=doc)


def as_choice(model) -> ModelChoice | None:
    if isinstance(model, ModelChoice):
        return model
    if isinstance(model, ModelSpec):
        return ModelChoice(model.architecture, model.pretrained, model.device, model.dtype)
    return None


class MainWindow(QMainWindow):
    analysis = _shown("analysis", "what the worker computes (viewer/state.py AnalysisState)")
    display = _shown("display", "how maps are drawn (DisplayState)")
    layout_name = _shown("layout", "the layout on screen (viewer/layouts key)")
    model = _shown("model", "the ModelChoice whose maps are on screen, None before one has loaded")
    model_info = _shown("model_info", "that model's describe()")
    image_view = _shown("image", "the ImageView on screen")

    def __init__(self, model="auto", images=None, texts=None, settings: AppSettings | None = None,
                 open_sample: bool = True, restore_geometry: bool = True):
        """model: "auto" (embedded family if installed), a ModelSpec/ModelChoice, or None (none loaded)."""
        super().__init__()
        self.setWindowTitle("eclip-desktop")
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings()
        # The state the presenters share (what is analysed, how it is shown, with which model, on which
        # picture), announcing its changes; analysis, display, layout_name, model, model_info and
        # image_view read and write it.
        self.state = ViewState()
        self.figure_options = FigureOptions()  # Export Map's last choices
        self.closing = False

        self.maps_area = MapsPresenter(self)
        self.models = ModelPresenter(self)
        self.domain = DomainNotice(self)
        self.convis = ConVisPresenter(self)
        self.files = FilesPresenter(self)
        self.sessions = SessionPresenter(self)
        self.exports = ExportPresenter(self)
        self.help = HelpPresenter(self)
        self.ground_truth = GroundTruthPresenter(self)
        self.comparison = ComparePresenter(self)

        self.compute = JobRunner("compute", WorkerState(), self)
        self.io = JobRunner("io", None, self)
        debounce = QTimer(self)
        debounce.setSingleShot(True)
        debounce.timeout.connect(self.maps_area.submit_maps)
        self.map_controller = MapController(debounce)

        actions.build_actions(self)
        window_ui.build_centre(self)
        window_ui.build_docks(self)
        window_ui.build_bars(self)
        actions.build_menus(self)
        self._connect_jobs()
        # Listeners once the widgets they update exist.
        self.state.changed.connect(self.domain.state_changed)
        self.state.changed.connect(self.faithfulness.state_changed)
        geometry.initial_size(self)
        if restore_geometry:
            saved, state = self.settings.geometry()
            if saved is not None:
                self.restoreGeometry(saved)
                geometry.fit_to_screen(self)  # saved on a larger screen than this one
            if state is not None:
                self.restoreState(state)
        self._start(model, images, texts, open_sample)

    def add_side_dock(self, dock: QDockWidget) -> None:
        """A place for further panels (e.g. the WordNet browser) below the controls."""
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        self.tabifyDockWidget(self.controls_dock, dock)

    def _start(self, model, images, texts, open_sample: bool) -> None:
        from eclip_desktop.viewer.samples import sample_path, sample_prompts
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
        actions.sync_method(self)
        self.models.update_pooling_availability(choice)
        if choice is not None:
            self.models.pending = choice  # the map pane says "loading …" from the first frame
            self.controls.picker.set_choice(choice)  # and the picker names it, not its default
        elif model == "auto":
            self.banner.show_message(NO_FAMILY_MESSAGE, "warning", "model", "choose-model", "Choose a model\u2026")
        # The model (and with it torch) is asked for once the event loop runs, i.e. after the window
        # is on screen: a worker importing torch meanwhile would slow the first paint by seconds.
        QTimer.singleShot(0, lambda: self.models.start_work(choice))
        paths = list(images or []) or ([str(sample_path())] if use_sample else [])
        if paths:
            self.files.open_paths(paths, remember=bool(images))
        self.refresh()

    # --- what every presenter uses ------------------------------------------------------------------

    @property
    def maps(self) -> dict:
        """(method, pooling) -> MapSet of the context on screen."""
        return self.map_controller.cache.maps

    @property
    def refused(self) -> dict:
        """(method, pooling) -> why that method does not apply to the model."""
        return self.map_controller.cache.refused

    def refresh(self) -> None:
        """Draw what the state says (a no-op when nothing drawn would change)."""
        self.maps_area.render()

    def request_maps(self, delay_ms: int = 0) -> None:
        """Ask for the maps the current layout needs; calls within the delay merge into one job."""
        self.map_controller.request(delay_ms)

    def settled(self) -> bool:
        """No job running or queued and no request waiting out its debounce: what is shown is final."""
        return not (self.compute.is_busy() or self.io.is_busy() or self.map_controller.waiting())

    def submit(self, runner, kind: str, run, label: str, done, failed=None, cancelled=None, partial=None,
               done_text=None, **kw):
        """A job whose outcome goes to the handlers named here; a failure without a handler of its own
        is shown in the banner."""
        def on_done(result):
            done(result)
            text = done_text(result) if callable(done_text) else done_text
            if text is not None:
                self.status.set_job_text(text)

        def on_failed(message):
            if failed is not None:
                failed(message)
            else:
                self.banner.show_message(message, "error", kind)
        return runner.submit(Job(kind, run, label=label, done=on_done, failed=on_failed, cancelled=cancelled,
                                 partial=partial, **kw))

    # --- jobs and the status bar --------------------------------------------------------------------

    def _connect_jobs(self) -> None:
        for runner in (self.compute, self.io):
            runner.busy_changed.connect(self.busy_changed)
            runner.started.connect(lambda kind, label: self.status.set_job_text(label, progress=True))
            runner.progressed.connect(lambda kind, text: self.status.set_job_text(text, progress=True))
            runner.failed.connect(self._job_ended)
            runner.cancelled.connect(self._job_ended)

    def _job_ended(self, kind: str, message: str | None = None) -> None:
        """The status bar's word on any job that failed or was cancelled, whoever submitted it."""
        self.status.set_job_text("" if message is not None else f"{kind.split(':')[0]} cancelled")

    def busy_changed(self, _busy: bool = False) -> None:
        self.status.set_busy(self.compute.is_busy() or self.io.is_busy() or self.wordnet_dock.is_busy())

    def cancel_jobs(self) -> None:
        """Esc: stop the running jobs, and leave a text box so the plain keys work again."""
        focus = self.focusWidget()
        if focus is not None and (focus.inherits("QPlainTextEdit") or focus.inherits("QLineEdit")):
            self.centralWidget().setFocus(Qt.ShortcutFocusReason)
        self.map_controller.stop()
        self.compute.cancel()
        self.io.cancel()

    # --- Qt events ----------------------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        geometry.on_show(self)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        geometry.on_resize(self, event)

    def dragEnterEvent(self, event) -> None:
        self.files.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        self.files.dropEvent(event)

    def closeEvent(self, event) -> None:
        self.closing = True
        self.map_controller.stop()
        self.settings.set_geometry(self.saveGeometry(), self.saveState())
        self.settings.sync()
        self.status.set_job_text("stopping \u2026")
        self.compute.shutdown()
        self.io.shutdown()
        self.wordnet_dock.shutdown()
        super().closeEvent(event)

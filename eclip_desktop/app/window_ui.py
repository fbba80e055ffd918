"""The window's widgets: the map area with its banners and reading guide in the middle, the images
dock on the left, the controls (and the docks tabbed with them) on the right, the toolbars and the
status bar; each widget's signals go to the presenter of its area."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QScrollArea, QToolBar, QVBoxLayout, QWidget

from eclip_desktop.app import actions
from eclip_desktop.app.presenters.faithfulness import FaithfulnessPresenter
from eclip_desktop.app.views.layouts import MapViews
from eclip_desktop.app.widgets.banner import MessageBanner
from eclip_desktop.app.widgets.controls import ControlsPanel
from eclip_desktop.app.widgets.display_bar import DisplayBar
from eclip_desktop.app.widgets.image_list import ImageList
from eclip_desktop.app.widgets.reading_guide import ReadingGuide
from eclip_desktop.app.widgets.status import StatusBar
from eclip_desktop.app.wordnet.dock import WordNetDock


def build_centre(w) -> None:
    central = QWidget()
    box = QVBoxLayout(central)
    box.setContentsMargins(6, 6, 6, 0)
    box.setSpacing(6)
    w.banner = MessageBanner()
    w.banner.action_triggered.connect(w.models.banner_action)
    # A second strip for the out-of-domain notice: errors come and go in the first one, this
    # stays while the picture and the model do not match.
    w.domain_banner = MessageBanner()
    w.domain_banner.action_triggered.connect(w.models.banner_action)
    w.domain_banner.dismissed.connect(w.domain.domain_closed)
    w.views = MapViews()
    w.views.shown_clicked.connect(w.maps_area.shown_clicked)
    w.guide = ReadingGuide()
    box.addWidget(w.banner)
    box.addWidget(w.domain_banner)
    box.addWidget(w.views, 1)
    box.addWidget(w.guide)
    # A click on the maps takes the keyboard focus out of a text box, so plain keys (1-4, O, D)
    # reach the window's shortcuts again; the maps themselves take no focus (canvas.py).
    central.setFocusPolicy(Qt.ClickFocus)
    w.setCentralWidget(central)


def build_docks(w) -> None:
    w.image_list = ImageList()
    w.image_list.image_selected.connect(w.files.image_selected)
    w.images_dock = QDockWidget("Images", w)
    w.images_dock.setObjectName("imagesDock")
    w.images_dock.setWidget(w.image_list)
    w.images_dock.setMinimumWidth(120)  # small screens: thumbnails and elided names still fit
    w.addDockWidget(Qt.LeftDockWidgetArea, w.images_dock)

    w.controls = ControlsPanel(list(w.pooling_actions.values()), [w.act_shared_scale])
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(w.controls)
    # As narrow as the controls allow (set once shown and styled: geometry.on_show), and never a
    # sideways scroll bar over them.
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(280)
    w.controls_scroll = scroll
    w.controls_dock = QDockWidget("Controls", w)
    w.controls_dock.setObjectName("controlsDock")
    w.controls_dock.setWidget(scroll)
    w.addDockWidget(Qt.RightDockWidgetArea, w.controls_dock)
    w.wordnet_dock = WordNetDock(w)
    w.add_side_dock(w.wordnet_dock)
    w.faithfulness = FaithfulnessPresenter(w)
    # Controls stay in front: WordNet loads only once its tab is opened.
    w.controls_dock.raise_()
    w.wordnet_dock.synset_selected.connect(w.convis.show_convis)
    w.wordnet_dock.concept_set_changed.connect(w.convis.concept_set_changed)
    w.wordnet_dock.prompt_requested.connect(w.maps_area.add_prompt)
    w.controls.changed.connect(w.maps_area.control_changed)
    w.controls.method.currentIndexChanged.connect(lambda *_: actions.sync_method(w))
    # activated, not currentIndexChanged: re-picking the method already selected must also
    # bring the prompt maps back from a ConVis map.
    w.controls.method.activated.connect(lambda *_: w.convis.leave_convis())
    w.controls.picker.load_requested.connect(lambda c: w.models.request_model(c.on_device(w.controls.device_name())))
    w.controls.picker.refused.connect(lambda text: w.banner.show_message(text, "warning", "model"))
    second = w.controls.compare_picker
    second.load_requested.connect(lambda c: w.comparison.request_model(c.on_device(w.controls.device_name())))
    second.refused.connect(lambda text: w.banner.show_message(text, "warning", "compare"))
    w.controls.changed.connect(w.comparison.device_changed)


def build_bars(w) -> None:
    w.status = StatusBar()
    w.status.cancel_requested.connect(w.cancel_jobs)
    w.setStatusBar(w.status)
    w.views.cursor_text.connect(w.status.set_cursor)
    w.wordnet_dock.job_text.connect(w.status.set_job_text)
    w.wordnet_dock.busy_changed.connect(w.busy_changed)

    bar = QToolBar("Layouts")
    bar.setObjectName("layoutToolbar")
    bar.setToolButtonStyle(Qt.ToolButtonTextOnly)
    for a in w.layout_actions.values():
        bar.addAction(a)
    bar.addSeparator()
    bar.addAction(w.act_copy)
    w.addToolBar(Qt.TopToolBarArea, bar)
    w.display_bar = DisplayBar(w)
    w.display_bar.changed.connect(w.maps_area.display_changed)
    dbar = QToolBar("Display")
    dbar.setObjectName("displayToolbar")
    w.display_bar.populate(dbar)
    w.display_bar.hide()  # its controls live in the toolbar now; it keeps their state and signals
    w.addToolBar(Qt.TopToolBarArea, dbar)

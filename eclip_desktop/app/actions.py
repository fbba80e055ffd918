"""The window's actions and menus, generated from the registries where there is one (layouts,
poolings, methods: a new one appears in the menus by itself). Every shortcut is a window-level
QAction, listed in the shortcut sheet (Help ▸ Keyboard Shortcuts), so what the keys do is written
down in one place."""
from __future__ import annotations

from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from eclip_desktop.app import geometry
from eclip_desktop.app.presenters.help import DOC_PAGES, DOCS
from eclip_desktop.core.explain.methods import METHODS, method_names
from eclip_desktop.core.model.poolings import POOLING_LABELS, POOLING_SHORT, pooling_names
from eclip_desktop.viewer.layouts import LAYOUT_SHORT, LAYOUTS


def _action(w, text, slot=None, shortcut=None, tip="", checkable=False) -> QAction:
    a = QAction(text, w)
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
    w.addAction(a)  # shortcuts work while docks are hidden too
    return a

def build_actions(w) -> None:
    """Every window action: a QAction on the window, so its shortcut works while docks are hidden."""
    def A(*args, **kw) -> QAction:
        return _action(w, *args, **kw)
    w.act_open = A("&Open Images\u2026", w.files.open_images_dialog, QKeySequence.Open)
    w.act_open_folder = A("Open &Folder\u2026", w.files.open_folder_dialog, "Ctrl+Shift+O")
    w.act_sample = A("Open &Sample", w.files.open_sample)
    w.act_open_family = A("Open Model &Family…", lambda: w.controls.picker.open_family(),
                          tip="A folder of models trained with each pooling (eclip-desktop train --out)")
    w.act_load_mask = A("Load Ground-Truth &Mask\u2026", w.ground_truth.open_dialog, "Ctrl+M",
                        "A mask of the object in this image (nonzero = object): outlined over the maps, "
                        "with live score contrast and pointing")
    w.act_clear_mask = A("Clear Ground-Truth Mask", w.ground_truth.clear)
    w.act_clear_mask.setEnabled(False)
    w.act_open_session = A("Open Session\u2026", w.sessions.open_session_dialog, "Ctrl+Alt+O")
    w.act_save_session = A("&Save Session\u2026", w.sessions.save_session_dialog, QKeySequence.Save)
    w.act_copy = A("&Copy Figure", w.exports.copy_figure, "Ctrl+Shift+C",
                   "Copy the current map as an annotated figure")
    w.act_export = A("&Export Map\u2026", w.exports.export_dialog, "Ctrl+E",
                     "Write the figure (.png), the raw map (.npy) and a sidecar (.json)")
    w.act_batch = A("&Batch Export\u2026", w.exports.batch_export_dialog, "Ctrl+Shift+E",
                    "Export maps of many images, prompts, synsets, poolings and methods")
    w.act_quit = A("&Quit", w.close, QKeySequence.Quit)
    w.act_next = A("Next Image", lambda: w.image_list.step(1), "PgDown")
    w.act_prev = A("Previous Image", lambda: w.image_list.step(-1), "PgUp")
    w.act_zoom = A("Reset Zoom", lambda: w.views.reset_zoom(), "Ctrl+0")
    w.act_recompute = A("Recompute", lambda: w.request_maps(0), "F5")
    w.act_cancel = A("Cancel Job", w.cancel_jobs, "Esc")
    w.act_toggle_map = A("Show &Map", w.maps_area.toggle_map, "O", "Show or hide the map over the image",
                         checkable=True)
    w.act_toggle_map.setChecked(True)
    w.act_remove = A("&Remove Image from List", w.files.remove_current_image, QKeySequence.Delete,
                     "Take the selected image out of the list (the file is not touched)")
    w.act_difference = A("&Difference Tile in the Pooling Grid", lambda _=False: w.refresh(), "D",
                         "Add the shifted pooling's map minus the best pooling's map to the pooling grid",
                         checkable=True)
    w.act_compare = A("Compare with a Second &Model\u2026", w.comparison.choose, None,
                      "The model comparison (Ctrl+5): pick the second model under Controls \u25b8 Compare with")
    w.act_shared_scale = A("Shared Colour Scale in the Model Comparison", lambda _=False: w.refresh(), None,
                           "Both tiles on one raw-similarity scale, so the brighter tile is the more similar "
                           "model; off: each tile stretched to its own range", checkable=True)
    w.act_shared_scale.setIconText("Shared colour scale")
    w.act_swipe = A("S&wipe Compare", lambda on: w.views.side.set_swipe(on), "W",
                    "Drag a line across the map: the map on its left, the photo on its right",
                    checkable=True)
    w.act_histogram = A("&Histogram of Map Values", w.maps_area.toggle_histogram, "H",
                        "The shown map's values, with the colour levels and the threshold", checkable=True)
    w.act_guide = A("Reading &Guide", lambda on: w.guide.setVisible(on), None,
                    "What the map on screen shows, under the views", checkable=True)
    w.act_guide.setChecked(True)
    w.act_panels = A("Hide/Show Side &Panels", lambda: geometry.toggle_side_panels(w), "F11",
                     "Give the maps the whole window (small screens)")
    w.act_shortcuts = A("&Keyboard Shortcuts", w.help.show_shortcuts, "F1")
    w.act_reading = A("How to &Read These Maps", w.help.show_reading_help)
    w.act_about = A("&About eclip-desktop", w.help.show_about)
    w.pooling_group = QActionGroup(w)
    w.pooling_actions = {}
    for i, p in enumerate(pooling_names()):
        # Alt+N as well: a plain digit belongs to a text box that has focus, Alt+N never does.
        keys = [str(i + 1), f"Alt+{i + 1}"] if i < 9 else None
        a = A(POOLING_SHORT.get(p, p), lambda _=False, p=p: w.maps_area.set_pooling(p), keys,
              f"{POOLING_LABELS.get(p, p)} (key {i + 1} or Alt+{i + 1})", checkable=True)
        w.pooling_group.addAction(a)
        w.pooling_actions[p] = a
    w.method_group = QActionGroup(w)
    w.method_actions = {}
    for name in method_names():
        info = METHODS[name]
        a = A(info.label, lambda _=False, m=name: choose_method(w, m), None, info.description, checkable=True)
        w.method_group.addAction(a)
        w.method_actions[name] = a
    w.layout_group = QActionGroup(w)
    w.layout_actions = {}
    for i, (key, label) in enumerate(LAYOUTS.items()):
        a = A(label, lambda _=False, k=key: w.maps_area.set_layout(k), f"Ctrl+{i + 1}", f"{label} (Ctrl+{i + 1})",
              checkable=True)
        a.setIconText(LAYOUT_SHORT.get(key, label))  # the toolbar's word; menus keep the full name
        w.layout_group.addAction(a)
        w.layout_actions[key] = a

def build_menus(w) -> None:
    m = w.menuBar().addMenu("&File")
    for a in (w.act_open, w.act_open_folder, w.act_sample):
        m.addAction(a)
    w.recent_menu = m.addMenu("Open &Recent")
    w.recent_menu.aboutToShow.connect(w.files.fill_recent_menu)
    m.addSeparator()
    for a in (w.act_open_session, w.act_save_session):
        m.addAction(a)
    m.addAction(w.act_open_family)
    m.addAction(w.act_load_mask)
    m.addAction(w.act_clear_mask)
    m.addSeparator()
    for a in (w.act_copy, w.act_export, w.act_batch):
        m.addAction(a)
    m.addSeparator()
    m.addAction(w.act_quit)
    v = w.menuBar().addMenu("&View")
    for a in w.layout_actions.values():
        v.addAction(a)
    v.addSeparator()
    for a in w.pooling_actions.values():
        v.addAction(a)
    v.addSeparator()
    for a in (w.act_next, w.act_prev, w.act_zoom, w.act_recompute, w.act_cancel):
        v.addAction(a)
    v.addSeparator()
    v.addAction(w.images_dock.toggleViewAction())
    v.addAction(w.controls_dock.toggleViewAction())
    v.addAction(w.wordnet_dock.toggleViewAction())
    v.addAction(w.faithfulness.dock.toggleViewAction())
    v.addAction(w.act_swipe)
    v.addAction(w.act_histogram)
    v.addAction(w.act_difference)
    v.addAction(w.act_compare)
    v.addAction(w.act_shared_scale)
    v.addAction(w.act_panels)
    v.addAction(w.act_guide)
    v.addAction(w.act_toggle_map)
    m = w.menuBar().addMenu("&Method")
    for a in w.method_actions.values():
        m.addAction(a)
    h = w.menuBar().addMenu("&Help")
    for a in (w.act_shortcuts, w.act_reading):
        h.addAction(a)
    docs = h.addMenu("&Documentation")
    for title, name in DOC_PAGES:
        a = docs.addAction(title)
        a.triggered.connect(lambda _=False, n=name: w.help.open_doc(n))
        a.setEnabled((DOCS / name).exists())
    h.addSeparator()
    h.addAction(w.act_about)



def choose_method(w, name: str) -> None:
    """Method menu: the same as picking the method under Controls (and leaving a ConVis map)."""
    combo = w.controls.method
    combo.setCurrentIndex(combo.findData(name))
    w.convis.leave_convis()


def sync_method(w) -> None:
    """The Method menu shows the method chosen under Controls."""
    action = w.method_actions.get(w.controls.method.currentData())
    if action is not None and not action.isChecked():
        action.setChecked(True)

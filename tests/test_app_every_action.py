"""Every action of the window (menus, toolbars, shortcuts) and every push and tool button of the
window and of its dialogs (batch export, export map, the checkpoint's architecture), driven once
as a user drives them; any exception raised in a slot fails the test and is named with what raised
it. Blocking dialogs are answered, not shown (tests/qt_drive.py)."""
import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtWidgets import QApplication, QDialog, QDockWidget, QMenu
from qt_drive import (
    SlotErrors,
    answer_blocking_dialogs,
    clickable_buttons,
    drive_dialog,
    label,
    press,
    reachable_actions,
)
from test_app import idle, make_window, no_dangling_threads_or_timers, settings, wait_for_map  # noqa: F401
from test_app_wordnet import wordnet_dirs, wordnet_env  # noqa: F401

WAIT_MS = 60_000


def _shown() -> set:
    return {id(t) for t in QApplication.topLevelWidgets() if t.isVisible()}


def _new_windows(before: set) -> list:
    """Top-level windows shown since `before` (dialogs opened with show(), not exec()), whether new
    or shown again (the batch dialog is kept between openings)."""
    return [t for t in QApplication.topLevelWidgets()
            if id(t) not in before and t.isVisible() and not isinstance(t, QMenu) and t.isWindow()]


@pytest.mark.slow
def test_every_action_and_button_runs_without_an_exception(qtbot, make_window, settings, tmp_path, saved_tiny,
                                                           wordnet_env, monkeypatch):
    exports = tmp_path / "exports"
    exports.mkdir()
    settings.set_export_dir(str(exports))  # Export and Batch Export write here, never into ~/Pictures
    settings.set_last_dir(str(tmp_path))
    w = make_window()
    wait_for_map(qtbot, w, WAIT_MS)
    errors = SlotErrors(qtbot)
    clicked: set[int] = set()

    def settle():
        qtbot.wait(20)
        qtbot.waitUntil(lambda: not w.compute.is_busy() and not w.io.is_busy(), timeout=WAIT_MS)

    # The checkpoint button gets a file whose architecture the dialog must propose and load.
    answers = {"Open a CLIP checkpoint": (saved_tiny, "")}
    asked = answer_blocking_dialogs(monkeypatch, qtbot, errors, clicked, answers, settle)

    def drive_new_windows(before):
        for top in _new_windows(before):
            if isinstance(top, QDialog):
                drive_dialog(qtbot, top, errors, clicked, settle, finish_with_accept=False)
            top.close()

    # 1. Every button of the window, each dock in front in turn (the WordNet dock loads WordNet).
    docks = [d for d in w.findChildren(QDockWidget)]
    for dock in docks:
        dock.show()
        dock.raise_()
        if dock is w.wordnet_dock:
            qtbot.waitUntil(lambda: w.wordnet_dock.info is not None or bool(w.wordnet_dock.broken), timeout=WAIT_MS)
        for button in clickable_buttons(dock):
            before = _shown()
            press(qtbot, button, errors, clicked, settle)
            drive_new_windows(before)
    central = [b for b in clickable_buttons(w) if not any(d.isAncestorOf(b) for d in docks)]
    for button in central:
        before = _shown()
        press(qtbot, button, errors, clicked, settle)
        drive_new_windows(before)

    # 2. Every action, Quit last.
    quit_ = w.act_quit
    triggered = []
    for action in sorted(reachable_actions(w), key=lambda a: a.text()):
        if action is quit_ or not action.isEnabled():
            continue
        before = _shown()
        errors.during(f"action {label(action)}", lambda a=action: (a.trigger(), settle()))
        triggered.append(label(action))
        drive_new_windows(before)
    idle(qtbot, w, WAIT_MS)
    never = [label(b) for b in clickable_buttons(w) if id(b) not in clicked]  # disabled all along
    errors.during("action 'Quit'", quit_.trigger)
    assert not w.isVisible()
    print(f"{len(triggered)} actions triggered, {len(clicked)} buttons clicked, never enabled: {never}; "
          f"dialogs answered: {asked}")
    assert not errors.found, "slots raised:\n" + "\n".join(errors.found)
    assert len(triggered) >= 40 and len(clicked) >= 30, (triggered, len(clicked))
    assert {"Open a CLIP checkpoint", "Architecture of the checkpoint", "Export Map"} <= set(asked), asked


def test_an_exception_in_a_slot_fails_the_test(tmp_path):
    """The hook this suite relies on (pytest-qt's capture of exceptions raised in Qt's event loop):
    a test whose clicked button raises must fail, though Qt itself only prints the traceback."""
    test = tmp_path / "test_slot.py"
    test.write_text(textwrap.dedent('''
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QPushButton

        def test_click(qtbot):
            button = QPushButton("open")
            qtbot.addWidget(button)
            button.clicked.connect(lambda path=None: path.upper())  # clicked(bool) gives path=False
            qtbot.mouseClick(button, Qt.LeftButton)
    '''))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # this suite's settings, not the project's
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert run.returncode == 1 and "Exceptions caught in Qt event loop" in run.stdout, run.stdout[-2000:]
    assert "AttributeError: 'bool' object has no attribute 'upper'" in run.stdout

"""Driving a window as a user would, to find the buttons and actions that raise.

Qt calls slots from C++: an exception raised in one does not reach the code that clicked, PySide6
prints it and the event loop goes on. pytest-qt installs a sys.excepthook for the duration of each
test and fails the test with "Exceptions caught in Qt event loop" (its default; `qt_no_exception_capture`
would turn that off, and tests/test_app_every_action.py checks it is on). SlotErrors narrows the
same hook to one click at a time, so a failure names the button or action that raised.

Blocking dialogs are answered instead of shown: the static QFileDialog, QMessageBox and QInputDialog
functions return what `answers` says (cancel by default), and a dialog's exec() clicks the dialog's
own buttons (see drive_dialog) and returns its result.
"""
from __future__ import annotations

import traceback

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolBar,
    QToolButton,
)

CLOSING = (QDialogButtonBox.AcceptRole, QDialogButtonBox.RejectRole, QDialogButtonBox.YesRole,
           QDialogButtonBox.NoRole, QDialogButtonBox.DestructiveRole)


def label(widget) -> str:
    """How a report names a button or action: its text, tooltip or object name, and its window."""
    text = (widget.text() or widget.toolTip() or widget.objectName() or type(widget).__name__).replace("&", "")
    top = widget.window().windowTitle() if isinstance(widget, QAbstractButton) else ""
    return f"{text!r}" + (f" in {top!r}" if top else "")


class SlotErrors:
    """Exceptions raised in slots, attributed to what the test did last (see `during`)."""

    def __init__(self, qtbot):
        self.qtbot = qtbot
        self.found: list[str] = []  # "what: ExceptionType: message" per exception

    def during(self, what: str, act) -> None:
        with self.qtbot.captureExceptions() as caught:
            act()
            QApplication.processEvents()
        for _type, value, tb in caught:
            where = traceback.extract_tb(tb)[-1] if tb is not None else None
            at = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
            self.found.append(f"{what}: {type(value).__name__}: {value}{at}")


def clickable_buttons(root) -> list[QAbstractButton]:
    """root's push and tool buttons, without those that pop a menu up (QMenu.exec would block)."""
    buttons = [b for b in root.findChildren(QAbstractButton) if isinstance(b, (QPushButton, QToolButton))]
    return [b for b in buttons if b.menu() is None]


def click(qtbot, button: QAbstractButton) -> bool:
    """A real mouse click where the button can take one; False when it is disabled."""
    if not button.isEnabled():
        return False
    if button.isVisible():
        qtbot.mouseClick(button, Qt.LeftButton)
    else:  # on a hidden tab or a folded strip: the same signal a click gives
        button.click()
    return True


def press(qtbot, button: QAbstractButton, errors: SlotErrors, clicked: set, settle=lambda: None) -> None:
    """Click `button` if it is enabled and let the jobs it started finish (settle), recording it in
    `clicked` and what it raised, then or in a job's result handler, in `errors`."""
    if button.isEnabled():
        clicked.add(id(button))
        name = label(button)  # before the click, which may delete the button's dialog
        errors.during(name, lambda: (click(qtbot, button), settle()))


def reachable_actions(window) -> list[QAction]:
    """The actions a user can reach: the window's own (shortcuts), its menus and sub-menus, its
    toolbars and its docks (their actions and the View menu's toggles); not the context menus of
    pyqtgraph's scenes, which the window switches off."""
    found: dict[int, QAction] = {}

    def add(actions):
        for a in actions:
            if a.menu() is not None:
                add(a.menu().actions())
            elif not a.isSeparator():
                found.setdefault(id(a), a)

    add(window.actions())
    add(window.menuBar().actions())
    for bar in window.findChildren(QToolBar):
        add(bar.actions())
    for dock in window.findChildren(QDockWidget):
        add(dock.actions())
        add([dock.toggleViewAction()])
    return list(found.values())


def drive_dialog(qtbot, dialog: QDialog, errors: SlotErrors, clicked: set, settle=lambda: None,
                 finish_with_accept: bool = True) -> None:
    """Click every button of `dialog`. A modal dialog: its own buttons, Cancel, then OK last so the
    flow that opened it goes on. A modeless one: its own buttons, OK (Export), its own buttons again
    (those the run enabled: Open Folder), then Close."""
    roles = {}
    for box in dialog.findChildren(QDialogButtonBox):
        for b in box.buttons():
            roles[id(b)] = box.buttonRole(b)
    accept = (QDialogButtonBox.AcceptRole, QDialogButtonBox.YesRole)

    def own(b):
        return roles.get(id(b)) not in CLOSING

    def accepting(b):
        return roles.get(id(b)) in accept

    def rejecting(b):
        return not own(b) and not accepting(b)

    def own_again(b):
        return own(b) and id(b) not in clicked

    steps = (own, rejecting, accepting) if finish_with_accept else (own, accepting, own_again, rejecting)
    for wanted in steps:
        for b in [b for b in clickable_buttons(dialog) if wanted(b)]:
            press(qtbot, b, errors, clicked, settle)


def answer_blocking_dialogs(monkeypatch, qtbot, errors: SlotErrors, clicked: set, answers=None, settle=lambda: None):
    """Patch the blocking dialogs: static file/message/input dialogs answer from `answers` (a dict
    of dialog caption -> return value; cancel otherwise), and exec() drives the dialog's buttons.
    Returns the list of (caption) asked, in order."""
    answers = answers or {}
    asked: list[str] = []

    def file_dialog(empty):
        def ask(parent=None, caption="", *a, **k):
            asked.append(caption)
            return answers.get(caption, empty)
        return staticmethod(ask)

    monkeypatch.setattr(QFileDialog, "getOpenFileName", file_dialog(("", "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", file_dialog(([], "")))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", file_dialog(("", "")))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", file_dialog(""))
    for name, value in (("question", QMessageBox.No), ("warning", QMessageBox.Ok),
                        ("information", QMessageBox.Ok), ("critical", QMessageBox.Ok)):
        monkeypatch.setattr(QMessageBox, name, file_dialog(value))
    monkeypatch.setattr(QInputDialog, "getItem", file_dialog(("", False)))
    monkeypatch.setattr(QInputDialog, "getText", file_dialog(("", False)))
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: asked.append(url.toString()) or True))

    def exec_(dialog, *a):
        asked.append(dialog.windowTitle())
        dialog.show()
        drive_dialog(qtbot, dialog, errors, clicked, settle, finish_with_accept=True)
        dialog.hide()
        return dialog.result()

    monkeypatch.setattr(QDialog, "exec", exec_)
    monkeypatch.setattr(QMessageBox, "exec", exec_)
    monkeypatch.setattr(QMenu, "exec", lambda *a, **k: None)
    return asked

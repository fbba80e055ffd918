"""Remembered between runs (QSettings, organisation "eclip-desktop"): recent files, last folder,
window geometry. Tests pass their own QSettings file so they never touch the user's."""
from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

ORGANISATION = "eclip-desktop"
APPLICATION = "eclip-desktop"
MAX_RECENT = 10


def _as_list(value) -> list[str]:
    # QSettings gives back a bare string for one-element lists in INI files.
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


class AppSettings:
    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings if qsettings is not None else QSettings(ORGANISATION, APPLICATION)

    def recent(self, key: str = "recent/files") -> list[str]:
        return _as_list(self.q.value(key))

    def add_recent(self, path: str, key: str = "recent/files") -> None:
        path = os.path.abspath(path)
        items = [path] + [p for p in self.recent(key) if p != path]
        self.q.setValue(key, items[:MAX_RECENT])

    def recent_sessions(self) -> list[str]:
        return self.recent("recent/sessions")

    def add_recent_session(self, path: str) -> None:
        self.add_recent(path, "recent/sessions")

    def last_dir(self) -> str:
        d = self.q.value("paths/last_dir", "")
        return d if isinstance(d, str) and os.path.isdir(d) else os.path.expanduser("~")

    def set_last_dir(self, path: str) -> None:
        d = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
        self.q.setValue("paths/last_dir", d)

    def export_dir(self) -> str:
        """Where exports go unless the user picks another folder: the last export folder, else
        <Pictures>/eclip-desktop — never the images' own folder, which a batch would fill with maps."""
        d = self.q.value("paths/export_dir", "")
        if isinstance(d, str) and d and os.path.isdir(d):
            return d
        from PySide6.QtCore import QStandardPaths
        pictures = QStandardPaths.writableLocation(QStandardPaths.PicturesLocation) or os.path.expanduser("~")
        return os.path.join(pictures, "eclip-desktop")

    def set_export_dir(self, path: str) -> None:
        self.q.setValue("paths/export_dir", path)

    def geometry(self) -> tuple[QByteArray | None, QByteArray | None]:
        g, s = self.q.value("window/geometry"), self.q.value("window/state")
        return (g if isinstance(g, QByteArray) else None, s if isinstance(s, QByteArray) else None)

    def set_geometry(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)

    def sync(self) -> None:
        self.q.sync()

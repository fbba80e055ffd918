"""Sessions: what is open and how it is shown, as a versioned JSON file.

{"format": "eclip-desktop-session", "version": 1, "images": [...], "current": 0, "model": {...},
 "analysis": {...}, "display": {...}, "layout": "side", "synset": "", "convis": false,
 "concept_set": "default", "compare": {...}, "shared_scale": false}

A reader accepts every version up to its own and refuses newer ones with a message, so an old
build never half-reads a file written by a newer one. Paths are stored absolute and relative to
the session file, so a project folder moved as a whole still opens.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from eclip_desktop.app.state import LAYOUTS, AnalysisState, DisplayState, ModelChoice
from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.io.atomic import atomic_write_json

FORMAT = "eclip-desktop-session"
VERSION = 1
SUFFIX = ".eclip.json"


class SessionError(EclipError):
    """A session file cannot be read or written."""


@dataclass
class Session:
    images: list[str] = field(default_factory=list)
    current: int = 0
    model: ModelChoice | None = None
    analysis: AnalysisState = field(default_factory=AnalysisState)
    display: DisplayState = field(default_factory=DisplayState)
    layout: str = "side"
    synset: str = ""  # the WordNet dock's selection
    convis: bool = False  # the map pane shows the synset's ConVis map
    concept_set: str = "default"  # the dock's concept set key ('default', 'all', 'shapes', 'file:PATH')
    compare: ModelChoice | None = None  # the model comparison's second model
    shared_scale: bool = False  # the comparison's tiles on one colour scale
    warnings: list[str] = field(default_factory=list)  # filled on load, never saved


def save_session(path: str | os.PathLike, session: Session) -> Path:
    target = Path(path).expanduser().resolve()
    base = target.parent
    images = []
    for p in session.images:
        absolute = Path(p).expanduser().resolve()
        try:
            relative = os.path.relpath(absolute, base)
        except ValueError:  # another drive on Windows
            relative = None
        images.append({"path": str(absolute), "relative": relative})
    doc = {"format": FORMAT, "version": VERSION, "images": images, "current": session.current,
           "model": session.model.to_dict() if session.model else None,
           "analysis": session.analysis.to_dict(), "display": session.display.to_dict(),
           "layout": session.layout, "synset": session.synset, "convis": session.convis,
           "concept_set": session.concept_set,
           "compare": session.compare.to_dict() if session.compare else None, "shared_scale": session.shared_scale}
    try:
        return atomic_write_json(target, doc, overwrite=True)
    except EclipError as exc:
        raise SessionError(f"cannot save the session: {exc}") from exc


def _find_image(entry, base: Path) -> str | None:
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict):
        return None
    for candidate in (entry.get("path"), entry.get("relative")):
        if isinstance(candidate, str) and candidate:
            p = Path(candidate).expanduser()
            p = p if p.is_absolute() else base / p
            if p.is_file():
                return str(p.resolve())
    return None


def load_session(path: str | os.PathLike) -> Session:
    source = Path(path).expanduser()
    try:
        doc = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SessionError(f"session file not found: {source}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SessionError(f"cannot read {source}: {getattr(exc, 'strerror', None) or exc}") from exc
    except ValueError as exc:
        raise SessionError(f"{source} is not a valid session file (broken JSON: {exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError(f"{source} is not an eclip-desktop session (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    if not isinstance(version, int) or version < 1:
        raise SessionError(f"{source} has no valid session version")
    if version > VERSION:
        raise SessionError(f"{source} was saved by a newer eclip-desktop (session version {version}); "
                           f"this version reads sessions up to version {VERSION}: please update eclip-desktop")
    base = source.resolve().parent
    session = Session()
    missing = []
    for entry in doc.get("images") or []:
        found = _find_image(entry, base)
        if found:
            session.images.append(found)
        else:
            missing.append(entry.get("path") if isinstance(entry, dict) else str(entry))
    if missing:
        shown = ", ".join(str(m) for m in missing[:3]) + (" …" if len(missing) > 3 else "")
        session.warnings.append(f"{len(missing)} image(s) of the session were not found: {shown}")
    current = doc.get("current", 0)
    session.current = current if isinstance(current, int) and 0 <= current < len(session.images) else 0
    if doc.get("model") is not None:
        try:
            session.model = ModelChoice.from_dict(doc["model"])
        except ValueError as exc:
            session.warnings.append(f"the session's model entry was ignored ({exc})")
    session.analysis = AnalysisState.from_dict(doc.get("analysis"))
    session.display = DisplayState.from_dict(doc.get("display"))
    session.layout = doc.get("layout") if doc.get("layout") in LAYOUTS else "side"
    # Added within version 1: files without them open as before, with no synset selected.
    synset = doc.get("synset", "")
    session.synset = synset if isinstance(synset, str) else ""
    session.convis = bool(doc.get("convis", False)) and bool(session.synset)
    concept_set = doc.get("concept_set", "default")
    session.concept_set = concept_set if isinstance(concept_set, str) and concept_set else "default"
    if doc.get("compare") is not None:
        try:
            session.compare = ModelChoice.from_dict(doc["compare"])
        except ValueError as exc:
            session.warnings.append(f"the session's second model was ignored ({exc})")
    session.shared_scale = doc.get("shared_scale") is True
    return session

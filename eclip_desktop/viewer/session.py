"""Sessions: what is open and how it is shown, as a versioned JSON file.

{"format": "eclip-desktop-session", "version": 1, "images": [...], "current": 0, "model": {...},
 "analysis": {...}, "display": {...}, "layout": "side", "synset": "", "convis": false,
 "concept_set": "default", "compare": {...}, "shared_scale": false}

A reader accepts every version up to its own and refuses newer ones with a message, so an old
build never half-reads a file written by a newer one. Paths are stored absolute and relative to
the session file, so a project folder moved as a whole still opens.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.io.atomic import atomic_write_json
from eclip_desktop.core.io.guards import read_json, schema_error, shown
from eclip_desktop.viewer.layouts import LAYOUTS
from eclip_desktop.viewer.state import AnalysisState, DisplayState, ModelChoice

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


_TEXT = (str, type(None))
_MODEL = ({"architecture": str, "pretrained": _TEXT, "device": str, "dtype": str}, type(None))
# What each field read back must be (core/io/guards.py's schema language). A field that does not fit
# is left out with a warning naming it and its default applies; a model entry is kept or left out whole.
SCHEMA = {
    "format": str, "version": int, "current": int,
    "images": [(str, {"path": _TEXT, "relative": _TEXT})],
    "model": _MODEL, "compare": _MODEL,
    "analysis": {"method": str, "pooling": str, "texts": [str], "shown": int, "ensemble": bool, "tau": str,
                 "options": {}},
    "display": {"colormap": str, "opacity": float, "percentile": float, "threshold": str, "fixed_level": float,
                "threshold_percentile": float, "show_contribution": bool, "overlay": str},
    "layout": str, "synset": str, "convis": bool, "concept_set": str, "shared_scale": bool,
}
_WHOLE = ("model", "compare")
_DROP = object()


def _fitting(value, spec, where: str, warnings: list[str]):
    """`value` without the entries that do not fit `spec` (each one warned), or _DROP."""
    if isinstance(spec, dict) and isinstance(value, dict) and where not in _WHOLE:
        out = dict(value)
        for key, sub in spec.items():
            if key in out:
                kept = _fitting(out[key], sub, f"{where}.{key}" if where else key, warnings)
                if kept is _DROP:
                    del out[key]
                else:
                    out[key] = kept
        return out
    if isinstance(spec, list) and isinstance(value, list):
        items = [_fitting(v, spec[0], f"{where}[{i}]", warnings) for i, v in enumerate(value)]
        return [v for v in items if v is not _DROP]
    why = schema_error(value, spec, where)
    if why:
        warnings.append(f"{why}: ignored")
        return _DROP
    return value


def _find_image(entry, base: Path) -> str | None:
    if isinstance(entry, str):
        entry = {"path": entry}
    if not isinstance(entry, dict):
        return None
    for candidate in (entry.get("path"), entry.get("relative")):
        if isinstance(candidate, str) and candidate:
            try:
                p = Path(candidate).expanduser()  # "~nosuchuser/a.png" raises RuntimeError
                p = p if p.is_absolute() else base / p
                if p.is_file():
                    return str(p.resolve())
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def _read(source: Path) -> dict:
    def fail(why: str) -> SessionError:
        if why == "not found":
            return SessionError(f"session file not found: {shown(source)}")
        if why.startswith("not valid JSON"):
            return SessionError(f"{shown(source)} is not a valid session file (broken JSON: {why[16:-1]})")
        return SessionError(f"cannot read the session {shown(source)}: {why}")
    # A regular file, bounded in size and depth; NaN and Infinity read as null (the field's default).
    doc = read_json(source, fail, non_finite_as_null=True)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError(f"{shown(source)} is not an eclip-desktop session (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionError(f"{shown(source)} has no valid session version")
    return doc


def load_session(path: str | os.PathLike) -> Session:
    try:
        source = Path(path).expanduser()
    except RuntimeError:  # "~nosuchuser/s.eclip.json"
        raise SessionError(f"session file not found: {shown(path)} (no such user)") from None
    doc = _read(source)
    version = doc["version"]
    if version > VERSION:
        raise SessionError(f"{shown(source)} was saved by a newer eclip-desktop (session version {version}); "
                           f"this version reads sessions up to version {VERSION}: please update eclip-desktop")
    base = source.resolve().parent
    session = Session()
    fields: list[str] = []
    doc = _fitting(doc, SCHEMA, "", fields)
    missing = []
    for entry in doc.get("images") or []:
        found = _find_image(entry, base)
        if found:
            session.images.append(found)
        else:
            missing.append(entry.get("path") if isinstance(entry, dict) else str(entry))
    if missing:
        listed = ", ".join(shown(m) for m in missing[:3]) + (" …" if len(missing) > 3 else "")
        session.warnings.append(f"{len(missing)} image(s) of the session were not found: {listed}")
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
    if fields:
        more = f" (and {len(fields) - 3} more)" if len(fields) > 3 else ""
        session.warnings.append(f"{shown(source.name)}: " + "; ".join(fields[:3]) + more)
    return session

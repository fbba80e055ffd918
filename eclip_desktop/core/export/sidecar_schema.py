"""The types of the sidecar fields that the tool reads back (`reproduce`, export resume, grids),
checked before any of them is used: a sidecar is a file anyone can edit or send, and a list where an
object belongs used to end in an AttributeError, a number where a list belongs in a TypeError.

Keys not listed here (timings, scores, notes) are never read back and may be anything; listed keys
may be missing (older sidecars lack some): their readers fill in defaults or say what is missing.
"""
from __future__ import annotations

from pathlib import Path

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.io.guards import check_schema, read_json, shown

NONE = type(None)
_TEXT = (str, NONE)

SIDECAR = {
    "image": str, "image_sha256": _TEXT, "image_size": [int],
    "model": _TEXT, "pretrained": _TEXT, "weights_sha256": _TEXT, "device": _TEXT, "dtype": _TEXT,
    "activation": _TEXT, "method": str, "pooling": _TEXT, "input_size": (int, NONE), "model_input_size": (int, NONE),
    "tau": _TEXT, "text": _TEXT, "text_index": (int, NONE), "labels": ([str], NONE), "ensemble": (bool, NONE),
    "method_options": (dict, NONE), "files": ({"figure": str, "npy": str}, NONE), "colormap": _TEXT,
    "alpha": (float, NONE), "figure_options": (dict, NONE), "synset": _TEXT, "algorithm": (dict, NONE),
    "concept_set": (dict, NONE), "tile_sources": ([{"map": str, "caption": str}], NONE),
    "out_of_domain": (bool, NONE), "out_of_domain_reason": _TEXT,
}


def sidecar_fail(path: str | Path):
    def fail(why: str) -> EclipError:
        prefix = "cannot read sidecar" if not why.startswith(("field", "missing", "the file")) else "sidecar"
        return EclipError(f"{prefix} {shown(path)}: {why}")
    return fail


def read_sidecar_json(path: str | Path, required: tuple[str, ...] = ()) -> dict:
    """A sidecar's fields: a regular file, bounded in size and depth, an object whose read-back fields
    have their types; raises EclipError naming the file and the field."""
    fail = sidecar_fail(path)
    data = read_json(path, fail)
    if not isinstance(data, dict):
        raise fail("the file is not a JSON object of fields")
    check_schema(data, SIDECAR, fail)
    if len(data.get("image_size") or [0, 0]) != 2:
        raise fail(f"field 'image_size' has {len(data['image_size'])} numbers; expected [width, height]")
    missing = [k for k in required if k not in data]
    if missing:
        raise EclipError(f"{shown(path)} is not an explain/export sidecar (missing: {', '.join(missing)})")
    return data

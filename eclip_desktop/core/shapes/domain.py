"""Is this picture a Shapes World scene? The embedded models were trained on nothing else.

Decided from provenance, not from the pixels: a scene written by this package says so, either in
its own `<stem>.json` (as the bundled sample does) or in the dataset file of the folder the writer
filled. Any other picture (a photo the user opens) is outside what those models know, and the
window says so instead of letting a confident score on a photograph pass for a finding.
"""
from __future__ import annotations

from pathlib import Path

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.io.guards import read_json
from eclip_desktop.core.shapes.writer import DATASET_FILE

GENERATOR = "eclip_desktop.core.shapes"
PROVENANCE_LIMIT = 1 << 20  # a scene's record or a dataset's settings: a few KB
_LEVELS = 3  # JPEGImages/<id>.jpg sits one folder below the dataset root; a little slack above that


def _written_by_us(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        # A regular file of bounded size and depth: a FIFO beside an image must not hang `explain`.
        data = read_json(path, EclipError, limit=PROVENANCE_LIMIT)
    except EclipError:
        return False
    return isinstance(data, dict) and str(data.get("generator", "")).startswith(GENERATOR)


def is_shapes_world_image(path: str | Path) -> bool:
    p = Path(path)
    if _written_by_us(p.with_suffix(".json")):
        return True
    return any(_written_by_us(folder / DATASET_FILE) for folder in list(p.parents)[:_LEVELS])

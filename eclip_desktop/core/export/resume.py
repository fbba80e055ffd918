"""Resume of an `export`: is a row on disk complete, interrupted or stale? (docs/EXPORT.md)

complete    its sidecar parses, matches the request, and every file of the row loads: skipped;
interrupted no readable sidecar (it is written last), or the request's own sidecar with a file
            missing, truncated or empty: redone without --overwrite (nothing of it is a result);
stale       a complete row of another request (model, weights, image, text, options): refused
            with the reason, its files kept.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.explain.methods import get_method
from eclip_desktop.core.export.index import Row
from eclip_desktop.core.export.sidecar_schema import read_sidecar_json
from eclip_desktop.core.io.guards import check_regular, load_npy, read_bytes
from eclip_desktop.core.io.imageio import RASTER_FORMATS
from eclip_desktop.core.io.shorten import shorten
from eclip_desktop.core.model.trained import readout_tau

if TYPE_CHECKING:
    from eclip_desktop.core.export.batch import ExportRequest


def figure_options(req: ExportRequest) -> dict:
    return {"format": req.figure_format, "layout": req.layout, "width": req.width, "contour": req.contour}


def _expected(row: Row, req: ExportRequest, sha: str, models: dict) -> dict:
    """The sidecar fields a complete row of this request must have (key -> value)."""
    want = {"image_sha256": sha}
    if row.method.startswith("grid-"):
        return want
    want["colormap"] = req.cmap
    want["figure_options"] = figure_options(req)
    want["alpha"] = req.alpha
    if row.method == "convis":
        want["synset"] = row.synset
        # The ConVis settings, when the caller states them (the CLI does): window mode and noise seed
        # change the map, the concept set changes the ranks.
        for key, field in (("mode", "algorithm.mode"), ("seed", "algorithm.seed"),
                           ("concept_set", "concept_set.spec")):
            if key in req.convis_options:
                want[field] = req.convis_options[key]
        return want
    info = models[row.pooling]
    want.update({"model": info["model"], "pretrained": info["pretrained"],
                 "weights_sha256": info.get("weights_sha256"), "pooling": row.pooling,
                 "tau": readout_tau(req.tau, info.get("trained_tau", "mean")),
                 "input_size": req.input_size or info["model_input_size"]})
    if row.method != "contribution":
        want.update({"method": row.method, "method_options": req.method_options.get(row.method, {}),
                     "text": row.text, "ensemble": req.ensemble})
        # A method whose map depends on the text alone keeps its rows when texts are added to a folder
        # (the sidecar's scores state their own label set); any other (CLIP Surgery removes what all
        # labels share) must match the whole label set. Contribution rows depend on the pooling only.
        if not get_method(row.method).label_free:
            want["labels"] = list(req.texts)
    return want


SVG_LIMIT = 256 << 20  # an SVG figure embeds its image as PNG: at most about the 100 MP image limit

# Keys sidecars gained with this resume rule: a sidecar written before them (an older export folder)
# is judged on the rest, so an upgrade does not turn every finished row stale.
_ADDED_KEYS = {"alpha", "weights_sha256"}


def _field(meta: dict, dotted: str):
    """meta["a"]["b"] for "a.b"; None where any level is missing."""
    value = meta
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class _Unusable(EclipError):
    """A file of a row that cannot be used as it is."""


def _files_load(row: Row, out: Path, meta: dict) -> str | None:
    """None when every file of the row loads; else what is wrong (the row is then redone)."""
    w, h = (meta.get("image_size") or [0, 0])[:2]
    for f in row.files:
        target = out / f
        fail = lambda why, f=f: _Unusable(f"{f}: {why}")  # noqa: E731
        try:
            if check_regular(target, fail).st_size == 0:
                return f"{f} is empty"
            if f.endswith(".npy"):
                # The header is checked before anything is allocated: at most the image's pixels.
                values = load_npy(target, fail, max_items=max(w * h, 1))
                if values.dtype != np.float32 or values.shape != (h, w) or not np.all(np.isfinite(values)):
                    return f"{f} is not the finite float32 {w}x{h} map of this row"
            elif f.endswith((".png", ".jpg", ".tif")):
                with Image.open(target, formats=RASTER_FORMATS) as im:
                    im.load()  # decodes every byte: a truncated file fails here
            elif f.endswith(".svg") and not read_bytes(target, fail, SVG_LIMIT).rstrip().endswith(b"</svg>"):
                return f"{f} is truncated"
        except _Unusable as exc:
            return str(exc)
        except Image.DecompressionBombError:
            return f"{f} is larger than a figure of this row can be"
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            return f"{f} does not load ({shorten(str(exc), 80) or type(exc).__name__})"
    return None


def triage(row: Row, out: Path, req: ExportRequest, sha: str, models: dict, redo: set) -> bool:
    """True when the row must be computed (adding its name to `redo` when its leftovers may be
    replaced); marks complete rows skipped and stale rows failed with the reason."""
    present = [f for f in row.files if os.path.lexists(out / f)]
    if req.overwrite or not present or not sha:
        return True  # (no sha: the image cannot be read, and fails in its own rows before any write)
    sidecar = out / row.files[-1] if row.method.startswith("grid-") else out / row.files[2]
    try:
        meta = read_sidecar_json(sidecar)
    except EclipError as exc:
        if not os.path.lexists(sidecar) or re.search(r": not (valid JSON|a UTF-8 JSON text)", str(exc)):
            redo.add(row.name)  # no readable sidecar: an interrupted write, not a result
            return True
        # A sidecar of the wrong shape (types, nesting, size) is not a write cut short: kept, and named.
        row.status, row.error = "failed", f"{exc}; pass --overwrite to replace it, or choose another --out"
        return False
    want = _expected(row, req, sha, models)
    differs = [k for k, v in want.items() if _field(meta, k) != v and not (k in _ADDED_KEYS and k not in meta)]
    if differs:
        # What a reader needs to decide: the identity fields with both values, the others by name.
        shown = ", ".join(f"{k}: {shorten(str(_field(meta, k)), 40)} here, {shorten(str(want[k]), 40)} asked"
                          if k in ("model", "pretrained", "text", "method", "pooling") else k for k in differs)
        row.status, row.error = "failed", (f"stale: made by another request ({shown}); pass --overwrite "
                                           "to replace it, or choose another --out")
        return False
    broken = _files_load(row, out, meta)
    if broken is None:
        row.status = "skipped"
        if isinstance(meta.get("out_of_domain"), bool):  # older sidecars did not decide it
            row.out_of_domain = meta["out_of_domain"]
        return False
    redo.add(row.name)  # this request's own row, damaged or cut short: redoing it loses nothing
    return True

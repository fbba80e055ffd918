"""The export index: one row per map, rewritten atomically as the run goes.

Both files are replaced whole (temp file + rename), so an interrupted or crashed run leaves the
last complete index, with rows not reached yet marked `pending`.
"""
from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eclip_desktop.core.io.atomic import atomic_write_bytes, atomic_write_json

COLUMNS = ["image", "stem", "method", "pooling", "text", "synset", "name", "files", "status", "error",
           "out_of_domain", "uniform"]
STATUSES = ("pending", "ok", "skipped", "failed")


@dataclass
class Row:
    image: str
    stem: str
    method: str
    pooling: str | None
    text: str | None
    synset: str | None
    name: str  # the file name stem every file of the row shares
    files: list[str] = field(default_factory=list)
    status: str = "pending"
    error: str = ""
    # the image is outside the world the model was trained on (core/model/training_domain.py); None
    # until the row is written
    out_of_domain: bool | None = None
    # a constant map (avg pooling's contribution: every location contributes equally); None until written
    uniform: bool | None = None


def write_index(out: Path, rows: list[Row], summary: dict) -> None:
    data = {"summary": summary, "rows": [asdict(r) for r in rows]}
    atomic_write_json(out / "index.json", data, overwrite=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        d = asdict(r)
        d["files"] = ";".join(r.files)
        w.writerow(["" if d[c] is None else d[c] for c in COLUMNS])
    atomic_write_bytes(out / "index.csv", buf.getvalue().encode("utf-8", "backslashreplace"),
                       overwrite=True)  # a file name that is not UTF-8 is written as \udcXX

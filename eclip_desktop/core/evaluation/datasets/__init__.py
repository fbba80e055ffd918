"""Evaluation datasets read from their own on-disk formats: PASCAL VOC 2012, COCO 2017, CUB-200-2011, ImageFolder.

Every loader returns an EvalDataset: a sequence of EvalSample decoded lazily (a COCO or VOC split
decoded up front would hold gigabytes of masks), plus `skipped`, one line per listed image that
was not found. Only cheap checks (listings, file existence, annotation syntax) happen at load
time; a corrupt mask file is reported when its sample is read.

Boxes everywhere are (x0, y0, x1, y1) with exclusive x1 / y1 (see eclip_desktop.core.evaluation.metrics).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from eclip_desktop.core.errors import DatasetError

Box = tuple[float, float, float, float]

DATASET_KINDS = ("shapes", "gen", "gen2", "voc", "coco", "cub", "imagefolder")
# Synthetic kinds: drawn from a seed, no directory (`gen`: core/shapes/generalisation.py, `gen2`:
# core/shapes/generalisation2.py).
SYNTHETIC_KINDS = ("shapes", "gen", "gen2")
# The generalisation suites: scenes nothing trains on, named as messages call them.
SUITE_NAMES = {"gen": "the generalisation suite", "gen2": "the second generalisation suite"}
DEFAULT_SHAPES_COUNT = 100
DEFAULT_SHAPES_SEED = 1000  # held out: Shapes World training uses data seeds below 1000
DEFAULT_GEN_SEED = 2000  # the generalisation suite's own seed (its renderer is never trained on)
DEFAULT_GEN2_SEED = 3000  # the second suite's
DEFAULT_SEEDS = {"shapes": DEFAULT_SHAPES_SEED, "gen": DEFAULT_GEN_SEED, "gen2": DEFAULT_GEN2_SEED}


# eq=False: the generated __eq__ would compare ndarray fields, which raises.
@dataclass(eq=False)
class EvalSample:
    image_path: str
    masks: dict[str, np.ndarray]  # class name -> bool H x W, only classes present in the image
    boxes: dict[str, list[Box]]  # class name -> boxes (x0, y0, x1, y1), x1 / y1 exclusive
    meta: dict = field(default_factory=dict)
    # bool H x W: pixels that belong to neither object nor background (VOC void), or None.
    ignore: np.ndarray | None = None


class EvalDataset(Sequence):
    """A loaded dataset: len(), indexing and iteration yield EvalSample, decoded on access."""

    def __init__(self, kind: str, root: str | Path, records: list, decode: Callable[[object], EvalSample],
                 class_names: Sequence[str], skipped: list[str] | None = None, meta: dict | None = None):
        self.kind = kind
        self.root = str(root)
        self.class_names = list(class_names)
        self.skipped = list(skipped or [])
        self.meta = dict(meta or {})
        self._records = list(records)
        self._decode = decode
        if not self._records:
            why = f"; {len(self.skipped)} listed image(s) missing, first: {self.skipped[0]}" if self.skipped else ""
            raise DatasetError(f"{kind} dataset at {self.root} has no usable images{why}")

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return self._decode(self._records[index])

    def __iter__(self) -> Iterator[EvalSample]:
        for record in self._records:
            yield self._decode(record)

    def __repr__(self) -> str:
        return f"EvalDataset({self.kind!r}, {self.root!r}, {len(self)} images, {len(self.skipped)} skipped)"


# ----------------------------------------------------------------------------- shared helpers


def require_dir(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{what} not found: {path}")
    if not path.is_dir():
        raise DatasetError(f"{what} is not a directory: {path}")
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{what} not found: {path}")
    if not path.is_file():
        raise DatasetError(f"{what} is not a file: {path}")
    return path


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(1-based line number, stripped text) of every non-blank line; '#' lines are comments."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append((number, line))
    return out


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as im:
            return im.size
    except FileNotFoundError:
        raise DatasetError(f"image disappeared while reading the dataset: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"cannot read image {path}: {exc}") from None


def check_limit(limit) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise DatasetError(f"limit must be a positive whole number, got {limit!r}")
    return int(limit)


def plain_name(value: str, what: str) -> str:
    # Split names become file names; a path separator in one would read outside the dataset.
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", value) or value in (".", ".."):
        raise DatasetError(f"{what} must be a plain name such as 'val' or 'test', got {value!r}")
    return value


# ----------------------------------------------------------------------------- CLI argument


def parse_dataset_arg(arg: str) -> tuple[str, str | dict]:
    """Parse a dataset argument of the command line.

    shapes              -> ("shapes", {"count": 100, "seed": 1000})
    shapes:N            -> ("shapes", {"count": N, "seed": 1000})
    shapes:N:SEED       -> ("shapes", {"count": N, "seed": SEED})
    shapes:N:SEED:OBJ   -> ... {"objects": (MIN, MAX)}: OBJ is K or MIN-MAX objects per scene (default 1-3)
    gen[:N[:SEED[:OBJ]]] -> ("gen", {...}) the same fields; the generalisation suite, seed 2000 by default
    gen2[:N[:SEED[:OBJ]]] -> ("gen2", {...}) the same fields; the second generalisation suite, seed 3000 by default
    voc:DIR, coco:DIR, cub:DIR, imagefolder:DIR -> (kind, DIR)   (coco also takes a JSON path)
    Only the first ':' separates the kind, so Windows paths such as voc:C:\\data work.
    """
    if not isinstance(arg, str) or not arg.strip():
        raise DatasetError(f"empty dataset argument; use one of: {_usage()}")
    text = arg.strip()
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind not in DATASET_KINDS:
        raise DatasetError(f"unknown dataset kind {kind!r} in {arg!r}; use one of: {_usage()}")
    if kind in SYNTHETIC_KINDS:
        return kind, _parse_shapes(rest if sep else "", arg, kind)
    if not rest.strip():
        raise DatasetError(f"dataset argument {arg!r} names no directory; write it as {kind}:DIR")
    return kind, str(Path(rest.strip()).expanduser())


def _parse_shapes(rest: str, arg: str, kind: str = "shapes") -> dict:
    parts = rest.split(":") if rest else []
    if len(parts) > 3:
        raise DatasetError(f"too many fields in {arg!r}; write {kind}, {kind}:N, {kind}:N:SEED or "
                           f"{kind}:N:SEED:OBJECTS")
    objects = (1, 3)
    if len(parts) == 3:
        m = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*", parts.pop())
        lo, hi = (int(m.group(1)), int(m.group(2) or m.group(1))) if m else (0, 0)
        if not 1 <= lo <= hi <= 6:
            raise DatasetError(f"the objects per scene in {arg!r} must be K or MIN-MAX within 1..6")
        objects = (lo, hi)
    values = []
    for what, text, minimum in zip(("scene count N", "seed"), parts, (1, 0)):
        text = text.strip()
        if not re.fullmatch(r"\d+", text) or int(text) < minimum:
            need = "a positive whole number" if minimum else "a whole number >= 0"
            raise DatasetError(f"the {what} in {arg!r} must be {need}, got {text!r}")
        values.append(int(text))
    count = values[0] if values else DEFAULT_SHAPES_COUNT
    seed = values[1] if len(values) > 1 else DEFAULT_SEEDS[kind]
    return {"count": count, "seed": seed, "objects": objects}


def _usage() -> str:
    return ("shapes[:N[:SEED[:OBJECTS]]], gen[:N[:SEED[:OBJECTS]]], gen2[:N[:SEED[:OBJECTS]]], voc:DIR, coco:DIR, "
            "cub:DIR, imagefolder:DIR")


# Imported last: the loaders import the helpers above from this package.
from eclip_desktop.core.evaluation.datasets.coco import (  # noqa: E402
    decode_rle,
    load_coco,
    polygon_mask,
    rle_string_to_counts,
)
from eclip_desktop.core.evaluation.datasets.cub import load_cub  # noqa: E402
from eclip_desktop.core.evaluation.datasets.imagefolder import (  # noqa: E402
    IMAGE_EXTENSIONS,
    load_imagefolder,
)
from eclip_desktop.core.evaluation.datasets.voc import VOC_CLASSES, load_voc  # noqa: E402

LOADERS = {"voc": load_voc, "coco": load_coco, "cub": load_cub}

__all__ = [
    "Box",
    "DATASET_KINDS",
    "SUITE_NAMES",
    "SYNTHETIC_KINDS",
    "EvalDataset",
    "EvalSample",
    "IMAGE_EXTENSIONS",
    "LOADERS",
    "VOC_CLASSES",
    "decode_rle",
    "load_coco",
    "load_cub",
    "load_imagefolder",
    "load_voc",
    "parse_dataset_arg",
    "polygon_mask",
    "rle_string_to_counts",
]

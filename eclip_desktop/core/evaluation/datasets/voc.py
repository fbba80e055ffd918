"""PASCAL VOC 2012 segmentation layout (also what the Shapes World writer produces).

DIR/JPEGImages/<id>.jpg
DIR/SegmentationClass/<id>.png      palette (or 8-bit grey) PNG of class indices:
                                    0 background, 1..K classes, 255 void
DIR/SegmentationObject/<id>.png     optional: instance indices, used for per-object boxes
DIR/ImageSets/Segmentation/<split>.txt   one id per line
DIR/labels.txt or DIR/class_names.txt    optional class table (else the 20 VOC classes)

DIR may also be a VOCdevkit directory or its parent; VOC2012 inside it is found.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from eclip_desktop.core.errors import DatasetError
from eclip_desktop.core.evaluation.datasets import (
    EvalDataset,
    EvalSample,
    check_limit,
    image_size,
    plain_name,
    read_lines,
    require_dir,
)

VOC_CLASSES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)
BACKGROUND_INDEX = 0
VOID_INDEX = 255
_BACKGROUND_NAMES = {"background", "_background_", "__background__"}


def _find_root(path: Path) -> Path:
    require_dir(path, "VOC directory")
    for candidate in (path, path / "VOC2012", path / "VOCdevkit" / "VOC2012"):
        if (candidate / "JPEGImages").is_dir() and (candidate / "SegmentationClass").is_dir():
            return candidate
    missing = [d for d in ("JPEGImages", "SegmentationClass") if not (path / d).is_dir()]
    raise DatasetError(f"{path} is not a VOC 2012 segmentation directory: {', '.join(missing)} missing")


def _parse_labels_txt(path: Path) -> tuple[dict[int, str], dict[str, str]]:
    """labels.txt: 'index name [synset]' per line, tab- or space-separated (Shapes World writes tabs)."""
    names: dict[int, str] = {}
    synsets: dict[str, str] = {}
    for number, line in read_lines(path):
        fields = line.split("\t") if "\t" in line else line.split()
        fields = [f.strip() for f in fields]
        if len(fields) < 2 or len(fields) > 3 or not fields[1]:
            raise DatasetError(f"{path}:{number}: expected 'index name [synset]', got {line!r}")
        try:
            index = int(fields[0])
        except ValueError:
            raise DatasetError(f"{path}:{number}: class index must be a whole number, got {fields[0]!r}") from None
        if not 0 <= index <= 255:
            raise DatasetError(f"{path}:{number}: class index must be within 0..255, got {index}")
        if index in names:
            raise DatasetError(f"{path}:{number}: class index {index} listed twice")
        names[index] = fields[1]
        if len(fields) == 3 and fields[2] not in ("", "-"):
            synsets[fields[1]] = fields[2]
    classes = {i: n for i, n in names.items() if i not in (BACKGROUND_INDEX, VOID_INDEX)}
    if not classes:
        raise DatasetError(f"{path} lists no object class (indices 1..254)")
    return classes, synsets


def _parse_class_names_txt(path: Path) -> dict[int, str]:
    """class_names.txt: one name per line; a leading 'background' line takes index 0."""
    lines = read_lines(path)
    if not lines:
        raise DatasetError(f"{path} is empty")
    offset = 0 if lines[0][1].lower() in _BACKGROUND_NAMES else 1
    classes = {}
    for position, (number, name) in enumerate(lines):
        index = position + offset
        if index == BACKGROUND_INDEX:
            continue
        if index >= VOID_INDEX:
            raise DatasetError(f"{path}:{number}: more than 254 classes; index 255 is reserved for void")
        classes[index] = name
    if not classes:
        raise DatasetError(f"{path} lists no object class")
    return classes


def class_table(root: Path) -> tuple[dict[int, str], dict[str, str], str]:
    """(index -> name for object classes, name -> synset, where the table came from)."""
    labels, names_file = root / "labels.txt", root / "class_names.txt"
    if labels.is_file():
        classes, synsets = _parse_labels_txt(labels)
        return classes, synsets, str(labels)
    if names_file.is_file():
        return _parse_class_names_txt(names_file), {}, str(names_file)
    return {i + 1: n for i, n in enumerate(VOC_CLASSES)}, {}, "VOC 2012 defaults"


def _read_split(path: Path) -> list[str]:
    ids, seen = [], set()
    for number, line in read_lines(path):
        if len(line.split()) != 1 or "/" in line or "\\" in line:
            raise DatasetError(f"{path}:{number}: expected one image id per line, got {line!r}")
        if line not in seen:
            seen.add(line)
            ids.append(line)
    return ids


def _read_index_png(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.mode not in ("P", "L"):
                raise DatasetError(f"{path}: expected a palette or 8-bit grey PNG of class indices, "
                                   f"got mode {im.mode}")
            return np.array(im, dtype=np.uint8)
    except FileNotFoundError:
        raise DatasetError(f"mask disappeared while reading the dataset: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetError(f"cannot read mask {path}: {exc}") from None


def _instance_boxes(obj: np.ndarray, cls: np.ndarray, classes: dict[int, str]) -> dict[str, list]:
    boxes: dict[str, list] = {}
    for k in np.unique(obj):
        if k in (BACKGROUND_INDEX, VOID_INDEX):
            continue
        pixels = obj == k
        labels = cls[pixels]
        labels = labels[(labels != BACKGROUND_INDEX) & (labels != VOID_INDEX)]
        if labels.size == 0:
            continue
        # An instance has one class; the majority survives a stray mislabelled pixel at its edge.
        c = int(np.bincount(labels).argmax())
        if c not in classes:
            continue
        ys, xs = np.nonzero(pixels)
        boxes.setdefault(classes[c], []).append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    return boxes


def load_voc(directory: str | Path, split: str = "val", limit: int | None = None) -> EvalDataset:
    """Load a VOC 2012 style segmentation split.

    Each sample: masks for every class present (void excluded), `ignore` = the void (255) pixels,
    boxes per class from SegmentationObject when that folder is there (else none), meta with the
    id. Ids whose image or class mask is missing are skipped and listed in `dataset.skipped`.
    `limit` keeps the first `limit` usable ids of the split file.
    """
    root = _find_root(Path(directory).expanduser())
    split = plain_name(split, "split")
    limit = check_limit(limit)
    split_file = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not split_file.is_file():
        sets = root / "ImageSets" / "Segmentation"
        have = sorted(p.stem for p in sets.glob("*.txt")) if sets.is_dir() else []
        raise DatasetError(f"split file not found: {split_file}"
                           + (f" (splits there: {', '.join(have)})" if have else ""))
    classes, synsets, table_source = class_table(root)

    records, skipped = [], []
    for sid in _read_split(split_file):
        image = root / "JPEGImages" / f"{sid}.jpg"
        mask = root / "SegmentationClass" / f"{sid}.png"
        if not image.is_file():
            skipped.append(f"{sid}: image missing ({image})")
            continue
        if not mask.is_file():
            skipped.append(f"{sid}: class mask missing ({mask})")
            continue
        records.append(sid)
        if limit is not None and len(records) >= limit:
            break

    def decode(sid: str) -> EvalSample:
        image = root / "JPEGImages" / f"{sid}.jpg"
        mask_path = root / "SegmentationClass" / f"{sid}.png"
        cls = _read_index_png(mask_path)
        width, height = image_size(image)
        if cls.shape != (height, width):
            raise DatasetError(f"{mask_path} is {cls.shape[1]}x{cls.shape[0]} but its image is {width}x{height}")
        present = [int(v) for v in np.unique(cls) if v not in (BACKGROUND_INDEX, VOID_INDEX)]
        unknown = [v for v in present if v not in classes]
        if unknown:
            raise DatasetError(f"{mask_path} uses class index {unknown[0]}, which {table_source} does not name")
        masks: dict[str, np.ndarray] = {}
        for v in present:
            name = classes[v]
            masks[name] = masks[name] | (cls == v) if name in masks else cls == v
        boxes: dict[str, list] = {}
        obj_path = root / "SegmentationObject" / f"{sid}.png"
        if obj_path.is_file():
            obj = _read_index_png(obj_path)
            if obj.shape != cls.shape:
                raise DatasetError(f"{obj_path} and {mask_path} differ in size")
            boxes = _instance_boxes(obj, cls, classes)
        return EvalSample(image_path=str(image), masks=masks, boxes=boxes,
                          meta={"id": sid, "dataset": "voc", "split": split},
                          ignore=cls == VOID_INDEX)

    names = [classes[i] for i in sorted(classes)]
    return EvalDataset("voc", root, records, decode, names, skipped,
                       meta={"split": split, "class_table": table_source, "synsets": synsets})

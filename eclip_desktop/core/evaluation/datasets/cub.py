"""CUB-200-2011 bird boxes, for MaxBoxAcc with the concept bird.n.01 (ConVis).

DIR/images.txt               '<id> <relative path>' per line, paths under DIR/images/
DIR/bounding_boxes.txt       '<id> <x> <y> <width> <height>' per line (floats, pixels)
DIR/train_test_split.txt     optional: '<id> <1 = train, 0 = test>'
DIR may also be the parent of CUB_200_2011/.

CUB's (x, y, w, h) becomes (x, y, x + w, y + h): the project's (x0, y0, x1, y1) with exclusive
x1 / y1, reading CUB's numbers as 0-based pixel-edge coordinates (as wsolevaluation does).
"""
from __future__ import annotations

import math
from pathlib import Path

from eclip_desktop.core.errors import DatasetError
from eclip_desktop.core.evaluation.datasets import (
    EvalDataset,
    EvalSample,
    check_limit,
    read_lines,
    require_dir,
    require_file,
)

CUB_SPLITS = ("test", "train", "all")
CLASS_NAME = "bird"


def _find_root(path: Path) -> Path:
    require_dir(path, "CUB directory")
    if not (path / "images.txt").is_file() and (path / "CUB_200_2011" / "images.txt").is_file():
        return path / "CUB_200_2011"
    return path


def _parse_id(path: Path, number: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise DatasetError(f"{path}:{number}: image id must be a whole number, got {text!r}") from None
    return value


def _read_images(path: Path) -> dict[int, str]:
    images: dict[int, str] = {}
    for number, line in read_lines(path):
        fields = line.split(maxsplit=1)
        if len(fields) != 2:
            raise DatasetError(f"{path}:{number}: expected '<id> <path>', got {line!r}")
        iid = _parse_id(path, number, fields[0])
        if iid in images:
            raise DatasetError(f"{path}:{number}: image id {iid} listed twice")
        images[iid] = fields[1]
    return images


def _read_boxes(path: Path, images: dict[int, str]) -> dict[int, list]:
    boxes: dict[int, list] = {}
    for number, line in read_lines(path):
        fields = line.split()
        if len(fields) != 5:
            raise DatasetError(f"{path}:{number}: expected '<id> <x> <y> <width> <height>', got {line!r}")
        iid = _parse_id(path, number, fields[0])
        try:
            x, y, w, h = (float(v) for v in fields[1:])
        except ValueError:
            raise DatasetError(f"{path}:{number}: box values must be numbers, got {line!r}") from None
        if not all(math.isfinite(v) for v in (x, y, w, h)) or w < 0 or h < 0:
            raise DatasetError(f"{path}:{number}: box needs finite values and width, height >= 0, got {line!r}")
        if iid not in images:
            raise DatasetError(f"{path}:{number}: image id {iid} is not in images.txt")
        boxes.setdefault(iid, []).append((x, y, x + w, y + h))
    return boxes


def _read_split(path: Path, images: dict[int, str]) -> dict[int, bool]:
    is_train: dict[int, bool] = {}
    for number, line in read_lines(path):
        fields = line.split()
        if len(fields) != 2 or fields[1] not in ("0", "1"):
            raise DatasetError(f"{path}:{number}: expected '<id> <0 or 1>', got {line!r}")
        iid = _parse_id(path, number, fields[0])
        if iid not in images:
            raise DatasetError(f"{path}:{number}: image id {iid} is not in images.txt")
        is_train[iid] = fields[1] == "1"
    return is_train


def load_cub(directory: str | Path, split: str = "test", limit: int | None = None) -> EvalDataset:
    """Load CUB-200-2011 boxes: each sample has boxes under 'bird' and no masks.

    split 'test' (the default, train_test_split flag 0), 'train' (flag 1) or 'all'. Without
    train_test_split.txt every image is used and meta["split"] says so. Images missing on disk
    or without a box are skipped and listed in `dataset.skipped`.
    """
    root = _find_root(Path(directory).expanduser())
    if split not in CUB_SPLITS:
        raise DatasetError(f"CUB split must be one of {', '.join(CUB_SPLITS)}, got {split!r}")
    limit = check_limit(limit)
    images_file = require_file(root / "images.txt", "CUB images.txt")
    boxes_file = require_file(root / "bounding_boxes.txt", "CUB bounding_boxes.txt")
    images_dir = require_dir(root / "images", "CUB images directory")
    images = _read_images(images_file)
    boxes = _read_boxes(boxes_file, images)
    split_file = root / "train_test_split.txt"
    used_split = split
    if split_file.is_file():
        is_train = _read_split(split_file, images)
    else:
        is_train = None
        used_split = "all (no train_test_split.txt)"

    records, skipped = [], []
    for iid, rel in images.items():
        if is_train is not None and split != "all":
            if iid not in is_train:
                raise DatasetError(f"{split_file}: image id {iid} of images.txt has no split flag")
            if is_train[iid] != (split == "train"):
                continue
        path = images_dir / rel
        if not path.is_file():
            skipped.append(f"image id {iid}: image missing ({path})")
            continue
        if iid not in boxes:
            skipped.append(f"image id {iid}: no bounding box in {boxes_file.name}")
            continue
        records.append(iid)
        if limit is not None and len(records) >= limit:
            break

    def decode(iid: int) -> EvalSample:
        return EvalSample(image_path=str(images_dir / images[iid]), masks={},
                          boxes={CLASS_NAME: list(boxes[iid])},
                          meta={"id": iid, "dataset": "cub", "file_name": images[iid]})

    return EvalDataset("cub", root, records, decode, [CLASS_NAME], skipped,
                       meta={"split": used_split, "concept": "bird.n.01"})

"""COCO 2017 instance annotations: polygons, uncompressed RLE, compressed RLE strings, crowds.

DIR/annotations/instances_<split>.json and the images in DIR/<split>/ (or DIR/images/<split>/,
DIR/images/), or an explicit JSON path plus images_dir. Instances of one category are merged
into one class mask per image, crowd regions included (they are pixels of that class); boxes
per class come from the non-crowd instances' `bbox`, crowd boxes go to meta["crowd_boxes"].

Masks are decoded here rather than with pycocotools (not a dependency). Polygons are
rasterised with the pixel-centre rule: pixel (r, c) is inside when (c + 0.5, r + 0.5) is, by the
even-odd rule; an integer-aligned rectangle [x0, x1) x [y0, y1) fills exactly (x1-x0)(y1-y0)
pixels. pycocotools rasterises differently and may disagree by a pixel along slanted edges.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from eclip_desktop.core.errors import DatasetError
from eclip_desktop.core.evaluation.datasets import (
    EvalDataset,
    EvalSample,
    check_limit,
    image_size,
    require_dir,
    require_file,
)

_PREFERRED_SPLITS = ("val2017", "val2014", "val")


# ----------------------------------------------------------------------------- mask decoding


def rle_string_to_counts(s: str) -> list[int]:
    """Decode COCO's compressed RLE string into run lengths.

    Each count is written in 5-bit groups, least significant first, one character per group
    (value + 48); bit 0x20 says another group follows and bit 0x10 of the last group is the sign.
    From the fourth count on (index > 2) the value stored is the difference to the count two
    places earlier, which keeps alternating runs of similar length short.
    """
    if isinstance(s, bytes):
        s = s.decode("ascii", errors="replace")
    counts: list[int] = []
    p, n = 0, len(s)
    while p < n:
        x = k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError("compressed RLE string ends in the middle of a count")
            c = ord(s[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {s[p]!r} at {p} cannot occur in a compressed RLE string")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)  # sign-extend: Python ints behave as infinite two's complement
        if len(counts) > 2:
            x += counts[-2]
        if x < 0:
            raise ValueError(f"compressed RLE string decodes to a negative run length ({x})")
        counts.append(x)
    return counts


def decode_rle(rle: dict, height: int, width: int) -> np.ndarray:
    """bool H x W from a COCO RLE dict ({"size": [h, w], "counts": list or compressed string}).

    Runs alternate 0, 1, 0, ... starting with background, over the pixels in column-major order.
    """
    if not isinstance(rle, dict) or "counts" not in rle:
        raise ValueError("an RLE segmentation needs 'counts'")
    size = rle.get("size", [height, width])
    if not isinstance(size, (list, tuple)) or len(size) != 2 or [int(size[0]), int(size[1])] != [height, width]:
        raise ValueError(f"RLE size {size} does not match the image ({height} x {width})")
    counts = rle["counts"]
    if isinstance(counts, (str, bytes)):
        counts = rle_string_to_counts(counts)
    elif not isinstance(counts, (list, tuple)) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        raise ValueError("RLE counts must be a compressed string or a list of non-negative whole numbers")
    total = int(sum(counts))
    if total != height * width:
        raise ValueError(f"RLE counts cover {total} pixels, the image has {height * width}")
    values = np.zeros(len(counts), bool)
    values[1::2] = True
    flat = np.repeat(values, np.asarray(counts, np.int64))
    return np.ascontiguousarray(flat.reshape(width, height).T)


def polygon_mask(xy, height: int, width: int) -> np.ndarray:
    """bool H x W of one COCO polygon [x1, y1, x2, y2, ...] by the pixel-centre, even-odd rule."""
    pts = np.asarray(xy, np.float64).ravel()
    if pts.size % 2:
        raise ValueError("a polygon needs an even number of coordinates")
    if not np.isfinite(pts).all():
        raise ValueError("a polygon has a NaN or infinite coordinate")
    out = np.zeros((height, width), bool)
    if pts.size < 6:  # fewer than three points encloses nothing
        return out
    x0, y0 = pts[0::2], pts[1::2]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    sloped = y0 != y1  # horizontal edges never cross a row centre line
    x0, y0, x1, y1 = x0[sloped], y0[sloped], x1[sloped], y1[sloped]
    if x0.size == 0:
        return out
    ylo, yhi = np.minimum(y0, y1), np.maximum(y0, y1)
    r_lo = max(0, int(math.floor(ylo.min())))
    r_hi = min(height, int(math.ceil(yhi.max())) + 1)
    if r_lo >= r_hi:
        return out
    yc = np.arange(r_lo, r_hi, dtype=np.float64)[:, None] + 0.5
    # Half-open in y, so a vertex on a centre line is counted once (or twice at a tip), keeping
    # every row's crossing count even.
    crosses = (ylo <= yc) & (yc < yhi)
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = x0 + (yc - y0) * (x1 - x0) / (y1 - y0)
    xc = np.sort(np.where(crosses, xc, np.inf), axis=1)
    pairs = int(crosses.sum(axis=1).max()) // 2
    if pairs == 0:
        return out
    starts, ends = xc[:, 0:2 * pairs:2], xc[:, 1:2 * pairs:2]
    valid = np.isfinite(ends)
    # Pixel c is filled when start <= c + 0.5 < end.
    c0 = np.clip(np.ceil(starts - 0.5), 0, width)
    c1 = np.clip(np.ceil(ends - 0.5), 0, width)
    rows = np.broadcast_to(np.arange(r_hi - r_lo)[:, None], starts.shape)
    diff = np.zeros((r_hi - r_lo, width + 1), np.int32)
    np.add.at(diff, (rows[valid], c0[valid].astype(np.int64)), 1)
    np.add.at(diff, (rows[valid], c1[valid].astype(np.int64)), -1)
    out[r_lo:r_hi] = np.cumsum(diff[:, :width], axis=1) > 0
    return out


def segmentation_mask(segmentation, height: int, width: int) -> np.ndarray:
    """bool H x W from a COCO `segmentation`: a list of polygons (union) or an RLE dict."""
    if isinstance(segmentation, dict):
        return decode_rle(segmentation, height, width)
    if isinstance(segmentation, list):
        out = np.zeros((height, width), bool)
        for poly in segmentation:
            if not isinstance(poly, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                     for v in poly):
                raise ValueError("a polygon must be a flat list of numbers")
            out |= polygon_mask(poly, height, width)
        return out
    raise ValueError(f"segmentation must be a list of polygons or an RLE dict, got {type(segmentation).__name__}")


# ----------------------------------------------------------------------------- files


def _find_json(path: Path) -> Path:
    if path.is_file():
        return path
    require_dir(path, "COCO directory")
    found = sorted(path.glob("annotations/instances_*.json")) or sorted(path.glob("instances_*.json"))
    if not found:
        raise DatasetError(f"no instances_<split>.json under {path} or {path / 'annotations'}")
    if len(found) == 1:
        return found[0]
    by_split = {p.stem[len("instances_"):]: p for p in found}
    for split in _PREFERRED_SPLITS:
        if split in by_split:
            return by_split[split]
    raise DatasetError(f"several annotation files under {path} ({', '.join(p.name for p in found)}); "
                       "pass the JSON file itself")


def _find_images_dir(json_path: Path, images_dir) -> Path:
    if images_dir is not None:
        return require_dir(Path(images_dir).expanduser(), "COCO images directory")
    split = json_path.stem[len("instances_"):] if json_path.stem.startswith("instances_") else ""
    root = json_path.parent.parent if json_path.parent.name == "annotations" else json_path.parent
    candidates = ([root / split, root / "images" / split] if split else []) + [root / "images"]
    for c in candidates:
        if c.is_dir():
            return c
    raise DatasetError(f"no images directory for {json_path.name}: looked in "
                       f"{', '.join(str(c) for c in candidates)}; pass images_dir")


def _load_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a JSON object with images, annotations and categories")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DatasetError(f"{path}: '{key}' is missing or not a list")
    return data


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _field(path: Path, where: str, entry, key: str, check, need: str):
    if not isinstance(entry, dict):
        raise DatasetError(f"{path}: {where} is not an object")
    if key not in entry:
        raise DatasetError(f"{path}: {where} lacks '{key}'")
    value = entry[key]
    if not check(value):
        raise DatasetError(f"{path}: {where} '{key}' must be {need}, got {value!r}")
    return value


def _xywh_box(path: Path, where: str, bbox) -> tuple[float, float, float, float]:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_num(v) for v in bbox)) or bbox[2] < 0 or bbox[3] < 0:
        raise DatasetError(f"{path}: {where} bbox must be [x, y, width, height] with width, height >= 0, got {bbox!r}")
    x, y, w, h = (float(v) for v in bbox)
    return (x, y, x + w, y + h)


def load_coco(dir_or_json: str | Path, images_dir: str | Path | None = None, limit: int | None = None) -> EvalDataset:
    """Load COCO instance annotations as per-class masks.

    Images without any annotation are left out (counted in meta["unannotated"]); images listed in
    the JSON but missing on disk are skipped and listed in `dataset.skipped`. Category names come
    from the JSON. `limit` keeps the first `limit` usable images in the JSON's order.
    """
    json_path = _find_json(Path(dir_or_json).expanduser())
    require_file(json_path, "COCO annotation file")
    limit = check_limit(limit)
    data = _load_json(json_path)
    images_root = _find_images_dir(json_path, images_dir)

    categories: dict[int, str] = {}
    for i, cat in enumerate(data["categories"]):
        where = f"categories[{i}]"
        cid = _field(json_path, where, cat, "id", _is_int, "a whole number")
        name = _field(json_path, where, cat, "name", lambda v: isinstance(v, str) and v.strip(), "a non-empty string")
        if cid in categories:
            raise DatasetError(f"{json_path}: {where} repeats category id {cid}")
        categories[cid] = name.strip()

    images: dict[int, dict] = {}
    order: list[int] = []
    for i, img in enumerate(data["images"]):
        where = f"images[{i}]"
        iid = _field(json_path, where, img, "id", _is_int, "a whole number")
        file_name = _field(json_path, where, img, "file_name", lambda v: isinstance(v, str) and v, "a file name")
        h = _field(json_path, where, img, "height", lambda v: _is_int(v) and v > 0, "a positive whole number")
        w = _field(json_path, where, img, "width", lambda v: _is_int(v) and v > 0, "a positive whole number")
        if iid in images:
            raise DatasetError(f"{json_path}: {where} repeats image id {iid}")
        images[iid] = {"id": iid, "file_name": file_name, "height": h, "width": w}
        order.append(iid)

    by_image: dict[int, list[dict]] = {}
    for i, ann in enumerate(data["annotations"]):
        where = f"annotations[{i}]"
        iid = _field(json_path, where, ann, "image_id", _is_int, "a whole number")
        cid = _field(json_path, where, ann, "category_id", _is_int, "a whole number")
        seg = _field(json_path, where, ann, "segmentation", lambda v: isinstance(v, (list, dict)),
                     "a list of polygons or an RLE object")
        if iid not in images:
            raise DatasetError(f"{json_path}: {where} refers to image id {iid}, which 'images' does not list")
        if cid not in categories:
            raise DatasetError(f"{json_path}: {where} refers to category id {cid}, which 'categories' does not list")
        crowd = bool(ann.get("iscrowd", 0))
        box = _xywh_box(json_path, where, ann["bbox"]) if "bbox" in ann else None
        by_image.setdefault(iid, []).append({"index": i, "id": ann.get("id", i), "category": categories[cid],
                                             "segmentation": seg, "crowd": crowd, "box": box})

    records, skipped, unannotated = [], [], 0
    for iid in order:
        if iid not in by_image:
            unannotated += 1
            continue
        image_path = images_root / images[iid]["file_name"]
        if not image_path.is_file():
            skipped.append(f"image id {iid}: image missing ({image_path})")
            continue
        records.append(iid)
        if limit is not None and len(records) >= limit:
            break

    def decode(iid: int) -> EvalSample:
        info = images[iid]
        h, w = info["height"], info["width"]
        image_path = images_root / info["file_name"]
        actual = image_size(image_path)
        if actual != (w, h):
            raise DatasetError(f"{image_path} is {actual[0]}x{actual[1]} but {json_path.name} says {w}x{h}")
        masks: dict[str, np.ndarray] = {}
        boxes: dict[str, list] = {}
        crowd_boxes: dict[str, list] = {}
        crowd_classes = set()
        for ann in by_image[iid]:
            try:
                m = segmentation_mask(ann["segmentation"], h, w)
            except (ValueError, TypeError) as exc:
                raise DatasetError(f"{json_path}: annotations[{ann['index']}] (id {ann['id']}): {exc}") from None
            name = ann["category"]
            if m.any():
                masks[name] = masks[name] | m if name in masks else m
            if ann["crowd"]:
                crowd_classes.add(name)
            if ann["box"] is not None:
                (crowd_boxes if ann["crowd"] else boxes).setdefault(name, []).append(ann["box"])
        return EvalSample(image_path=str(image_path), masks=masks, boxes=boxes,
                          meta={"id": iid, "dataset": "coco", "file_name": info["file_name"],
                                "crowd_classes": sorted(crowd_classes), "crowd_boxes": crowd_boxes})

    names = [categories[c] for c in sorted(categories)]
    return EvalDataset("coco", json_path, records, decode, names, skipped,
                       meta={"annotations": str(json_path), "images_dir": str(images_root),
                             "unannotated": unannotated})

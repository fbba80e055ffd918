"""Write Shapes World scenes to disk: a PASCAL VOC 2012 style segmentation set, or image/caption pairs.

Ids are `shapes_<index:06d>`, so one directory holds one seed: a `dataset.json`
records the seed, size and scene options, and writing a different seed or
different options into the same directory is refused rather than mixing two
worlds under colliding ids. Writing more index ranges with the same settings
adds to the directory; split files and manifests are merged by id.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from eclip_desktop.core.shapes.world import (
    Scene,
    check_int,
    class_names,
    iter_scenes,
    scene_options,
    synset_for,
)

ID_PREFIX = "shapes_"
# VOC reserves 255 for "void" (the unlabelled border around each object in the
# real data). Shapes World masks are exact, so no pixel is ever void; the index
# is listed in labels.txt only so that VOC loaders ignoring 255 keep working.
VOID_INDEX = 255
DATASET_FILE = "dataset.json"


def scene_id(index: int) -> str:
    return f"{ID_PREFIX}{index:06d}"


def voc_palette() -> list[int]:
    """The PASCAL VOC colour map: 256 RGB triples, flattened (class 1 dark red, 255 cream)."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


_PALETTE = voc_palette()


def _save_palette_png(array: np.ndarray, path: Path) -> None:
    # Built from raw bytes: Image.fromarray would give mode 'L', and converting
    # L to P quantises to a different palette instead of keeping the indices.
    im = Image.frombytes("P", (array.shape[1], array.shape[0]), np.ascontiguousarray(array, np.uint8).tobytes())
    im.putpalette(_PALETTE)
    im.save(path, optimize=False)


def _object_records(scene: Scene) -> list[dict]:
    index = {name: i + 1 for i, name in enumerate(class_names())}
    return [
        {"shape": o.shape, "synset": o.synset, "color": o.color, "box": list(o.box),
         "class": index[o.shape], "instance": k + 1}
        for k, o in enumerate(scene.objects)
    ]


def _caption_record(scene: Scene) -> dict:
    return {
        "caption": scene.caption,
        "caption_target": scene.caption_target,
        "caption_kind": scene.caption_kind,
        "caption_synset": scene.caption_synset,
        "caption_objects": list(scene.caption_objects),
    }


def _normalised_settings(seed: int, size: int, kw: dict) -> dict:
    # Round-tripped through JSON so tuples and lists compare equal to what was stored.
    return json.loads(json.dumps({"generator": "eclip_desktop.core.shapes", "seed": seed,
                                  "size": size, "options": kw}, sort_keys=True))


def _claim_directory(out_dir: Path, layout: str, seed: int, size: int, kw: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {"layout": layout, **_normalised_settings(seed, size, kw)}
    path = out_dir / DATASET_FILE
    if path.exists():
        existing = json.loads(path.read_text(encoding="utf-8"))
        if existing != settings:
            raise ValueError(
                f"{out_dir} already holds a Shapes World {existing.get('layout')} set written with "
                f"seed {existing.get('seed')}, size {existing.get('size')}, options {existing.get('options')}; "
                "ids would collide, so write these scenes to another directory"
            )
        return
    path.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _merge_lines(path: Path, ids: Iterable[str]) -> None:
    lines = set(path.read_text(encoding="utf-8").split()) if path.exists() else set()
    lines.update(ids)
    path.write_text("".join(f"{i}\n" for i in sorted(lines)), encoding="utf-8")


def _merge_jsonl(path: Path, records: list[dict]) -> None:
    by_id = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                by_id[rec["id"]] = rec
    for rec in records:
        by_id[rec["id"]] = rec
    path.write_text("".join(json.dumps(by_id[k], ensure_ascii=False) + "\n" for k in sorted(by_id)),
                    encoding="utf-8")


def _is_val(index: int, val_fraction: float) -> bool:
    # Spreads validation ids evenly through the index range: exactly
    # floor(n * val_fraction) of any first n indices are validation.
    return int(np.floor((index + 1) * val_fraction)) > int(np.floor(index * val_fraction))


def write_voc(out_dir: str | Path, seed: int, count: int, size: int = 64, *, start: int = 0,
              split: str | None = None, val_fraction: float = 0.2, **kw) -> list[str]:
    """Write scenes start..start+count-1 in the PASCAL VOC 2012 segmentation layout; return their ids.

    JPEGImages/<id>.jpg            quality 95, no chroma subsampling (keeps colours true at mask edges)
    SegmentationClass/<id>.png     palette PNG: 0 background, i+1 for class_names()[i]; 255 (void) unused
    SegmentationObject/<id>.png    palette PNG: 0 background, k+1 for scene.objects[k]
    ImageSets/Segmentation/*.txt   ids per split; split=None splits by val_fraction into train/val
                                   (and trainval), a split name puts every id in <split>.txt
    labels.txt, class_names.txt    class index -> name -> synset; names, one per index
    manifest.jsonl                 per id: caption, caption target, objects with boxes and colours
    kw: scene options for generate_scene (n_objects, background, caption_kinds, noise, scale).
    """
    seed = check_int("seed", seed, 0)
    count = check_int("count", count, 0)
    start = check_int("start", start, 0)
    scene_options(size=size, **kw)
    if split is not None and not re.fullmatch(r"[A-Za-z0-9_-]+", str(split)):
        raise ValueError(f"split must be a plain name such as 'train' or 'val', got {split!r}")
    if not 0.0 <= float(val_fraction) <= 1.0:
        raise ValueError(f"val_fraction must be within 0..1, got {val_fraction}")

    root = Path(out_dir)
    _claim_directory(root, "voc", seed, size, kw)
    dirs = {name: root / name for name in ("JPEGImages", "SegmentationClass", "SegmentationObject")}
    sets_dir = root / "ImageSets" / "Segmentation"
    for d in (*dirs.values(), sets_dir):
        d.mkdir(parents=True, exist_ok=True)

    names = class_names()
    (root / "labels.txt").write_text(
        "0\tbackground\t-\n"
        + "".join(f"{i + 1}\t{n}\t{synset_for(n)}\n" for i, n in enumerate(names))
        + f"{VOID_INDEX}\tvoid\t-\n",
        encoding="utf-8",
    )
    (root / "class_names.txt").write_text("background\n" + "".join(f"{n}\n" for n in names), encoding="utf-8")

    ids: list[str] = []
    splits: dict[str, list[str]] = {}
    records = []
    for scene in iter_scenes(seed, start, count, size=size, **kw):
        sid = scene_id(scene.index)
        ids.append(sid)
        Image.fromarray(scene.image).save(dirs["JPEGImages"] / f"{sid}.jpg", quality=95, subsampling=0)
        _save_palette_png(scene.class_mask(), dirs["SegmentationClass"] / f"{sid}.png")
        _save_palette_png(scene.instance_mask(), dirs["SegmentationObject"] / f"{sid}.png")
        name = split if split is not None else ("val" if _is_val(scene.index, val_fraction) else "train")
        splits.setdefault(name, []).append(sid)
        records.append({"id": sid, "seed": scene.seed, "index": scene.index, "background": scene.background,
                        **_caption_record(scene), "objects": _object_records(scene)})

    for name, members in splits.items():
        _merge_lines(sets_dir / f"{name}.txt", members)
    if split is None or split in ("train", "val"):
        _merge_lines(sets_dir / "trainval.txt", [i for n in ("train", "val") for i in splits.get(n, [])])
    _merge_jsonl(root / "manifest.jsonl", records)
    return ids


def write_captions(out_dir: str | Path, seed: int, count: int, size: int = 64, *, start: int = 0,
                   **kw) -> list[str]:
    """Write scenes start..start+count-1 as <id>.png + <id>.txt pairs and a manifest.jsonl; return their ids.

    Each manifest line: id, seed, index, image (file name), caption, caption_target,
    caption_kind, caption_synset, caption_objects and objects [{shape, synset, color, box, ...}].
    kw: scene options for generate_scene (n_objects, background, caption_kinds, noise, scale).
    """
    seed = check_int("seed", seed, 0)
    count = check_int("count", count, 0)
    start = check_int("start", start, 0)
    scene_options(size=size, **kw)

    root = Path(out_dir)
    _claim_directory(root, "captions", seed, size, kw)
    ids, records = [], []
    for scene in iter_scenes(seed, start, count, size=size, **kw):
        sid = scene_id(scene.index)
        ids.append(sid)
        # PNG, not JPEG: pixels stay exactly as generated for training and scoring.
        Image.fromarray(scene.image).save(root / f"{sid}.png")
        (root / f"{sid}.txt").write_text(scene.caption + "\n", encoding="utf-8")
        records.append({"id": sid, "seed": scene.seed, "index": scene.index, "image": f"{sid}.png",
                        **_caption_record(scene), "background": scene.background,
                        "objects": _object_records(scene)})
    _merge_jsonl(root / "manifest.jsonl", records)
    return ids

"""Training data: Shapes World scenes (generated once per seed, cached on disk) or an image-caption
folder/manifest for fine-tuning. Both yield uint8 images at one size plus caption strings."""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from eclip_desktop.core.errors import DatasetError, ImageLoadError
from eclip_desktop.core.io.imageio import load_image
from eclip_desktop.core.io.paths import user_cache_dir

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class CaptionData:
    images: np.ndarray  # (N, S, S, 3) uint8
    captions: list[str]
    skipped: list[tuple[str, str]]  # (path, reason) of unusable items
    source: str


def shapes_training_data(seed: int, count: int, size: int, caption_kinds: dict[str, float] | None = None,
                         n_objects: tuple[int, int] = (1, 3), progress=None) -> CaptionData:
    """`count` scenes of Shapes World for `seed`; cached as .npz since all poolings share them."""
    from eclip_desktop.core.shapes import generate_scene
    kinds = "-".join(f"{k}{w:g}" for k, w in sorted(caption_kinds.items())) if caption_kinds else "all"
    objects = f"{n_objects[0]}to{n_objects[1]}"
    path = user_cache_dir() / "shapes" / f"train-s{seed}-n{count}-{size}px-{objects}-{kinds}-v2.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return CaptionData(z["images"], [str(c) for c in z["captions"]], [], f"shapes:{count}:{seed}")
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is regenerated
    images = np.empty((count, size, size, 3), np.uint8)
    captions = []
    for i in range(count):
        scene = generate_scene(seed, i, size=size, n_objects=n_objects, caption_kinds=caption_kinds)
        images[i] = scene.image
        captions.append(scene.caption)
        if progress and (i + 1) % 1000 == 0:
            progress(i + 1, count)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")  # concurrent runs share the cache
        np.savez(tmp, images=images, captions=np.array(captions))
        os.replace(tmp, path)
    except OSError:
        pass  # no cache is slower, not wrong
    return CaptionData(images, captions, [], f"shapes:{count}:{seed}")


def fresh_scene_index(step: int, rank: int, world: int, batch: int, i: int) -> int:
    """Scene index of item i of `rank`'s batch at `step`: every (step, rank, item) its own scene, so no
    scene is drawn twice in a run and a resumed run continues exactly where it stopped."""
    return (step * world + rank) * batch + i


def fresh_scene_batches(seed: int, size: int, batch: int, first: int, last: int, rank: int = 0, world: int = 1,
                        caption_kinds: dict[str, float] | None = None, n_objects: tuple[int, int] = (1, 3)):
    """(images uint8 (B, S, S, 3), captions) for steps first..last-1 of a `--fresh-scenes` run:
    Shapes World scenes drawn on demand, never cached and never repeated (no training set to memorise)."""
    from eclip_desktop.core.shapes import generate_scene
    for step in range(first, last):
        scenes = [generate_scene(seed, fresh_scene_index(step, rank, world, batch, i), size=size,
                                 n_objects=n_objects, caption_kinds=caption_kinds) for i in range(batch)]
        yield np.stack([s.image for s in scenes]), [s.caption for s in scenes]


def _read_manifest(path: Path) -> list[tuple[Path, str, str | None]]:
    rows: list[tuple[Path, str, str | None]] = []
    base = path.parent
    try:
        if path.suffix.lower() == ".jsonl":
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    rows.append((base / rec["image"], str(rec["caption"]), None))
                except (ValueError, KeyError, TypeError) as exc:
                    raise DatasetError(f"{path}:{n}: expected a JSON object with 'image' and 'caption' ({exc})") from None
        else:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                try:
                    if not reader.fieldnames or not {"image", "caption"} <= set(reader.fieldnames):
                        raise DatasetError(f"{path}: the CSV needs 'image' and 'caption' columns")
                    for rec in reader:  # a short row has None for its missing cells
                        rows.append((base / (rec["image"] or ""), rec["caption"] or "", None))
                except csv.Error as exc:
                    raise DatasetError(f"{path}:{reader.line_num}: not a readable CSV row ({exc})") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"manifest {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise DatasetError(f"cannot read manifest {path}: {exc.strerror}") from exc
    return rows


def _read_caption(txt: Path) -> tuple[str, str | None]:
    """(caption, problem): an unreadable caption file makes its image a skipped item, not a failed run."""
    if not txt.is_file():
        return "", None
    try:
        return txt.read_text(encoding="utf-8").strip(), None
    except UnicodeDecodeError as exc:
        return "", f"caption {txt.name} is not UTF-8 text ({exc.reason} at byte {exc.start})"
    except OSError as exc:
        return "", f"cannot read caption {txt.name}: {exc.strerror or exc}"


def _read_folder(folder: Path) -> list[tuple[Path, str, str | None]]:
    rows = []
    for img in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        rows.append((img, *_read_caption(img.with_suffix(".txt"))))
    return rows


def caption_folder_data(source: str, size: int) -> CaptionData:
    """Image + same-name .txt pairs in a folder, or a CSV/JSONL manifest (image, caption columns).
    Corrupt images and empty captions are skipped and counted, never fatal."""
    path = Path(source)
    if not path.exists():
        raise DatasetError(f"training data {source} does not exist")
    if path.is_dir():
        manifest = next((path / n for n in ("manifest.jsonl", "manifest.csv") if (path / n).is_file()), None)
        rows = _read_manifest(manifest) if manifest else _read_folder(path)
    else:
        rows = _read_manifest(path)
    if not rows:
        raise DatasetError(f"{source} holds no images (expected image files with same-name .txt captions, "
                           "or a manifest.jsonl / .csv with image and caption)")
    images, captions, skipped = [], [], []
    for img_path, caption, problem in rows:
        if problem or not caption.strip():
            skipped.append((str(img_path), problem or "no caption (.txt missing or empty)"))
            continue
        try:
            rgb = load_image(img_path).rgb
        except ImageLoadError as exc:
            skipped.append((str(img_path), str(exc)))
            continue
        images.append(np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC)))
        captions.append(caption.strip())
    if not images:
        raise DatasetError(f"none of the {len(rows)} items in {source} is usable "
                           f"(first problem: {skipped[0][0]}: {skipped[0][1]})")
    return CaptionData(np.stack(images), captions, skipped, str(source))

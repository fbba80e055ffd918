"""Turn `export --images` arguments (folders, globs, list files, plain paths) into one image list.

The order is deterministic (arguments in the order given, each folder or glob sorted) and every
image appears once, so two runs over the same inputs plan the same rows and a resume lines up.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

from eclip_desktop.core.errors import ImageLoadError
from eclip_desktop.core.io.imageio import IMAGE_EXTENSIONS

_GLOB_CHARS = set("*?[")


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _read_list(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not a UTF-8 text file of image paths"
        raise ImageLoadError(f"cannot read image list {path}: {why}") from exc
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = Path(line).expanduser()
        # Relative entries are relative to the list file, so a list travels with its images.
        entries.append(str(p if p.is_absolute() else path.parent / p))
    return entries


def _expand(spec: str) -> list[str]:
    p = Path(spec).expanduser()
    if p.is_dir():
        return [str(f) for f in sorted(p.iterdir()) if f.is_file() and _is_image_name(f)]
    if _GLOB_CHARS & set(spec) and not p.exists():
        return [f for f in sorted(glob.glob(os.path.expanduser(spec), recursive=True))
                if Path(f).is_file() and _is_image_name(Path(f))]
    if p.is_file() and not _is_image_name(p):
        return _read_list(p)
    # A plain path, even a missing one: that image then fails in its own index row.
    return [str(p)]


def collect_images(specs: list[str]) -> list[str]:
    """The images named by `specs`, de-duplicated by their real path; raises if none match."""
    seen, images = set(), []
    for spec in specs:
        for path in _expand(spec):
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                images.append(path)
    if not images:
        raise ImageLoadError(f"no images matched {', '.join(specs)} (folders, globs or a list file of "
                             f"paths; image types: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return images

"""ImageFolder layout for OOD detection: DIR/<class>/<image>, one folder per class."""
from __future__ import annotations

from pathlib import Path

from eclip_desktop.core.errors import DatasetError
from eclip_desktop.core.evaluation.datasets import require_dir
from eclip_desktop.core.io.imageio import IMAGE_EXTENSIONS


def load_imagefolder(directory: str | Path) -> list[tuple[str, str]]:
    """(image path, class name) for every image in DIR/<class>/, sorted by class then file name.

    Only the first level of sub-folders counts as classes; hidden files and folders, files lying
    directly in DIR and files with other extensions are ignored. Empty class folders are ignored.
    """
    root = require_dir(Path(directory).expanduser(), "image folder")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DatasetError(f"{root} has no class sub-folders; expected DIR/<class>/<image>")
    items = []
    for folder in classes:
        for f in sorted(folder.iterdir()):
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_EXTENSIONS:
                items.append((str(f), folder.name))
    if not items:
        raise DatasetError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in the class folders of {root}")
    return items

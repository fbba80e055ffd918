"""Turn `export --images` arguments (folders, globs, list files, plain paths) into one image list.

The order is deterministic (arguments in the order given, each folder or glob sorted) and every
image appears once, so two runs over the same inputs plan the same rows and a resume lines up.
"""
from __future__ import annotations

import glob
import os
from pathlib import Path

from eclip_desktop.core.errors import EclipError, ImageLoadError
from eclip_desktop.core.io.guards import read_json, read_text, shown
from eclip_desktop.core.io.imageio import IMAGE_EXTENSIONS

_GLOB_CHARS = set("*?[")
SEP = "__"  # every output name joins the image stem and the map's parts with it (core/export/artifacts.py)
MAP16 = "__map16"


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _read_list(path: Path) -> list[str]:
    # A regular UTF-8 file of bounded size; a byte-order mark on its first line is not part of a path.
    text = read_text(path, lambda why: ImageLoadError(f"cannot read image list {shown(path)}: {why}"))
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        p = _expanded(line)
        # Relative entries are relative to the list file, so a list travels with its images.
        entries.append(str(p if p.is_absolute() else path.parent / p))
    return entries


def _expanded(path: str) -> Path:
    try:
        return Path(path).expanduser()
    except RuntimeError:  # "~nosuchuser/a.png": left as written, to fail as a missing image
        return Path(path)


def _expand(spec: str) -> list[str]:
    p = _expanded(spec)
    if p.is_dir():
        return [str(f) for f in sorted(p.iterdir()) if f.is_file() and _is_image_name(f)]
    if _GLOB_CHARS & set(spec) and not p.exists():
        return [f for f in sorted(glob.glob(os.path.expanduser(spec), recursive=True))
                if Path(f).is_file() and _is_image_name(Path(f))]
    if p.exists() and not _is_image_name(p):
        return _read_list(p)  # which refuses a FIFO or a device at once, with its reason
    # A plain path, even a missing one: that image then fails in its own index row.
    return [str(p)]


def export_outputs(out: str | os.PathLike) -> set[str]:
    """Real paths of the files an export wrote into `out`: those its index names, and every file
    with a sidecar of its own stem beside it (a figure, a 16-bit map), in case the index is gone."""
    folder = Path(out).expanduser()
    if not folder.is_dir():
        return set()
    names: set[str] = set()
    try:
        index = read_json(folder / "index.json", EclipError)
        rows = index.get("rows") if isinstance(index, dict) else None
        names.update(f for r in rows or [] if isinstance(r, dict) for f in r.get("files") or [] if isinstance(f, str))
    except EclipError:  # no index (yet), or not one of ours: the sidecar rule below still holds
        pass
    for f in folder.iterdir():
        stem = f.stem.removesuffix(MAP16)
        if _is_image_name(f) and SEP in stem and (folder / f"{stem}.json").is_file():
            names.add(f.name)
    return {os.path.realpath(folder / n) for n in names}


def collect_images(specs: list[str], exclude: str | os.PathLike | None = None) -> list[str]:
    """The images named by `specs`, de-duplicated by their real path; raises if none match. Files a
    folder, glob or list matched that are outputs of the export into `exclude` (its --out) are left
    out: a run must not take its previous figures as new inputs (4, then 8, then 16 maps)."""
    seen, images = set(), []
    ours = export_outputs(exclude) if exclude is not None else set()
    for spec in specs:
        expanded = _expand(spec)
        if ours and expanded != [str(_expanded(spec))]:
            expanded = [p for p in expanded if os.path.realpath(p) not in ours]
        for path in expanded:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                images.append(path)
    if not images:
        raise ImageLoadError(f"no images matched {', '.join(specs)} (folders, globs or a list file of "
                             f"paths; image types: {', '.join(sorted(IMAGE_EXTENSIONS))})")
    return images

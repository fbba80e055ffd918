"""No leftovers: an output folder made for a run whose model then fails to load is removed again.

The folder is made (and proved writable) before the model loads, so a read-only target fails in
seconds rather than after a long load; the price is an empty folder when the load fails, which
`missing_dirs` + `removed_on_failure` take back.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path


def missing_dirs(path: str | os.PathLike[str]) -> list[Path]:
    """The folders of `path` that do not exist yet, deepest first (what a mkdir -p would make)."""
    out = []
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        out.append(p)
        p = p.parent
    return out


@contextmanager
def removed_on_failure(made: list[Path]):
    """Removes the folders of `made` (deepest first) that are still empty when the block fails."""
    try:
        yield
    except BaseException:
        for d in made:
            try:
                d.rmdir()  # only an empty folder: never anything the run or anyone else put there
            except OSError:
                break
        raise

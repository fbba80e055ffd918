"""Reference scenes for the support test: the model's own world, with what each scene holds known.

A small concept set cannot give the outside-set null a small p-value (one concept among 19 others:
p >= 1/20), and a small model's ranks are biased per concept (one gloss can rank first in most
windows of any scene). The reference null compares a concept with itself instead: its statistic on
this image against its statistic on Shapes World scenes drawn for the purpose that do not hold it.
That needs images whose content is known exactly, so it applies to models trained on Shapes World
(their card says so; core/model/training_domain.py), for whom those scenes are the world they know.

The scenes (seed REFERENCE_SEED, 1-3 objects, at the model's input size) are drawn from a seed no
training run (data seeds below 1000), evaluation (1000-1002) or generalisation suite (2000s, 3000s)
uses. Their rank matrices are computed once per model, concept set and window geometry and kept on
disk beside the gloss banks, with the classes each scene holds.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

REFERENCE_SEED = 4000
REFERENCE_SCENES = 200
REFERENCE_OBJECTS = (1, 3)
REFERENCE_FORMAT = 1

Progress = Callable[[int, int, str], None]


@dataclass(eq=False)
class Reference:
    """``ranks[s]``: scene s's (windows x set) rank matrix; ``holds[s]``: the class synsets scene s shows."""

    ranks: np.ndarray
    holds: list[frozenset[str]]
    path: Path | None
    from_cache: bool

    def lacking(self, concepts: set[str]) -> np.ndarray:
        """Indices of the scenes that show none of these concepts: no object's class is one of them or
        a hyponym of one (by WordNet's hypernym paths, whatever the concept set holds)."""
        return np.array([i for i, h in enumerate(self.holds) if not any(held(c) & concepts for c in h)],
                        dtype=np.int64)


@lru_cache(maxsize=64)
def held(class_synset: str) -> frozenset[str]:
    """The synsets a scene showing this class shows: the class and every hypernym on its paths."""
    from eclip_desktop.core.shapes import hypernym_paths
    return frozenset([class_synset, *(s for path in hypernym_paths(class_synset) for s in path)])


def reference_key(bank_key: str, params) -> str:
    raw = f"{REFERENCE_FORMAT}|{bank_key}|{params.key()}|{REFERENCE_SEED}|{REFERENCE_SCENES}|{REFERENCE_OBJECTS}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:24]


def _read(path: Path, n_windows: int, n_concepts: int) -> Reference | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            ranks, holds = data["ranks"], data["holds"]
    except (OSError, KeyError, ValueError):
        return None
    if ranks.shape != (REFERENCE_SCENES, n_windows, n_concepts) or len(holds) != REFERENCE_SCENES:
        return None
    return Reference(ranks, [frozenset(filter(None, str(h).split(" "))) for h in holds], path, True)


def load_reference(rank_scene: Callable[[np.ndarray], np.ndarray], n_windows: int, n_concepts: int, size: int,
                   directory: Path, key: str, progress: Progress | None = None) -> Reference:
    """The reference from disk when it was built before, else built now (`rank_scene`: image -> rank
    matrix, uncached) and saved; a read-only cache costs time, not correctness."""
    from eclip_desktop.core.io.atomic import atomic_write_bytes
    from eclip_desktop.core.shapes import generate_scene, synset_for

    path = directory / f"reference-{key}.npz"
    hit = _read(path, n_windows, n_concepts)
    if hit is not None:
        return hit
    ranks, holds = [], []
    for i in range(REFERENCE_SCENES):
        scene = generate_scene(REFERENCE_SEED, i, size=size, n_objects=REFERENCE_OBJECTS)
        ranks.append(rank_scene(np.ascontiguousarray(scene.image)))
        holds.append(frozenset(synset_for(o.shape) for o in scene.objects))
        if progress is not None:
            progress(i + 1, REFERENCE_SCENES, "support reference scenes")
    ref = Reference(np.stack(ranks), holds, None, False)
    try:
        import io
        buf = io.BytesIO()
        np.savez(buf, ranks=ref.ranks, holds=np.array([" ".join(sorted(h)) for h in holds]))
        os.makedirs(directory, exist_ok=True)
        atomic_write_bytes(path, buf.getvalue(), overwrite=True)
        ref.path = path
    except Exception:  # OSError or OutputError
        pass
    return ref

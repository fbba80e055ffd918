"""ConVis maps: rank every window of an image against every concept once, then map any concept.

The rank of a concept for a window does not depend on which concept is being
mapped, so an image costs one pass of window encodings (the slow part) and a
(windows x |T|) rank matrix; each concept's map afterwards is a column min and
a scatter-add of milliseconds. Rank matrices are kept for the last few images.
"""
from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np
import torch

from eclip_desktop.core.convis.gloss_bank import (
    GlossBank,
    default_batch_size,
    load_gloss_bank,
)
from eclip_desktop.core.convis.windows import (
    Coverage,
    WindowParams,
    centre_crop_box,
    coarse_rows,
    crop_windows,
    make_canvas,
    resize_window,
    window_boxes,
)
from eclip_desktop.core.errors import CancelledError, ConceptError

Progress = Callable[[int, int, str], None]
Cancelled = Callable[[], bool]
_MAX_CACHED_BYTES = 768 * 1024 * 1024


@dataclass(eq=False)
class RankMatrix:
    """Per window, the rank (0 = best) of every concept of the set, for one image.

    ``ranks[i, j]`` is the position of ``synsets[j]`` when the set is sorted by
    decreasing cosine with window i; every row is a permutation of 0..|T|-1.
    uint16 when |T| fits, else int32. ``boxes`` are (x0, y0, side) on the
    padded canvas; ``crop_box`` is the (x0, y0, side) square of the original
    image the canvas centre came from.
    """

    ranks: np.ndarray
    boxes: np.ndarray
    params: WindowParams
    crop_box: tuple[int, int, int]
    image_shape: tuple[int, int]
    sha256: str
    timings: dict = field(default_factory=dict)
    _coverage: Coverage | None = field(default=None, repr=False)

    @property
    def coverage(self) -> Coverage:
        if self._coverage is None:
            self._coverage = Coverage(self.boxes, self.params)
        return self._coverage


@dataclass(eq=False)
class ConceptMap:
    """One concept's saliency: ``values`` at the original image size in [0, 1] (bright = good rank).

    ``centre`` is the map on the size x size canvas centre before upsampling;
    ``window_scores`` the concept's rank r per window. Outside ``crop_box``
    (the centre square the method sees) ``values`` is 0.
    """

    synset: str
    values: np.ndarray
    centre: np.ndarray
    window_scores: np.ndarray
    crop_box: tuple[int, int, int]
    windows: int
    final: bool
    seconds: float


def image_key(image) -> tuple[np.ndarray, str]:
    """(RGB uint8 array, sha256) for a LoadedImage or a bare array."""
    rgb = getattr(image, "rgb", image)
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 image, got {rgb.shape} {rgb.dtype}")
    sha = getattr(image, "sha256", None)
    if not sha:
        sha = hashlib.sha256(np.ascontiguousarray(rgb).tobytes() + str(rgb.shape).encode()).hexdigest()
    return rgb, sha


def rank_dtype(n_concepts: int):
    return np.uint16 if n_concepts <= np.iinfo(np.uint16).max + 1 else np.int32


def finish_map(acc: np.ndarray, count: np.ndarray, average: bool) -> np.ndarray:
    """Accumulated ranks -> [0, 1] map, bright where ranks are good (Algorithm 1's last steps)."""
    m = acc.astype(np.float64)
    if average:
        covered = count > 0
        m = np.where(covered, m / np.maximum(count, 1), 0.0)
        if not covered.all():
            # A pixel no window saw (only possible in the stochastic variant) gets the worst value.
            m[~covered] = m[covered].max() if covered.any() else 0.0
    lo, hi = float(m.min()), float(m.max())
    x = (m - lo) / (hi - lo) if hi > lo else np.ones_like(m)
    return (1.0 - x).astype(np.float32)


def place_on_image(centre: np.ndarray, crop_box: tuple[int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """Upsample the centre map onto the crop square of the original; 0 elsewhere."""
    x0, y0, side = crop_box
    out = np.zeros(shape, np.float32)
    up = cv2.resize(centre, (side, side), interpolation=cv2.INTER_LINEAR) if centre.shape[0] != side else centre
    out[y0:y0 + side, x0:x0 + side] = np.clip(up, 0.0, 1.0)
    return out


class ConVis:
    """ConVis for one model and one concept set.

    ``hierarchy`` supplies glosses (only when the gloss bank must be built).
    ``window_encode_calls`` counts batches sent to ``encode_image`` for windows.
    """

    def __init__(self, handle, hierarchy, concept_set, bank: GlossBank | None = None, cache_dir=None,
                 batch_size: int | None = None, cache_size: int = 4):
        self.handle = handle
        self.hierarchy = hierarchy
        self.concept_set = concept_set
        self.cache_dir = cache_dir
        self.batch_size = batch_size or default_batch_size(handle.device)
        self.cache_size = cache_size
        self._bank = bank
        self._gloss_t: torch.Tensor | None = None
        self._cache: OrderedDict[tuple, RankMatrix] = OrderedDict()
        self._image_emb: OrderedDict[str, np.ndarray] = OrderedDict()
        self._columns: dict[str, np.ndarray] = {}
        self._references: dict[str, object] = {}
        self._lock = threading.RLock()
        self.window_encode_calls = 0
        self.windows_encoded = 0

    # -- concepts

    def gloss_bank(self, progress: Callable[[int, int], None] | None = None,
                   cancelled: Cancelled | None = None) -> GlossBank:
        with self._lock:
            if self._bank is None:
                self._bank = load_gloss_bank(self.handle, self.hierarchy, self.concept_set, self.cache_dir,
                                             progress=progress, cancelled=cancelled)
            return self._bank

    def _glosses_on_device(self) -> torch.Tensor:
        if self._gloss_t is None:
            emb = torch.from_numpy(self.gloss_bank().embeddings)
            self._gloss_t = emb.to(self.handle.device, torch.float32)
        return self._gloss_t

    def columns(self, synset: str) -> np.ndarray:
        """Indices of the synset's subtree (itself and its hyponyms in the set)."""
        if synset not in self.concept_set:
            raise ConceptError(f"{synset} is not in the concept set '{self.concept_set.name}'.")
        with self._lock:
            cols = self._columns.get(synset)
        if cols is None:
            idx = self.concept_set.index
            # Sorted indices read the column-major matrix front to back.
            cols = np.sort(np.fromiter((idx[s] for s in self.concept_set.subtree(synset)), np.int64))
            with self._lock:
                self._columns[synset] = cols
        return cols

    # -- windows

    @torch.no_grad()
    def _encode_crops(self, crops: np.ndarray) -> torch.Tensor:
        h = self.handle
        x = torch.from_numpy(crops).to(h.device).permute(0, 3, 1, 2).float().div_(255.0)
        mean = torch.tensor(h.mean, device=h.device).view(1, 3, 1, 1)
        std = torch.tensor(h.std, device=h.device).view(1, 3, 1, 1)
        x = ((x - mean) / std).to(h.dtype)
        with h.lock:
            emb = h.model.encode_image(x)
        return torch.nn.functional.normalize(emb.float(), dim=-1)

    @torch.no_grad()
    def _rank_rows(self, emb: torch.Tensor, dtype) -> np.ndarray:
        g = self._glosses_on_device()
        sims = emb.to(g.device) @ g.T
        order = torch.argsort(sims, dim=1, descending=True, stable=True)
        ranks = torch.empty_like(order)
        ranks.scatter_(1, order, torch.arange(g.shape[0], device=g.device).expand_as(order))
        return ranks.cpu().numpy().astype(dtype)

    def _encode_rows(self, canvas, boxes, ranks, rows, done, total, progress, cancelled) -> int:
        for start in range(0, len(rows), self.batch_size):
            if cancelled is not None and cancelled():
                raise CancelledError(f"cancelled after {done} of {total} windows")
            part = rows[start:start + self.batch_size]
            emb = self._encode_crops(crop_windows(canvas, boxes[part], self.handle.image_size))
            self.window_encode_calls += 1
            self.windows_encoded += len(part)
            ranks[part] = self._rank_rows(emb, ranks.dtype)
            done += len(part)
            if progress is not None:
                progress(done, total, "windows")
        return done

    def _cache_key(self, sha: str, params: WindowParams) -> tuple:
        bank = self.gloss_bank()
        return (sha, self.handle.identity, bank.set_hash, id(bank), params.key())

    def cached_ranks(self, image, params: WindowParams | None = None) -> RankMatrix | None:
        _, sha = image_key(image)
        with self._lock:
            key = self._cache_key(sha, params or WindowParams())
            rm = self._cache.get(key)
            if rm is not None:
                self._cache.move_to_end(key)
            return rm

    def _remember(self, key: tuple, rm: RankMatrix) -> None:
        with self._lock:
            self._cache[key] = rm
            self._cache.move_to_end(key)
            # Bound by count and by bytes: an all-nouns matrix is ~240 MB, a default-set one ~12 MB.
            while len(self._cache) > 1 and (len(self._cache) > self.cache_size or
                                            sum(r.ranks.nbytes for r in self._cache.values()) > _MAX_CACHED_BYTES):
                self._cache.popitem(last=False)

    def iter_ranks(self, image, params: WindowParams | None = None, progress: Progress | None = None,
                   cancelled: Cancelled | None = None, coarse_first: bool = True) -> Iterator[RankMatrix]:
        """Yields the coarse windows' rank matrix, then the full one (only the full one when cached).

        The final matrix is cached; its rows are in ``window_boxes`` order
        however the work was scheduled, so coarse-to-fine ends at exactly the
        single-pass result.
        """
        params = params or WindowParams()
        rgb, sha = image_key(image)
        key = self._cache_key(sha, params)
        hit = self.cached_ranks(image, params)
        if hit is not None:
            yield hit
            return
        t0 = time.perf_counter()
        canvas = make_canvas(rgb, params)
        boxes = window_boxes(params)
        n_concepts = len(self.concept_set)
        # Column-major: a concept's map gathers whole columns (its subtree), which are then contiguous;
        # for entity.n.01 over the default set that is 5 ms instead of 25.
        ranks = np.zeros((len(boxes), n_concepts), rank_dtype(n_concepts), order="F")
        base = dict(params=params, crop_box=centre_crop_box(*rgb.shape[:2]), image_shape=rgb.shape[:2],
                    sha256=sha)
        coarse = coarse_rows(boxes, params) if coarse_first else np.ones(len(boxes), bool)
        first, rest = np.flatnonzero(coarse), np.flatnonzero(~coarse)
        done = self._encode_rows(canvas, boxes, ranks, first, 0, len(boxes), progress, cancelled)
        if len(rest):
            yield RankMatrix(np.asfortranarray(ranks[first]), boxes[first], timings={"windows": time.perf_counter() - t0}, **base)
            self._encode_rows(canvas, boxes, ranks, rest, done, len(boxes), progress, cancelled)
        rm = RankMatrix(ranks, boxes, timings={"windows": time.perf_counter() - t0}, **base)
        self._remember(key, rm)
        yield rm

    def rank_matrix(self, image, params: WindowParams | None = None, progress: Progress | None = None,
                    cancelled: Cancelled | None = None) -> RankMatrix:
        *_, last = self.iter_ranks(image, params, progress, cancelled, coarse_first=False)
        return last

    # -- maps

    def map_from_ranks(self, rm: RankMatrix, synset: str, final: bool = True) -> ConceptMap:
        t0 = time.perf_counter()
        cols = self.columns(synset)
        r = rm.ranks[:, cols[0]] if len(cols) == 1 else rm.ranks[:, cols].min(axis=1)
        cov = rm.coverage
        centre = finish_map(cov.accumulate(r), cov.count, rm.params.average)
        values = place_on_image(centre, rm.crop_box, rm.image_shape)
        return ConceptMap(synset, values, centre, r, rm.crop_box, len(rm.boxes), final,
                          time.perf_counter() - t0)

    def concept_map(self, image, synset: str, params: WindowParams | None = None,
                    progress: Progress | None = None, cancelled: Cancelled | None = None) -> ConceptMap:
        self.columns(synset)  # an unknown concept fails before any window is encoded
        return self.map_from_ranks(self.rank_matrix(image, params, progress, cancelled), synset)

    def iter_concept_map(self, image, synset: str, params: WindowParams | None = None,
                         progress: Progress | None = None, cancelled: Cancelled | None = None) -> Iterator[ConceptMap]:
        """Coarse-to-fine: a map from the coarse-stride windows first, then the final one."""
        self.columns(synset)
        last = None
        for rm in self.iter_ranks(image, params, progress, cancelled, coarse_first=True):
            if last is not None:
                yield self.map_from_ranks(last, synset, final=False)
            last = rm
        yield self.map_from_ranks(last, synset, final=True)

    def support(self, rm: RankMatrix, synset: str, progress: Progress | None = None,
                cancelled: Cancelled | None = None):
        """The support test of `synset` on this rank matrix (core/convis/support.py); the reference
        scenes are built (or read from the cache) only when the test needs them."""
        from eclip_desktop.core.convis.support import support_in_hierarchy
        return support_in_hierarchy(rm.ranks, self.concept_set, synset, self.columns,
                                    reference=lambda: self.reference(rm.params, progress, cancelled))

    def reference(self, params: WindowParams, progress: Progress | None = None,
                  cancelled: Cancelled | None = None):
        """The support test's reference scenes for this model, set and geometry (core/convis/reference.py),
        or None for a model not trained on Shapes World (no scenes are known to be its world) and for a
        set it cannot know (its ranks say nothing either way)."""
        from eclip_desktop.core.convis.gloss_bank import bank_key, convis_cache_dir
        from eclip_desktop.core.convis.reference import load_reference, reference_key
        from eclip_desktop.core.convis.support import unknown_set_reason
        from eclip_desktop.core.model.training_domain import shapes_world_model
        info = self.handle.describe()
        if not shapes_world_model(info) or unknown_set_reason(info, self.concept_set):
            return None
        with self._lock:
            key = reference_key(bank_key(self.handle, self.concept_set), params)
            ref = self._references.get(key)
            if ref is None:
                directory = Path(self.cache_dir) if self.cache_dir is not None else convis_cache_dir()
                n_windows = len(window_boxes(params))
                ref = load_reference(lambda rgb: self.window_ranks(rgb, params, cancelled=cancelled), n_windows,
                                     len(self.concept_set), self.handle.image_size, directory, key, progress)
                self._references[key] = ref
            return ref

    def window_ranks(self, rgb: np.ndarray, params: WindowParams, cancelled: Cancelled | None = None) -> np.ndarray:
        """An image's (windows x set) rank matrix, not cached (the reference scenes' matrices)."""
        boxes = window_boxes(params)
        ranks = np.zeros((len(boxes), len(self.concept_set)), rank_dtype(len(self.concept_set)))
        self._encode_rows(make_canvas(rgb, params), boxes, ranks, np.arange(len(boxes)), 0, len(boxes), None,
                          cancelled)
        return ranks

    # -- which concepts

    def _subtree_min_all(self, ranks: np.ndarray) -> np.ndarray:
        """(N, |T|): per window and concept, the min rank over the concept's subtree.

        Children before parents, so each concept is its own column min its
        children's finished columns: one pass over the DAG's edges.
        """
        cs = self.concept_set
        idx = cs.index
        out = ranks.astype(np.int32, copy=True)
        pending = {s: len(cs.children.get(s, ())) for s in cs.synsets}
        ready = [s for s, n in pending.items() if n == 0]
        while ready:
            s = ready.pop()
            kids = cs.children.get(s, ())
            if kids:
                col = idx[s]
                out[:, col] = np.minimum(out[:, col], out[:, [idx[k] for k in kids]].min(axis=1))
            for p in cs.parents.get(s, ()):
                pending[p] -= 1
                if pending[p] == 0:
                    ready.append(p)
        return out

    def concepts_in_image(self, image, top_k: int = 10, params: WindowParams | None = None,
                          rule: str = "own", progress: Progress | None = None,
                          cancelled: Cancelled | None = None) -> dict:
        """The concepts most present, by map mass and by best rank.

        mass = the mean over the image of 1 - r/(|T|-1) before min-max
        normalisation (so it compares across concepts); best rank = the
        concept's best r over all windows. ``rule='own'`` ranks a concept by
        its own gloss; ``'subtree'`` uses the map's min-over-hyponyms rule, under
        which an ancestor can never score below its descendants, so the root
        always comes first: useful for a given concept, not for a listing.
        """
        if rule not in ("own", "subtree"):
            raise ValueError("rule must be 'own' or 'subtree'")
        rm = self.rank_matrix(image, params, progress, cancelled)
        r = rm.ranks if rule == "own" else self._subtree_min_all(rm.ranks)
        w = rm.coverage.pixel_weights(rm.params.average)
        n = max(len(self.concept_set) - 1, 1)
        mass = 1.0 - (w @ r.astype(np.float64)) / (w.sum() * n)
        best = r.min(axis=0).astype(np.int64)
        names = self.concept_set.synsets
        k = max(0, min(top_k, len(names)))
        by_mass = np.lexsort((best, -mass))[:k]
        by_rank = np.lexsort((-mass, best))[:k]

        def row(i):
            return {"synset": names[i], "gloss": self.hierarchy.gloss(names[i]), "mass": float(mass[i]),
                    "best_rank": int(best[i])}
        return {"rule": rule, "by_mass": [row(i) for i in by_mass], "by_rank": [row(i) for i in by_rank]}

    @torch.no_grad()
    def image_embedding(self, image, params: WindowParams | None = None) -> np.ndarray:
        """The whole centre square at the model input, as CLIP's own preprocessing would see it."""
        rgb, sha = image_key(image)
        with self._lock:
            if sha in self._image_emb:
                return self._image_emb[sha]
        x0, y0, side = centre_crop_box(*rgb.shape[:2])
        crop = resize_window(np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side]), self.handle.image_size)
        emb = self._encode_crops(crop[None]).cpu().numpy()[0]
        with self._lock:
            self._image_emb[sha] = emb
            while len(self._image_emb) > 32:
                self._image_emb.popitem(last=False)
        return emb

    def explain_embedding(self, image, top_k: int = 10) -> list[dict]:
        """Concepts whose glosses are closest (cosine) to the whole-image embedding."""
        emb = self.image_embedding(image)
        cos = self.gloss_bank().embeddings @ emb
        order = np.argsort(-cos, kind="stable")[:max(0, top_k)]
        names = self.concept_set.synsets
        return [{"synset": names[i], "gloss": self.hierarchy.gloss(names[i]), "cosine": float(cos[i])}
                for i in order]

"""Explainability metrics: mIoU over a threshold grid, score contrast, pointing game, MaxBoxAcc, AUROC.

Pure numpy / OpenCV. Every metric takes a saliency map (float H x W, normalised to 0..1) and a
ground truth at the SAME size; resizing the map to the mask is the caller's job.

Conventions shared by every function here:

- Foreground at threshold θ is ``map >= θ`` (compared in float64), background is ``map < θ``.
- ``ignore`` (optional bool H x W) marks pixels that count neither as object nor as background,
  e.g. the VOC "void" border (index 255). Ignored pixels are dropped from every count, from both
  means of the score contrast and from the pointing game's argmax.
- Boxes are ``(x0, y0, x1, y1)`` in pixel units with x1 / y1 EXCLUSIVE: a box covering pixel
  columns 3..5 is (3, y0, 6, y1) and its width is x1 - x0. Float boxes read as continuous
  coordinates in which pixel (r, c) spans [c, c + 1) x [r, r + 1), so both readings agree.
- Percent (0..100): mIoU, mSC, MaxBoxAcc. Fractions (0..1): pointing, bg_preferred, AUROC.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import cv2
import numpy as np

# One threshold per method x model x dataset is picked from this grid (the protocol of ECLIP and
# CLIP Surgery as we run it), the same grid for every method so none gets a finer search.
THETA_GRID = np.round(np.arange(0, 1.0001, 0.05), 2)
# MaxBoxAcc (ConVis, after Choe et al. 2020): thresholds 0, 0.01, ..., 0.99.
BOX_THETAS = np.round(np.arange(0, 1.0, 0.01), 2)
BOX_IOU_THRESHOLD = 0.5

# Maps are normalised upstream; a little float slack keeps 1.0000001 from an upsampling legal.
_RANGE_SLACK = 1e-4

Box = tuple[float, float, float, float]


# ----------------------------------------------------------------------------- validation


def _as_map(saliency, name: str = "map") -> np.ndarray:
    arr = np.asarray(saliency)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D H x W array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    # float64 everywhere, so a threshold means the same in the IoU curves and in box_from_map.
    arr = arr.astype(np.float64, copy=False)
    lo, hi = float(arr.min()), float(arr.max())
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} holds NaN or infinite values")
    if lo < -_RANGE_SLACK or hi > 1 + _RANGE_SLACK:
        raise ValueError(f"{name} must be normalised to 0..1 before scoring, got values in {lo:.4g}..{hi:.4g}")
    return arr


def _as_mask(mask, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape} but the map has shape {shape}; resize the map first")
    return arr.astype(bool, copy=False)


def _prepare(saliency, mask, ignore) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    m = _as_map(saliency)
    g = _as_mask(mask, m.shape, "mask")
    ig = None if ignore is None else _as_mask(ignore, m.shape, "ignore")
    return m, g, ig


def _valid_values(m: np.ndarray, g: np.ndarray, ig: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Map values inside and outside the object, ignored pixels dropped."""
    if ig is None:
        return m[g], m[~g]
    keep = ~ig
    return m[g & keep], m[~g & keep]


def _count_ge(sorted_values: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    # Equivalent to (values >= θ).sum() for every θ, in O((n + k) log n) instead of O(n k).
    return sorted_values.size - np.searchsorted(sorted_values, thetas, side="left")


# ----------------------------------------------------------------------------- per-pair scores


def iou_curves(saliency, mask, ignore=None, thetas: Sequence[float] = THETA_GRID) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background IoU (fractions 0..1) of one (map, mask) pair at every θ.

    fg-IoU(θ) = |{map >= θ} ∩ mask| / |{map >= θ} ∪ mask|
    bg-IoU(θ) = |{map < θ} ∩ ~mask| / |{map < θ} ∪ ~mask|
    A union that is empty (both sides empty) counts as perfect agreement, 1.
    """
    m, g, ig = _prepare(saliency, mask, ignore)
    inside, outside = _valid_values(m, g, ig)
    return _iou_from_values(np.sort(inside), np.sort(outside), np.asarray(thetas, np.float64))


def _iou_from_values(inside: np.ndarray, outside: np.ndarray, thetas: np.ndarray):
    n_in, n_out = inside.size, outside.size
    tp = _count_ge(inside, thetas)  # object pixels predicted foreground
    fp = _count_ge(outside, thetas)  # background pixels predicted foreground
    fn = n_in - tp
    tn = n_out - fp
    fg_union = tp + fp + fn
    bg_union = tn + fn + fp
    with np.errstate(invalid="ignore", divide="ignore"):
        fg = np.where(fg_union > 0, tp / np.maximum(fg_union, 1), 1.0)
        bg = np.where(bg_union > 0, tn / np.maximum(bg_union, 1), 1.0)
    return fg.astype(np.float64), bg.astype(np.float64)


def score_contrast(saliency, mask, ignore=None) -> float:
    """Mean of the map inside the mask minus its mean outside (fraction); NaN if either side is empty.

    Positive: the object scores higher than its surroundings. mSC is the mean of this over
    (image, present class) pairs, times 100.
    """
    m, g, ig = _prepare(saliency, mask, ignore)
    inside, outside = _valid_values(m, g, ig)
    if inside.size == 0 or outside.size == 0:
        return float("nan")
    return float(inside.mean() - outside.mean())


def pointing_hit(saliency, mask, ignore=None) -> bool:
    """True when the map's maximum lies inside the mask.

    Ties go to the first maximum in row-major order (numpy's argmax), so a constant map points at
    the top-left pixel. Ignored pixels cannot be pointed at; with every pixel ignored this is False.
    """
    m, g, ig = _prepare(saliency, mask, ignore)
    if ig is not None:
        if ig.all():
            return False
        m = np.where(ig, -np.inf, m)
    return bool(g.flat[int(np.argmax(m))])


def prefers_background(saliency, mask, ignore=None) -> bool:
    """True when the map is on average higher outside the object than inside (score contrast < 0)."""
    sc = score_contrast(saliency, mask, ignore)
    return bool(sc < 0)  # NaN compares False: an undefined contrast prefers nothing


# ----------------------------------------------------------------------------- accumulators


class IoUAccumulator:
    """Mean fg-IoU and mean (fg, bg) IoU over (map, mask) pairs, for every θ of a grid at once.

    Protocol: ONE threshold per method x model x dataset, chosen by grid search over θ = 0, 0.05,
    ..., 1 (THETA_GRID) to maximise the mean IoU over all pairs; the same grid for every method.
    IoU is computed per pair and then averaged (not pooled over the dataset). Pairs whose mask has
    no pixel left after `ignore` are not scored and are counted in `skipped`. Reported in percent.
    """

    def __init__(self, thetas: Sequence[float] = THETA_GRID):
        self.thetas = np.asarray(thetas, np.float64)
        if self.thetas.ndim != 1 or self.thetas.size == 0:
            raise ValueError("thetas must be a non-empty 1-D sequence")
        self._fg = np.zeros(self.thetas.size)
        self._mean = np.zeros(self.thetas.size)
        self.n = 0
        self.skipped = 0

    def add(self, saliency, mask, ignore=None) -> bool:
        """Score one pair; returns False (and counts it as skipped) when the mask has no valid pixel."""
        m, g, ig = _prepare(saliency, mask, ignore)
        inside, outside = _valid_values(m, g, ig)
        return self._add_values(np.sort(inside), np.sort(outside))

    def _add_values(self, inside_sorted: np.ndarray, outside_sorted: np.ndarray) -> bool:
        if inside_sorted.size == 0:
            self.skipped += 1
            return False
        self.add_curves(*_iou_from_values(inside_sorted, outside_sorted, self.thetas))
        return True

    def add_curves(self, fg: np.ndarray, bg: np.ndarray) -> None:
        """One scored pair given as its fg and bg IoU curves over this grid (as iou_curves gives them)."""
        self._fg += fg
        self._mean += (fg + bg) / 2
        self.n += 1

    def result(self) -> dict:
        """best_theta_fg, miou_fg, best_theta_mean, miou_mean (percent), n, skipped and the curves.

        Ties between thresholds go to the smallest θ. With no pair scored the values are NaN.
        """
        out = {"n": self.n, "skipped": self.skipped, "thetas": [float(t) for t in self.thetas]}
        if self.n == 0:
            nan = float("nan")
            out.update(best_theta_fg=nan, miou_fg=nan, best_theta_mean=nan, miou_mean=nan,
                       curve_fg=[nan] * self.thetas.size, curve_mean=[nan] * self.thetas.size)
            return out
        curve_fg = self._fg / self.n * 100
        curve_mean = self._mean / self.n * 100
        i_fg, i_mean = int(np.argmax(curve_fg)), int(np.argmax(curve_mean))
        out.update(
            best_theta_fg=float(self.thetas[i_fg]), miou_fg=float(curve_fg[i_fg]),
            best_theta_mean=float(self.thetas[i_mean]), miou_mean=float(curve_mean[i_mean]),
            curve_fg=[float(v) for v in curve_fg], curve_mean=[float(v) for v in curve_mean],
        )
        return out


class ExplainabilityMeter:
    """All segmentation-based scores of one method x model x dataset, one (map, mask) pair at a time.

    add() one pair per (image, class PRESENT in the image). summary() gives:
      n            pairs scored (pairs with no valid mask pixel are counted in `skipped` instead)
      miou_fg      mean fg-IoU at the single best θ of THETA_GRID, percent; theta_fg that θ
      miou_mean    mean of (fg-IoU + bg-IoU) / 2 at its own best θ, percent; theta_mean that θ
      msc          mean score contrast x 100 over pairs where it is defined (both sides non-empty)
      pointing     fraction of pairs whose map maximum falls inside the mask
      bg_preferred fraction of pairs (with a defined contrast) whose map is higher outside the object
    """

    def __init__(self, thetas: Sequence[float] = THETA_GRID):
        self._iou = IoUAccumulator(thetas)
        self._contrasts: list[float] = []
        self._hits = 0

    @property
    def n(self) -> int:
        return self._iou.n

    @property
    def skipped(self) -> int:
        return self._iou.skipped

    def add(self, saliency, mask, ignore=None) -> dict | None:
        """Score one pair; returns its own scores, or None when it was skipped (empty mask)."""
        return self.add_measured(self.measure(saliency, mask, ignore))

    def measure(self, saliency, mask, ignore=None) -> tuple | None:
        """One pair's scores, not added yet: (fg curve, bg curve, contrast, pointing hit), or None when its
        mask has no valid pixel. A sharded evaluation measures on every rank and adds on each in the
        one-process order (add_measured), so its sums are those of one process to the last bit."""
        m, g, ig = _prepare(saliency, mask, ignore)
        inside, outside = _valid_values(m, g, ig)
        if inside.size == 0:
            return None
        fg, bg = _iou_from_values(np.sort(inside), np.sort(outside), self._iou.thetas)
        contrast = float(inside.mean() - outside.mean()) if outside.size else float("nan")
        return fg, bg, contrast, pointing_hit(m, g, ig)

    def add_measured(self, pair: tuple | None) -> dict | None:
        """Adds what measure() gave; returns the pair's own scores, or None for a skipped pair."""
        if pair is None:
            self._iou.skipped += 1
            return None
        fg, bg, contrast, hit = pair
        self._iou.add_curves(fg, bg)
        self._contrasts.append(contrast)
        self._hits += int(hit)
        return {"score_contrast": contrast, "pointing": hit, "prefers_background": bool(contrast < 0)}

    def summary(self) -> dict:
        iou = self._iou.result()
        contrasts = np.asarray(self._contrasts, np.float64)
        defined = contrasts[np.isfinite(contrasts)]
        nan = float("nan")
        return {
            "n": int(self.n),
            "miou_fg": iou["miou_fg"],
            "theta_fg": iou["best_theta_fg"],
            "miou_mean": iou["miou_mean"],
            "theta_mean": iou["best_theta_mean"],
            "msc": float(defined.mean() * 100) if defined.size else nan,
            "pointing": float(self._hits / self.n) if self.n else nan,
            "bg_preferred": float((defined < 0).mean()) if defined.size else nan,
        }

    def curves(self) -> dict:
        """The per-θ curves behind miou_fg / miou_mean (percent), for plots and reports."""
        iou = self._iou.result()
        return {k: iou[k] for k in ("thetas", "curve_fg", "curve_mean")}


# ----------------------------------------------------------------------------- boxes / MaxBoxAcc


def box_from_map(saliency, theta: float) -> Box | None:
    """Bounding box of the largest 4-connected component of ``map >= theta``; None if nothing is on.

    Ties in area go to the component OpenCV labels first (top-most, then left-most start).
    The box is (x0, y0, x1, y1) with exclusive x1 / y1.
    """
    m = _as_map(saliency)
    return _largest_component_box((m >= float(theta)).astype(np.uint8))


def _largest_component_box(binary: np.ndarray) -> Box | None:
    n, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=4)
    if n <= 1:  # label 0 is the off pixels
        return None
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    x, y, w, h = (int(stats[k, i]) for i in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH,
                                             cv2.CC_STAT_HEIGHT))
    return (x, y, x + w, y + h)


def _check_box(box, name: str = "box") -> tuple[float, float, float, float]:
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be four numbers (x0, y0, x1, y1), got {box!r}") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)) or x1 < x0 or y1 < y0:
        raise ValueError(f"{name} must satisfy x0 <= x1 and y0 <= y1 (x1, y1 exclusive), got {box!r}")
    return x0, y0, x1, y1


def box_iou(a, b) -> float:
    """IoU of two (x0, y0, x1, y1) boxes with exclusive x1 / y1; 0 when the union has no area."""
    ax0, ay0, ax1, ay1 = _check_box(a, "a")
    bx0, by0, bx1, by1 = _check_box(b, "b")
    iw = min(ax1, bx1) - max(ax0, bx0)
    ih = min(ay1, by1) - max(ay0, by0)
    inter = iw * ih if iw > 0 and ih > 0 else 0.0
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return float(inter / union) if union > 0 else 0.0


class MaxBoxAccMeter:
    """MaxBoxAcc (ConVis on CUB-200-2011, after Choe et al. 2020).

    For every θ in 0, 0.01, ..., 0.99: threshold the map (``map >= θ``), keep the largest
    4-connected component, take its bounding box; the image is a hit at θ when that box has
    IoU >= 0.5 with ANY ground-truth box. MaxBoxAcc = max over θ of the hit rate (percent);
    one θ for the whole dataset.
    """

    def __init__(self, thetas: Sequence[float] = BOX_THETAS, iou_threshold: float = BOX_IOU_THRESHOLD):
        self.thetas = np.asarray(thetas, np.float64)
        if self.thetas.ndim != 1 or self.thetas.size == 0:
            raise ValueError("thetas must be a non-empty 1-D sequence")
        self.iou_threshold = float(iou_threshold)
        self._hits = np.zeros(self.thetas.size, np.int64)
        self.n = 0

    def add(self, saliency, gt_boxes: Iterable) -> np.ndarray:
        """Score one image against its ground-truth boxes; returns the per-θ hits (bool array)."""
        m = _as_map(saliency)
        boxes = [_check_box(b, "ground-truth box") for b in gt_boxes]
        if not boxes:
            raise ValueError("MaxBoxAcc needs at least one ground-truth box per image")
        # Neighbouring thresholds often switch on exactly the same pixels; reuse the verdict then.
        on_counts = _count_ge(np.sort(m, axis=None), self.thetas)
        hits = np.zeros(self.thetas.size, bool)
        last_count, last_hit = -1, False
        for i, theta in enumerate(self.thetas):
            if on_counts[i] != last_count:
                box = _largest_component_box((m >= theta).astype(np.uint8)) if on_counts[i] else None
                last_hit = box is not None and any(box_iou(box, b) >= self.iou_threshold for b in boxes)
                last_count = on_counts[i]
            hits[i] = last_hit
        self._hits += hits
        self.n += 1
        return hits

    def counts(self) -> tuple[np.ndarray, int]:
        """(hits per θ, images scored): what result() is made of. Counts of meters over disjoint sets of
        images add up exactly (add_counts), so a sharded evaluation reports what one process does."""
        return self._hits.copy(), self.n

    def add_counts(self, hits: np.ndarray, n: int) -> None:
        self._hits += np.asarray(hits, np.int64)
        self.n += int(n)

    def result(self) -> dict:
        """maxboxacc (percent), best_theta (smallest θ on ties), n, and the accuracy curve (percent)."""
        if self.n == 0:
            nan = float("nan")
            return {"n": 0, "maxboxacc": nan, "best_theta": nan, "thetas": [float(t) for t in self.thetas],
                    "curve": [nan] * self.thetas.size}
        curve = self._hits / self.n * 100
        i = int(np.argmax(curve))
        return {"n": self.n, "maxboxacc": float(curve[i]), "best_theta": float(self.thetas[i]),
                "thetas": [float(t) for t in self.thetas], "curve": [float(v) for v in curve]}


# ----------------------------------------------------------------------------- OOD


def auroc(scores_in, scores_out) -> float:
    """Area under the ROC curve for telling in-distribution (higher score) from out-of-distribution.

    Mann-Whitney form: P(s_in > s_out) + 0.5 P(s_in == s_out) over all pairs, via mid-ranks, so
    ties count half. 1 = every in-score above every out-score, 0 = the reverse, 0.5 = chance.
    """
    a = np.asarray(scores_in, np.float64).ravel()
    b = np.asarray(scores_out, np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("auroc needs at least one in-distribution and one out-of-distribution score")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("auroc scores must be finite")
    both = np.concatenate([a, b])
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    # Mid-rank of each distinct value: the ranks it spans are start+1 .. start+count.
    starts = np.cumsum(counts) - counts
    mid_ranks = starts + (counts + 1) / 2.0
    rank_sum_in = mid_ranks[inverse[: a.size]].sum()
    u = rank_sum_in - a.size * (a.size + 1) / 2.0
    return float(u / (a.size * b.size))


# ----------------------------------------------------------------------------- reporting


def _is_float(v) -> bool:
    return isinstance(v, (float, np.floating))


def _column_decimals(values: list) -> int:
    finite = [float(v) for v in values if _is_float(v) and math.isfinite(float(v))]
    # Fractions and thresholds need three places to differ; percents read best with one.
    return 3 if finite and all(abs(v) <= 1 for v in finite) else 1


def _cell(v, decimals: int) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if _is_float(v):
        return "-" if not math.isfinite(float(v)) else f"{float(v):.{decimals}f}"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return str(v)


def format_table(rows: list[dict], columns: list[str]) -> str:
    """Aligned plain-text table: text left-aligned, numbers right-aligned, NaN shown as '-'.

    Float columns whose values all lie in -1..1 (fractions, thresholds) get 3 decimals, other float
    columns (percents) 1 decimal. Missing keys give empty cells.
    """
    columns = list(columns)
    decimals = {c: _column_decimals([r.get(c) for r in rows]) for c in columns}
    numeric = {c: all(r.get(c) is None or isinstance(r.get(c), (int, float, np.number)) for r in rows)
                  and any(r.get(c) is not None for r in rows) for c in columns}
    cells = [[_cell(r.get(c), decimals[c]) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if numeric[c] else v.ljust(w) for v, w, c in zip(values, widths, columns)]
        return "  ".join(parts).rstrip()

    out = [line(columns), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    return "\n".join(out)

"""The geometry of ConVis (Algorithm 1): noise-padded canvas, windows, and their coverage.

Everything is laid out on the paper's 224 px canvas whatever the model's input
size: the centre square of the image is resized to ``size`` (224), padded by
``pad`` (128) px of seeded uniform noise on every side, and square windows of
128 and 64 px slide over the padded canvas with stride 16, each placed so that
it lies wholly inside the canvas. Each window is then resized to the model's
own input (for a 64 px model a 128 px window is shrunk, for ViT-B/32 at 224 it
is enlarged). Keeping the paper's geometry fixed, rather than scaling it by
``input/224``, keeps the numbers exact (64/224·16 is not an integer) and makes
maps of different models comparable; ``WindowParams.scaled`` exists for
callers who want a smaller canvas (the tests' brute-force reference uses one).

Windows that lie entirely in the noise border cover no pixel of the final map
(it is cropped back to the centre), so they are not generated; this drops 528
of the 1,258 grid windows and changes no output value.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import cv2
import numpy as np

GRID = "grid"
STOCHASTIC = "stochastic"
MODES = (GRID, STOCHASTIC)


@dataclass(frozen=True)
class WindowParams:
    """Algorithm 1's numbers plus the options this implementation adds.

    ``average``: divide each pixel's accumulated rank by the number of windows
    covering it. The paper accumulates (sums). On the grid with the paper's
    padding every pixel of the centre is covered by exactly the same number of
    windows (8·8 + 4·4 = 80), so both give the same normalised map; averaging
    matters where coverage is uneven (the stochastic variant, other
    geometries), where a plain sum would brighten or darken the borders.
    Default: True.
    ``coarse_stride``: the coarse-to-fine pass first encodes the windows on
    this stride (a sub-grid of ``stride``), then the rest.
    ``n_random`` / ``size_range``: the stochastic variant draws this many
    windows (0: as many as the grid has) with sides uniform in ``size_range``
    (default: the smallest to the largest grid window) at uniform positions.
    """

    size: int = 224
    pad: int = 128
    windows: tuple[int, ...] = (128, 64)
    stride: int = 16
    seed: int = 0
    mode: str = GRID
    average: bool = True
    coarse_stride: int = 32
    n_random: int = 0
    size_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown ConVis mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.size < 8 or self.pad < 0 or self.stride < 1 or not self.windows:
            raise ValueError("ConVis needs size >= 8, pad >= 0, stride >= 1 and at least one window size")
        if any(w < 1 or w > self.canvas for w in self.windows):
            raise ValueError(f"window sizes must lie in 1..{self.canvas} (the padded canvas)")
        if self.coarse_stride % self.stride:
            raise ValueError("coarse_stride must be a multiple of stride (its windows are a subset)")

    @property
    def canvas(self) -> int:
        return self.size + 2 * self.pad

    def scaled(self, size: int) -> "WindowParams":
        """The same layout for a ``size`` px canvas: every length times size/224, rounded."""
        f = size / self.size
        r = lambda v: max(1, int(round(v * f)))  # noqa: E731
        stride = r(self.stride)
        return replace(self, size=size, pad=int(round(self.pad * f)), windows=tuple(r(w) for w in self.windows),
                       stride=stride, coarse_stride=stride * max(1, self.coarse_stride // self.stride),
                       size_range=None if self.size_range is None else tuple(r(v) for v in self.size_range))

    def as_dict(self) -> dict:
        d = asdict(self)
        d["windows"] = list(self.windows)
        d["size_range"] = list(self.size_range) if self.size_range else None
        return d

    def key(self) -> tuple:
        # coarse_stride only changes the order of work, never a value.
        return (self.size, self.pad, self.windows, self.stride, self.seed, self.mode,
                self.n_random, self.size_range)


def centre_crop_box(height: int, width: int) -> tuple[int, int, int]:
    """(x0, y0, side) of the largest centred square."""
    side = min(height, width)
    return (width - side) // 2, (height - side) // 2, side


def resize_window(img: np.ndarray, side: int) -> np.ndarray:
    if img.shape[0] == side and img.shape[1] == side:
        return img
    # Area averaging when shrinking avoids aliasing; bicubic when enlarging, as CLIP's preprocessing.
    interp = cv2.INTER_AREA if img.shape[0] > side else cv2.INTER_CUBIC
    return cv2.resize(img, (side, side), interpolation=interp)


def make_canvas(rgb: np.ndarray, params: WindowParams) -> np.ndarray:
    """The centre square resized to ``size``, framed by ``pad`` px of seeded uniform noise."""
    x0, y0, side = centre_crop_box(rgb.shape[0], rgb.shape[1])
    centre = resize_window(np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side]), params.size)
    rng = np.random.default_rng(params.seed)
    canvas = rng.integers(0, 256, (params.canvas, params.canvas, 3), dtype=np.uint8)
    canvas[params.pad:params.pad + params.size, params.pad:params.pad + params.size] = centre
    return canvas


def _positions(params: WindowParams, side: int, stride: int) -> np.ndarray:
    # Every multiple of the stride at which the window fits the canvas and touches the centre.
    lo, hi = params.pad - side + 1, params.pad + params.size - 1
    pos = np.arange(0, params.canvas - side + 1, stride)
    return pos[(pos >= lo) & (pos <= hi)]


def grid_boxes(params: WindowParams, stride: int | None = None) -> np.ndarray:
    """(N, 3) int32 rows (x0, y0, side) on the padded canvas: sizes in order, then rows, then columns."""
    stride = stride or params.stride
    rows = []
    for side in params.windows:
        pos = _positions(params, side, stride)
        ys, xs = np.meshgrid(pos, pos, indexing="ij")
        rows.append(np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, side)], axis=1))
    return np.concatenate(rows).astype(np.int32)


def random_boxes(params: WindowParams) -> np.ndarray:
    """The stochastic variant: seeded random sides and positions, each touching the centre."""
    n = params.n_random or len(grid_boxes(params))
    lo, hi = params.size_range or (min(params.windows), max(params.windows))
    # A stream of its own, so that the windows do not shift when the noise changes shape.
    rng = np.random.default_rng([params.seed, 1])
    sides = rng.integers(lo, hi + 1, n)
    first = np.maximum(0, params.pad - sides + 1)
    last = np.minimum(params.canvas - sides, params.pad + params.size - 1)
    xs = first + (rng.random(n) * (last - first + 1)).astype(np.int64)
    ys = first + (rng.random(n) * (last - first + 1)).astype(np.int64)
    return np.stack([xs, ys, sides], axis=1).astype(np.int32)


def window_boxes(params: WindowParams) -> np.ndarray:
    return grid_boxes(params) if params.mode == GRID else random_boxes(params)


def coarse_rows(boxes: np.ndarray, params: WindowParams) -> np.ndarray:
    """Boolean mask of the windows on the coarse sub-grid (all of them for the stochastic variant)."""
    if params.mode != GRID:
        return np.ones(len(boxes), bool)
    c = params.coarse_stride
    return (boxes[:, 0] % c == 0) & (boxes[:, 1] % c == 0)


def crop_windows(canvas: np.ndarray, boxes: np.ndarray, out_size: int) -> np.ndarray:
    """(n, out, out, 3) uint8: each window cut from the canvas and resized to the model input."""
    out = np.empty((len(boxes), out_size, out_size, 3), np.uint8)
    for i, (x, y, s) in enumerate(boxes):
        out[i] = resize_window(canvas[y:y + s, x:x + s], out_size)
    return out


class Coverage:
    """Sums per-window values over the pixels each window covers, inside the centre only.

    Each window becomes four corner entries of a difference array (clipped to
    the centre); two cumulative sums then give every pixel's total. That is
    O(windows + pixels), a fraction of a millisecond per map, instead of
    adding a 128x128 block per window.
    """

    def __init__(self, boxes: np.ndarray, params: WindowParams):
        n = params.size
        x0 = np.clip(boxes[:, 0] - params.pad, 0, n)
        y0 = np.clip(boxes[:, 1] - params.pad, 0, n)
        x1 = np.clip(boxes[:, 0] + boxes[:, 2] - params.pad, 0, n)
        y1 = np.clip(boxes[:, 1] + boxes[:, 2] - params.pad, 0, n)
        w = n + 1
        self.size = n
        self.rects = np.stack([x0, y0, x1, y1], axis=1)
        self._corners = np.concatenate([y0 * w + x0, y0 * w + x1, y1 * w + x0, y1 * w + x1])
        self._signs = np.repeat(np.array([1.0, -1.0, -1.0, 1.0]), len(boxes))
        self.count = self.accumulate(np.ones(len(boxes)))

    def accumulate(self, values: np.ndarray) -> np.ndarray:
        """(size, size) float64: for each centre pixel, the sum of the values of its windows."""
        n = self.size
        weights = self._signs * np.tile(np.asarray(values, np.float64), 4)
        diff = np.bincount(self._corners, weights, minlength=(n + 1) * (n + 1)).reshape(n + 1, n + 1)
        return diff.cumsum(0).cumsum(1)[:n, :n]

    def pixel_weights(self, average: bool) -> np.ndarray:
        """Per window: its share of the mean over the centre of the (averaged or summed) map.

        The mean of the map is linear in the window values, mean = w · r, so a
        concept's map mass over a whole set of concepts is one matrix product.
        """
        cnt = self.count
        per_pixel = np.where(cnt > 0, 1.0 / np.maximum(cnt, 1), 0.0) if average else np.ones_like(cnt)
        sat = np.zeros((self.size + 1, self.size + 1))
        sat[1:, 1:] = per_pixel.cumsum(0).cumsum(1)
        x0, y0, x1, y1 = self.rects.T
        area = sat[y1, x1] - sat[y0, x1] - sat[y1, x0] + sat[y0, x0]
        return area / float(self.size * self.size)

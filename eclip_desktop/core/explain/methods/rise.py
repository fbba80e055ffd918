"""RISE (Petsiuk et al. 2018, METHODS §RISE): the image under N random soft masks; the map is the
masks weighted by how much the masked image still matches the text.

As the authors' code (`generate_masks`/`forward`, and Grad-ECLIP's `rise()` for CLIP): N binary
s x s grids, each cell kept with probability p, bilinearly upsampled to (s + 1) x cell size and cropped
at a random shift to the input size S. Masked inputs are `pixels * mask` in the normalised space, so a
masked-out pixel is 0 there: the normalisation mean colour. saliency_t = sum_i cos(emb_i, text_t) M_i / (N p).

The masks come from `numpy.random.default_rng(seed)` alone (no global RNG), so a seed gives the same map
on any run and machine; `method_options` records it for `reproduce`. The N masked embeddings depend on
the image only and are memoised on the analysis: another text costs one product with the masks.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from eclip_desktop.core.explain.methods.base import Method, Option
from eclip_desktop.core.lazy import lazy
from eclip_desktop.core.model.kinds import ALL_KINDS

if TYPE_CHECKING:
    import numpy as np
    import torch
else:
    # Imported on first use: the CLI's parser and the window read this module's constants before torch.
    torch = lazy("torch")
    np = lazy("numpy")

# Masked copies per encoder call (Grad-ECLIP's batch); masks are rendered per batch, never all at once
# (2000 masks at 224 px would be 400 MB per image).
BATCH = 50

METHOD = Method(
    "rise", "RISE", "random input masks weighted by the masked image's similarity to the text (Petsiuk et al.)",
    module="rise", needs="forwards", slow=True, kinds=ALL_KINDS,  # forwards only: any tower
    hint="Thousands of masked forwards for the first map of an image; other texts reuse them.",
    options=(
        Option("masks", int, 2000, "masks", "number of random masks N", minimum=1, maximum=100_000),
        Option("cells", int, 8, "cells", "mask grid size s (s x s cells)", minimum=2, maximum=64),
        Option("keep", float, 0.5, "keep probability", "probability p that a cell is kept", minimum=0.01, maximum=1.0),
        Option("seed", int, 0, "seed", "seed of the masks (the same seed gives the same map)", minimum=0),
    ))


class MaskSet:
    """The N masks of one (seed, N, s, p, S): grids and shifts drawn up front (small), masks rendered
    on demand by batch, identical every time they are asked for."""

    def __init__(self, masks: int, cells: int, keep: float, seed: int, size: int):
        self.n, self.cells, self.keep, self.size = masks, cells, keep, size
        self.cell = -(-size // cells)  # ceil(S / s), as the authors
        rng = np.random.default_rng(seed)
        self.grids = (rng.random((masks, cells, cells)) < keep).astype(np.float32)
        self.shifts = rng.integers(0, self.cell, size=(masks, 2))
        self.weights = upsample_weights(cells, (cells + 1) * self.cell)

    def render(self, start: int, stop: int, device=None) -> torch.Tensor:
        """(stop - start, S, S) float32 masks in [0, 1]."""
        rows = torch.from_numpy(self.shifts[start:stop, :, None] + np.arange(self.size)[None, None])  # (B, 2, S)
        w = torch.from_numpy(self.weights).to(device)
        wy, wx = w[rows[:, 0].to(device)], w[rows[:, 1].to(device)]  # (B, S, s) each
        grids = torch.from_numpy(self.grids[start:stop]).to(device)
        return wy @ grids @ wx.transpose(1, 2)


def upsample_weights(cells: int, size: int):
    """(size, cells) weights of linear interpolation from `cells` to `size` samples, pixel centres
    aligned (half-pixel offset) and the edges mirrored about the outer cell centres: what the authors'
    `skimage.transform.resize(order=1, mode='reflect')` does along each axis."""
    c = (np.arange(size) + 0.5) * cells / size - 0.5
    c = np.abs(c)
    c = np.where(c > cells - 1, 2 * (cells - 1) - c, c)
    lo = np.floor(c).astype(np.int64)
    frac = (c - lo).astype(np.float32)
    hi = np.minimum(lo + 1, cells - 1)
    w = np.zeros((size, cells), np.float32)
    rows = np.arange(size)
    np.add.at(w, (rows, lo), 1.0 - frac)
    np.add.at(w, (rows, hi), frac)
    return w


def _encoder(handle, size: int):
    """Whole-image embeddings of a batch. At the model's own input size that is `encode_image`; at
    another size open_clip's towers refuse the input (fixed positional embeddings), so the dense pass's
    pooled embedding (the same readout, positional embedding resized) stands in."""
    if size == handle.image_size:
        return handle.model.encode_image
    from eclip_desktop.core.model.features import dense_forward
    return lambda x: dense_forward(handle.visual, handle.kind, x).pooled


def masked_embeddings(job, masks: MaskSet) -> torch.Tensor:
    """(N, D) normalised float32 CPU embeddings of the masked inputs, reporting progress per batch."""
    analysis = job.analysis
    handle = analysis.handle
    pixels = analysis.pixels()
    encode = _encoder(handle, analysis.input_size)
    out = []
    for start in range(0, masks.n, BATCH):
        stop = min(start + BATCH, masks.n)
        m = masks.render(start, stop, pixels.device).to(pixels.dtype)
        with handle.lock, torch.no_grad():
            emb = encode(pixels * m[:, None])
        out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu())
        job.report(stop, masks.n)
    return torch.cat(out)


def scores(job, masks: int = 2000, cells: int = 8, keep: float = 0.5, seed: int = 0, **_) -> torch.Tensor:
    """(T, S, S) saliency on the input's pixels."""
    analysis = job.analysis
    size = analysis.input_size
    mask_set = MaskSet(masks, cells, keep, seed, size)
    emb = analysis.memo(("rise", masks, cells, keep, seed), lambda: masked_embeddings(job, mask_set))
    weights = emb @ job.texts.float().T  # (N, T) cosines
    device = analysis.handle.device
    sal = torch.zeros(weights.shape[1], size * size, device=device)
    for start in range(0, masks, BATCH):
        stop = min(start + BATCH, masks)
        m = mask_set.render(start, stop, device).reshape(stop - start, -1)
        sal += weights[start:stop].T.to(device) @ m
    return (sal / (masks * keep)).reshape(-1, size, size).cpu()

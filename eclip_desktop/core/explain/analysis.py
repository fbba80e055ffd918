"""ImageAnalysis: everything the image encoder yields for one (image, model, input size), computed
once. Switching text, pooling readout or method reuses it; only `encode_images` runs the encoder."""
from __future__ import annotations

import threading

import numpy as np
import torch
from PIL import Image

from eclip_desktop.core.model.features import (
    DenseFeatures,
    encode_dense,
    surgery_tokens,
)
from eclip_desktop.core.model.poolings import POOLINGS, PoolingReadout


def preprocess(rgb: np.ndarray, size: int, mean, std) -> torch.Tensor:
    """Whole image to the model's square input (bicubic, no centre crop), CLIP normalisation."""
    img = Image.fromarray(rgb).resize((size, size), Image.Resampling.BICUBIC)
    x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


class ImageAnalysis:
    """Cached encoder outputs for one image. Thread-safe lazy members (surgery path, readouts)."""

    def __init__(self, handle, image, input_size: int, tokens, pooled, free_attention, grid, states):
        self.handle = handle
        self.image = image
        self.input_size = input_size
        self.tokens: torch.Tensor = tokens  # (N, D)
        self.pooled: torch.Tensor = pooled  # (D,)
        self.free_attention: torch.Tensor = free_attention  # (N,)
        self.grid: tuple[int, int] = grid
        # Per-image slices, model device/dtype, of what the encoder's pass kept for later methods:
        # ViT: the inputs of the last SURGERY_DEPTH blocks (states[-1] enters the last block);
        # ResNet: the attention pool's input tokens, then layer4's output (B, C, h, w).
        self.states = states
        self._surgery: torch.Tensor | None = None
        self._readouts: dict[tuple, PoolingReadout] = {}
        self._memo: dict = {}
        self._lock = threading.Lock()
        self._memo_lock = threading.Lock()

    def pixels(self) -> torch.Tensor:
        """The (1, 3, S, S) input the encoder saw, on the model's device and dtype (for methods that
        run the model again: gradients through early blocks, masked copies)."""
        h = self.handle
        return preprocess(self.image.rgb, self.input_size, h.mean, h.std)[None].to(device=h.device, dtype=h.dtype)

    def memo(self, key, compute):
        """compute() once per key for this image: what a method derives from the image alone (rollout's
        attention, RISE's masked forwards) is reused when the text changes."""
        with self._memo_lock:
            if key not in self._memo:
                self._memo[key] = compute()
            return self._memo[key]

    def surgery_tokens(self) -> torch.Tensor:
        with self._lock:
            if self._surgery is None:
                with self.handle.lock:
                    self._surgery = surgery_tokens(self.handle.visual, self.handle.kind, self.states)[0]
            return self._surgery

    def readout(self, pooling: str, tau: str = "mean", topk: float = 0.25) -> PoolingReadout:
        key = (pooling, tau, topk)
        with self._lock:
            if key not in self._readouts:
                if pooling not in POOLINGS:
                    raise ValueError(f"unknown pooling '{pooling}'")
                self._readouts[key] = POOLINGS[pooling].readout(self.tokens, self.pooled, self.free_attention,
                                                                tau=tau, topk=topk)
            return self._readouts[key]

    def grid_map(self, values: torch.Tensor) -> np.ndarray:
        return values.detach().float().cpu().reshape(self.grid).numpy()


def encode_images(handle, images: list, input_size: int | None = None) -> list[ImageAnalysis]:
    """Run the image encoder once on a batch of loaded images."""
    size = int(input_size or handle.image_size)
    batch = torch.stack([preprocess(im.rgb, size, handle.mean, handle.std) for im in images])
    with handle.lock:
        feats: DenseFeatures = encode_dense(handle.visual, handle.kind,
                                            batch.to(device=handle.device, dtype=handle.dtype))
    return [ImageAnalysis(handle, im, size, feats.tokens[i], feats.pooled[i], feats.free_attention[i],
                          feats.grid, [s[i:i + 1] for s in feats.surgery_states])
            for i, im in enumerate(images)]

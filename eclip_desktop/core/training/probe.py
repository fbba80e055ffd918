"""The zero-shot probe of --eval-every: top-1 shape accuracy on held-out Shapes World scenes."""
from __future__ import annotations

import numpy as np
import torch

from eclip_desktop.core.training.batches import pixels
from eclip_desktop.core.training.config import TrainConfig
from eclip_desktop.core.training.objective import pooled_for_training


class ZeroShotProbe:
    """Top-1 shape accuracy on held-out single-object scenes, with the pooling being trained."""

    def __init__(self, tokenizer, size: int, device, count: int = 256):
        from eclip_desktop.core.evaluation.evaluate import HELD_OUT_SEED
        from eclip_desktop.core.shapes import class_names, generate_scene, prompt_for
        scenes = [generate_scene(HELD_OUT_SEED + 1, i, size=size, n_objects=1) for i in range(count)]
        self.classes = class_names()
        self.images = np.stack([s.image for s in scenes])
        self.labels = torch.tensor([self.classes.index(s.objects[0].shape) for s in scenes])
        self.prompts = tokenizer([prompt_for(c) for c in self.classes]).to(device)
        self.device = device

    @torch.no_grad()
    def __call__(self, model, kind: str, cfg: TrainConfig, guide=None) -> float:
        was_training = model.training
        model.eval()
        txt = torch.nn.functional.normalize(model.encode_text(self.prompts).float(), dim=-1)
        img = pooled_for_training(model.visual, kind, pixels(self.images, self.device), cfg.pooling,
                                  cfg.tau, cfg.topk, guide)
        pred = (torch.nn.functional.normalize(img.float(), dim=-1) @ txt.T).argmax(1).cpu()
        model.train(was_training)
        return float((pred == self.labels).float().mean())

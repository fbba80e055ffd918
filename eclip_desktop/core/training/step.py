"""One optimisation step: the pooled image embedding and the caption embeddings, the contrastive loss,
backward, gradients averaged across ranks and clipped, the update."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from eclip_desktop.core.model.text import encode_text_trimmed
from eclip_desktop.core.training.batches import pixels
from eclip_desktop.core.training.config import TrainConfig, TrainingError, lr_at
from eclip_desktop.core.training.distributed import average_gradients
from eclip_desktop.core.training.objective import contrastive_loss, pooled_for_training


@dataclass
class TrainStep:
    model: torch.nn.Module
    guide: torch.nn.Module | None  # frozen visual tower giving free attention (fine-tuning), else None
    kind: str
    params: list
    opt: torch.optim.Optimizer
    cfg: TrainConfig
    device: torch.device
    world: int

    def __call__(self, step: int, images, tokens: torch.Tensor, ids: torch.Tensor) -> tuple[float, float]:
        """Trains on one batch; returns (loss, batch retrieval accuracy)."""
        cfg, model, device = self.cfg, self.model, self.device
        for g in self.opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        amp = cfg.amp and device.type == "cuda"
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            img = pooled_for_training(model.visual, self.kind, pixels(images, device), cfg.pooling, cfg.tau, cfg.topk,
                                      self.guide)
            with torch.set_grad_enabled(not cfg.pretrained):  # a fine-tune keeps the text tower frozen
                txt = encode_text_trimmed(model, tokens.to(device))
        loss, acc = contrastive_loss(img, txt, model.logit_scale, ids.to(device))
        if not math.isfinite(float(loss.detach())):
            # Weights that went NaN/inf would be saved as a model that explains nothing: stop, write nothing.
            raise TrainingError(f"the loss became {float(loss.detach())} at step {step + 1} (learning rate "
                                f"{lr_at(step, cfg):g}); nothing was written: lower --lr")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(self.params, self.world)
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        return float(loss.detach()), float(acc)

"""The training objective (METHODS §3): an image embedding pooled by any registered pooling's batched
form, L2-normalised, against caption embeddings with a symmetric InfoNCE. Poolings that keep tokens by
free attention take it from the model itself (from scratch) or from a frozen copy of the original
(fine-tuning: `guide`)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from eclip_desktop.core.model.features import dense_forward
from eclip_desktop.core.model.poolings import get_pooling


def pooled_for_training(visual, kind: str, pixels: torch.Tensor, pooling: str, tau: str = "mean",
                        topk: float = 0.25, guide=None) -> torch.Tensor:
    """(B, D) image embeddings under `pooling`; `guide` is a frozen visual tower for free attention."""
    unit = get_pooling(pooling)
    feats = dense_forward(visual, kind, pixels)
    attention = feats.free_attention.detach()
    if unit.uses_free_attention and guide is not None:
        with torch.no_grad():
            attention = dense_forward(guide, kind, pixels).free_attention
    return unit.batched(feats.tokens, feats.pooled, attention, tau=tau, topk=topk)


def caption_targets(caption_ids: torch.Tensor) -> torch.Tensor:
    """Row-normalised positives: identical captions in a batch are not each other's negatives."""
    same = (caption_ids[:, None] == caption_ids[None, :]).float()
    return same / same.sum(1, keepdim=True)


def contrastive_loss(image_emb: torch.Tensor, text_emb: torch.Tensor, logit_scale: torch.Tensor,
                     caption_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric InfoNCE with soft targets; returns (loss, batch retrieval accuracy)."""
    img = F.normalize(image_emb.float(), dim=-1)
    txt = F.normalize(text_emb.float(), dim=-1)
    logits = logit_scale.exp().clamp(max=100) * img @ txt.T
    targets = caption_targets(caption_ids)
    loss = 0.5 * (torch.sum(-targets * F.log_softmax(logits, 1), 1).mean()
                  + torch.sum(-targets * F.log_softmax(logits.T, 1), 1).mean())
    hit = targets.gather(1, logits.argmax(1, keepdim=True)).squeeze(1) > 0
    return loss, hit.float().mean()

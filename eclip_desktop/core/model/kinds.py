"""The kinds of image tower the dense features know (DenseFeatures.kind, ModelHandle.kind).

Methods declare per kind whether they apply (`Method.kinds`, `Method.refuses`), so the names live
here, importable without torch: the window reads the method declarations before torch is loaded.
"""
from __future__ import annotations

VIT = "vit"  # open_clip VisionTransformer: class token or average pooling
RESNET = "resnet"  # open_clip ModifiedResNet: attention pool
TIMM_VIT_MAP = "timm-vit-map"  # timm ViT/EVA with a MAP attention-pool head (SigLIP, SigLIP2, PE-Core)
TIMM_VIT_CLS = "timm-vit-cls"  # timm ViT/EVA pooled by its class token (EVA01/02, MobileCLIP-B, MobileCLIP2-L)
TIMM_VIT_AVG = "timm-vit-avg"  # timm ViT averaging its patch tokens (ViTamin)
TIMM_CONV = "timm-conv"  # timm ConvNeXt / FastViT (MobileCLIP-S): global average pool of the last feature map

OPEN_CLIP_KINDS = (VIT, RESNET)
TIMM_ATTENTION_KINDS = (TIMM_VIT_MAP, TIMM_VIT_CLS, TIMM_VIT_AVG)
TIMM_KINDS = (*TIMM_ATTENTION_KINDS, TIMM_CONV)
ALL_KINDS = (*OPEN_CLIP_KINDS, *TIMM_KINDS)


"""The text tokenizer of an architecture, with one clear line when it cannot be built.

Most open_clip architectures tokenize with open_clip's own BPE files, shipped in the wheel. SigLIP,
SigLIP2, CLIPA, the worldwide and the multilingual models name a Hugging Face tokenizer instead: it
needs the optional `transformers` package (`pip install "eclip-desktop[hf]"`) and the tokenizer's
files, downloaded once from the hub (offline afterwards).
"""
from __future__ import annotations

import open_clip

from eclip_desktop.core.errors import ModelError


def hf_tokenizer_name(architecture: str) -> str | None:
    """The Hugging Face tokenizer an architecture names, or None for open_clip's own."""
    cfg = open_clip.get_model_config(architecture) or {}
    text = cfg.get("text_cfg", {}) or {}
    return text.get("hf_tokenizer_name") or None


def build_tokenizer(architecture: str):
    name = hf_tokenizer_name(architecture)
    try:
        return open_clip.get_tokenizer(architecture)
    except ImportError as exc:
        if name is None:
            raise
        raise ModelError(f"{architecture} tokenizes text with the Hugging Face tokenizer {name}, which needs the "
                         "transformers package: pip install \"eclip-desktop[hf]\" (or pip install transformers), then "
                         f"load the model once while connected to fetch the tokenizer files of huggingface.co/{name}") from exc
    except (OSError, ValueError) as exc:
        if name is None:
            raise
        raise ModelError(f"the tokenizer files of {architecture} (huggingface.co/{name}) are not downloaded and the "
                         "hub cannot be reached: load the model once while connected (they are cached afterwards)") from exc

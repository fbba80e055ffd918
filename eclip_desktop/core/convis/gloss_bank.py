"""Gloss embeddings of a concept set for one model, encoded once and kept on disk.

A bank holds, for every synset of a concept set (in the set's sorted order), the
L2-normalised text embedding of its WordNet definition alone, with no prompt
template. The glosses never change, so the bank is computed once per (model,
concept set) and stored as safetensors under ``<cache>/convis``; reopening it
is a single memory read.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from eclip_desktop.core.errors import CancelledError
from eclip_desktop.core.io.atomic import atomic_write_bytes
from eclip_desktop.core.io.paths import user_cache_dir
from eclip_desktop.core.model.text import encode_text_trimmed

#: Bump when what a bank file holds or means changes; older files are then ignored.
BANK_FORMAT = 1

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


def convis_cache_dir() -> Path:
    """``$ECLIP_DESKTOP_CACHE/convis`` or ``$XDG_CACHE_HOME/eclip-desktop/convis``."""
    return user_cache_dir() / "convis"


def default_batch_size(device: torch.device) -> int:
    # CPU throughput flattens out early while memory keeps growing; GPUs want big batches.
    return 256 if device.type == "cuda" else 64


def weights_fingerprint(handle) -> str:
    """A short hash of the text tower's output weights.

    ``handle.identity`` names the weights (``arch:tag`` or a file); for
    ``random`` weights every load differs, so the identity alone would let one
    random model reuse another one's bank. The projection is small enough to
    hash in milliseconds.
    """
    model = handle.model
    tensor = getattr(model, "text_projection", None)
    if isinstance(tensor, torch.nn.Linear):
        tensor = tensor.weight
    if not isinstance(tensor, torch.Tensor):
        tensor = next(model.parameters())
    data = tensor.detach().float().cpu().contiguous().numpy().tobytes()
    return hashlib.sha1(data).hexdigest()[:16]


def bank_key(handle, concept_set) -> str:
    raw = f"{BANK_FORMAT}|{handle.identity}|{weights_fingerprint(handle)}|{concept_set.content_hash}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()[:24]


@dataclass(frozen=True, eq=False)
class GlossBank:
    """(|T|, D) float32 unit vectors; row i is ``concept_set.synsets[i]``."""

    identity: str
    set_name: str
    set_hash: str
    synsets: tuple[str, ...]
    embeddings: np.ndarray
    path: Path | None
    from_cache: bool
    encode_calls: int = 0

    def __len__(self) -> int:
        return len(self.synsets)


@torch.no_grad()
def encode_glosses(handle, glosses: list[str], batch_size: int | None = None,
                   progress: Progress | None = None, cancelled: Cancelled | None = None) -> tuple[np.ndarray, int]:
    """Unit-norm embeddings of ``glosses`` and the number of encoder calls made.

    Goes straight to the tokenizer rather than through ``TextBank``: that
    class validates *user prompts* and rejects any text over the context
    length, while glosses are fixed data. A few WordNet definitions are longer
    than CLIP's 77 tokens; open_clip's tokenizer cuts them (keeping the end
    token), and the model sees their first 75 tokens, which carry the genus.
    """
    batch = batch_size or default_batch_size(handle.device)
    total = len(glosses)
    if total == 0:
        return np.zeros((0, 0), np.float32), 0
    # Batches of similar length: the trimmed encoder runs only up to each batch's longest gloss.
    order = sorted(range(total), key=lambda i: len(glosses[i]))
    out: list[torch.Tensor] = []
    calls = 0
    for start in range(0, total, batch):
        if cancelled is not None and cancelled():
            raise CancelledError(f"cancelled after encoding {start} of {total} glosses")
        tokens = handle.tokenizer([glosses[i] for i in order[start:start + batch]]).to(handle.device)
        with handle.lock:
            emb = encode_text_trimmed(handle.model, tokens)
        calls += 1
        out.append(torch.nn.functional.normalize(emb.float(), dim=-1).cpu())
        if progress is not None:
            progress(min(start + batch, total), total)
    result = np.empty((total, out[0].shape[1]), np.float32)
    result[order] = torch.cat(out).numpy()
    return result, calls


def _read(path: Path, key: str, synsets: tuple[str, ...]) -> np.ndarray | None:
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="np") as fh:
            meta = fh.metadata() or {}
            if meta.get("key") != key or int(meta.get("count", -1)) != len(synsets):
                return None
            emb = fh.get_tensor("embeddings")
    except Exception:  # a truncated or foreign file is simply rebuilt
        return None
    if emb.ndim != 2 or emb.shape[0] != len(synsets) or emb.dtype != np.float32:
        return None
    return emb


def load_gloss_bank(handle, hierarchy, concept_set, cache_dir: Path | str | None = None,
                    batch_size: int | None = None, progress: Progress | None = None,
                    cancelled: Cancelled | None = None) -> GlossBank:
    """The bank from disk when it was built before, else encoded now and saved."""
    from safetensors.numpy import save

    directory = Path(cache_dir) if cache_dir is not None else convis_cache_dir()
    key = bank_key(handle, concept_set)
    path = directory / f"glosses-{key}.safetensors"
    synsets = tuple(concept_set.synsets)
    emb = _read(path, key, synsets)
    if emb is not None:
        return GlossBank(handle.identity, concept_set.name, concept_set.content_hash, synsets, emb,
                         path, from_cache=True)
    emb, calls = encode_glosses(handle, hierarchy.glosses(concept_set), batch_size, progress, cancelled)
    meta = {"key": key, "count": str(len(synsets)), "identity": handle.identity,
            "set_name": concept_set.name, "set_hash": concept_set.content_hash,
            "format": str(BANK_FORMAT)}
    try:
        os.makedirs(directory, exist_ok=True)
        atomic_write_bytes(path, save({"embeddings": emb}, metadata=meta), overwrite=True)
    except Exception:  # OSError or OutputError: a read-only cache costs time, not correctness
        path = None
    return GlossBank(handle.identity, concept_set.name, concept_set.content_hash, synsets, emb, path,
                     from_cache=False, encode_calls=calls)

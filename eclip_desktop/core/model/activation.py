"""Which MLP activation a model is built with: GELU or QuickGELU.

OpenAI's CLIP weights were trained with QuickGELU (x·sigmoid(1.702x)); most other open_clip weights
with GELU. open_clip picks QuickGELU only for a tag that says so (`openai`, ...) or a `*-quickgelu`
config, so `--model ViT-B-16 --pretrained FILE` with OpenAI's weights in FILE would silently run
them with the wrong activation. A state dict holds no trace of the activation (it has no
weights), so this module looks at what does say something: the tag, the config name, an OpenAI
TorchScript archive, an open_clip_config.json next to the file, safetensors metadata, the file's
path. Where none of them tells, the architecture's config is used and `note` says so in one line,
with the way to choose the other activation.
"""
from __future__ import annotations

import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import open_clip

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.io.guards import read_json
from eclip_desktop.core.model.card_schema import read_card

QUICK_GELU, GELU = "quick_gelu", "gelu"
CHOICES = ("auto", GELU, QUICK_GELU)
LABELS = {QUICK_GELU: "QuickGELU", GELU: "GELU"}


@dataclass(frozen=True)
class Activation:
    name: str  # QUICK_GELU | GELU: what the model is built with
    source: str  # what decided it, in words (recorded in sidecars as `activation_source`)
    certain: bool  # False: a weights file that cannot tell; `note` then says what was assumed
    note: str | None = None

    @property
    def quick_gelu(self) -> bool:
        return self.name == QUICK_GELU

    def describe(self) -> dict:
        return {"activation": self.name, "activation_source": self.source, "activation_note": self.note}


def config_quick_gelu(architecture: str) -> bool:
    cfg = open_clip.get_model_config(architecture) or {}
    return bool(cfg.get("quick_gelu", False))


def quickgelu_config_name(architecture: str) -> str | None:
    """The open_clip config of the same architecture with QuickGELU, when there is one."""
    name = f"{architecture}-quickgelu"
    return name if open_clip.get_model_config(name) else None


def is_torchscript_archive(path: str | Path) -> bool:
    """OpenAI distributes CLIP as TorchScript archives (RN50.pt, ViT-B-16.pt, ...): a zip whose
    records include `<archive>/constants.pkl` and `<archive>/code/`, which `torch.save` of a state
    dict never writes. Only the zip directory is read."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(n.count("/") == 1 and n.endswith("/constants.pkl") for n in names) and \
        any("/code/" in n for n in names)


def _open_clip_config(path: Path) -> bool | None:
    """`model_cfg.quick_gelu` of the open_clip_config.json that Hugging Face snapshots of open_clip
    weights keep next to the weights file; None when there is none or it does not say."""
    cfg_path = path.parent / "open_clip_config.json"
    if not cfg_path.exists():
        return None
    try:
        data = read_json(cfg_path, EclipError)  # a regular file, bounded: a FIFO here must not hang the load
    except EclipError:
        return None
    cfg = data.get("model_cfg", data) if isinstance(data, dict) else {}
    return bool(cfg["quick_gelu"]) if isinstance(cfg, dict) and "quick_gelu" in cfg else None


def _training_card(path: Path) -> bool | None:
    """`model_config.quick_gelu` of the model card `eclip-desktop train` writes beside its weights
    (<name>.json next to <name>.safetensors); None when there is no such card."""
    if not path.with_suffix(".json").exists():
        return None
    try:
        card = read_card(path.with_suffix(".json"))
    except EclipError:  # not a card of ours (or unusable): it says nothing about the activation
        return None
    if not isinstance(card, dict) or "eclip_desktop" not in card or not isinstance(card.get("model_config"), dict):
        return None
    return bool(card["model_config"].get("quick_gelu", False))


def safetensors_metadata(path: Path) -> dict:
    """The free-form `__metadata__` of a .safetensors header (8-byte length, then JSON)."""
    if path.suffix.lower() != ".safetensors":
        return {}
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > 100_000_000:
                return {}
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error):
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def _metadata_says(meta: dict) -> tuple[bool, str] | None:
    for key in ("quick_gelu", "activation"):
        if key in meta:
            value = str(meta[key]).strip().lower()
            return value in ("true", "1", "quick_gelu", "quickgelu"), f"safetensors metadata '{key}'"
    if any("openai" in f"{k} {v}".lower() for k, v in meta.items()):
        return True, "safetensors metadata names openai"
    return None


def _path_says_openai(path: Path) -> bool:
    # The file name or a folder of its path: `ViT-B-16-openai.safetensors`, Hugging Face's cache
    # `models--timm--vit_base_patch16_clip_224.openai/...`, or OpenAI's own download folder.
    resolved = path.expanduser().absolute()
    parts = [p.lower() for p in resolved.parts]
    return any("openai" in p for p in parts) or \
        resolved.parent == Path("~/.cache/clip").expanduser().absolute()


def _uncertain_note(architecture: str, name: str) -> str:
    other = GELU if name == QUICK_GELU else QUICK_GELU
    how = []
    if other == QUICK_GELU and quickgelu_config_name(architecture):
        how.append(f"--model {quickgelu_config_name(architecture)}")
    how.append(f"--activation {other}")
    return (f"activation {LABELS[name]} (from the {architecture} config): a weights file cannot tell which "
            f"activation it was trained with, and OpenAI's CLIP weights need QuickGELU; for "
            f"{LABELS[other]} pass {' or '.join(how)}")


def decide(architecture: str, requested: str = "auto", checkpoint: str | None = None,
           tag_cfg: dict | None = None, tag: str | None = None, training_checkpoint: bool = False) -> Activation:
    """The activation to build `architecture` with for these weights (see the module docstring)."""
    if requested not in CHOICES:
        raise ValueError(f"unknown activation '{requested}': choose one of {', '.join(CHOICES)}")
    config = QUICK_GELU if config_quick_gelu(architecture) else GELU
    if requested != "auto":
        return Activation(requested, "requested", True)
    if tag_cfg:
        # open_clip's own rule for tags: the tag's flag, or a -quickgelu config.
        name = QUICK_GELU if tag_cfg.get("quick_gelu") or config == QUICK_GELU else GELU
        return Activation(name, f"pretrained tag '{tag}'" if tag else "pretrained tag", True)
    if checkpoint is None:
        return Activation(config, f"{architecture} config", True)
    if config == QUICK_GELU:
        return Activation(config, f"{architecture} config", True)
    if training_checkpoint:
        # `eclip-desktop train` builds the architecture from its config, so that is what it trained.
        return Activation(config, f"{architecture} config (an eclip-desktop training checkpoint)", True)
    path = Path(checkpoint)
    if is_torchscript_archive(path):
        return Activation(QUICK_GELU, "OpenAI TorchScript archive", True)
    said = _open_clip_config(path)
    if said is not None:
        return Activation(QUICK_GELU if said else GELU, "open_clip_config.json next to the weights", True)
    card = _training_card(path)
    if card is not None:
        return Activation(QUICK_GELU if card else GELU, "the model card next to the weights (eclip-desktop train)",
                          True)
    metadata = safetensors_metadata(path)
    if {"architecture", "pooling"} <= metadata.keys():
        # `eclip-desktop train` writes these two keys and builds the architecture from its config.
        trained = QUICK_GELU if config_quick_gelu(metadata["architecture"]) else GELU
        return Activation(trained, f"{metadata['architecture']} config (eclip-desktop train metadata)", True)
    meta = _metadata_says(metadata)
    if meta is not None:
        return Activation(QUICK_GELU if meta[0] else GELU, meta[1], True)
    if _path_says_openai(path):
        return Activation(QUICK_GELU, "the weights file's path names openai", False,
                          f"activation QuickGELU because the path of {path.name} names openai (OpenAI's CLIP "
                          "weights use it); for weights trained with GELU pass --activation gelu")
    if not _has_openai_release(architecture):
        # No OpenAI weights exist for this architecture (e.g. the project's own tiny configs): the
        # QuickGELU question does not arise, so a note would only be noise.
        return Activation(config, f"{architecture} config (no OpenAI release of this architecture)", True)
    return Activation(config, f"{architecture} config; the weights file does not say", False,
                      _uncertain_note(architecture, config))


def _has_openai_release(architecture: str) -> bool:
    import open_clip
    base = architecture[: -len("-quickgelu")] if architecture.endswith("-quickgelu") else architecture
    return any("openai" in tag for tag in open_clip.list_pretrained_tags_by_model(base))


def built_activation(model) -> str | None:
    """What the built model really uses (QuickGELU wins if any block has it), for checks and tests."""
    import torch
    from open_clip.transformer import QuickGELU
    kinds = {QUICK_GELU if isinstance(m, QuickGELU) else GELU for m in model.modules()
             if isinstance(m, (QuickGELU, torch.nn.GELU))}
    return QUICK_GELU if QUICK_GELU in kinds else (GELU if kinds else None)

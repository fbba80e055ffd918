"""Which architectures a weights file fits: its tensor names and shapes, read without loading its data
(the safetensors header, or torch's memory-mapped load), against each candidate built on the meta
device. The window proposes the first fit when a checkpoint is opened, instead of a fixed default.
torch and open_clip are imported inside the functions: the window imports this module before them.
"""
from __future__ import annotations

import json
import os
import struct
from functools import lru_cache

from eclip_desktop.core.model.weights_dtype import HEADER_LIMIT

Shapes = dict[str, tuple[int, ...]]
WRAPPERS = ("state_dict", "model")  # dicts that hold the weights inside a saved dict
PREFIXES = ("module.", "_orig_mod.")  # DataParallel / DistributedDataParallel and torch.compile names


def _safetensors_shapes(path: str) -> Shapes | None:
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > HEADER_LIMIT:
                return None
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    return {k: tuple(v["shape"]) for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict) and isinstance(v.get("shape"), list)}


def _torch_shapes(path: str) -> Shapes | None:
    import torch

    from eclip_desktop.core.model.checkpoint import checkpoint_weights
    try:
        # mmap: the tensors stay on disk; weights_only: a pickle that carries code is refused, not run.
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # not a torch zip archive (legacy pickles, TorchScript): nothing to propose
        return None
    if not isinstance(state, dict):
        return None
    state = checkpoint_weights(state) or state
    for key in WRAPPERS:
        if isinstance(state.get(key), dict):
            state = state[key]
    return {k: tuple(v.shape) for k, v in state.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}


def file_shapes(path: str | os.PathLike) -> Shapes:
    """Tensor name -> shape of a weights file, wrapper prefixes removed; {} when it cannot be read so."""
    path = os.fspath(path)
    shapes = _safetensors_shapes(path) if path.lower().endswith(".safetensors") else _torch_shapes(path)
    out = {}
    for name, shape in (shapes or {}).items():
        for prefix in PREFIXES:
            name = name.removeprefix(prefix)
        out[name] = shape
    return out


@lru_cache(maxsize=256)
def architecture_shapes(architecture: str) -> tuple[tuple[str, tuple[int, ...]], ...] | None:
    """The state dict's (name, shape) pairs of `architecture` as open_clip builds it, on the meta
    device (no memory, no weights); None when it cannot be built that way."""
    import open_clip
    import torch

    from eclip_desktop.core.model.loading import quiet_open_clip, register_project_configs
    register_project_configs()
    try:
        with quiet_open_clip(), torch.device("meta"):
            model = open_clip.create_model(architecture, pretrained=None, device="meta")
    except Exception:  # missing optional packages, towers that need real data at init
        return None
    return tuple((k, tuple(v.shape)) for k, v in model.state_dict().items())


def _blocks(shapes: Shapes, prefix: str) -> int | None:
    """How many residual blocks `prefix`N. names hold; None when the file has none under it."""
    found = {name[len(prefix):].split(".", 1)[0] for name in shapes if name.startswith(prefix)}
    numbers = [int(n) for n in found if n.isdigit()]
    return max(numbers) + 1 if numbers else None


def _signature(shapes: Shapes) -> dict[str, int | str]:
    """The towers' kinds and a few widths and depths the file states, as an open_clip config names them."""
    sig: dict[str, int | str] = {}
    if any(name.startswith("visual.trunk.") for name in shapes):
        sig["vision_kind"] = "timm"
    elif any(name.startswith("visual.attnpool.") for name in shapes):
        sig["vision_kind"] = "resnet"
    elif "visual.class_embedding" in shapes:
        sig["vision_kind"] = "vit"
    if "token_embedding.weight" in shapes:
        sig["text_kind"], text = "clip", ""
    elif any(name.startswith("text.") for name in shapes):
        sig["text_kind"], text = "custom", "text."
    else:
        text = None
    if len(shapes.get("visual.positional_embedding", ())) == 2:
        sig["vision_tokens"] = shapes["visual.positional_embedding"][0]
    if len(shapes.get("text_projection", ())) == 2:
        sig["embed_dim"] = shapes["text_projection"][1]
    if text is not None and len(shapes.get(text + "token_embedding.weight", ())) == 2:
        sig["vocab_size"], sig["text_width"] = shapes[text + "token_embedding.weight"]
    if text is not None and len(shapes.get(text + "positional_embedding", ())) == 2:
        sig["context_length"] = shapes[text + "positional_embedding"][0]
    conv = shapes.get("visual.conv1.weight", ())
    if len(conv) == 4 and "visual.class_embedding" in shapes:  # a ViT's patch embedding
        sig["vision_width"], sig["patch_size"] = conv[0], conv[2]
    layers = [("vision_layers", "visual.transformer.resblocks.")]
    if text is not None:
        layers.append(("text_layers", text + "transformer.resblocks."))
    for key, prefix in layers:
        n = _blocks(shapes, prefix)
        if n is not None:
            sig[key] = n
    return sig


def _config_signature(architecture: str) -> dict[str, object]:
    """The same widths and depths from the architecture's config, where it states them plainly."""
    import open_clip
    from open_clip.model import CLIPTextCfg
    cfg = open_clip.get_model_config(architecture) or {}
    vision, text = cfg.get("vision_cfg", {}) or {}, cfg.get("text_cfg", {}) or {}
    # CoCa keeps its text tower under "text." too (open_clip builds it as a separate module)
    custom_text = bool(cfg.get("custom_text") or text.get("hf_model_name") or "multimodal_cfg" in cfg)
    sig: dict[str, object] = {"embed_dim": cfg.get("embed_dim"), "text_kind": "custom" if custom_text else "clip"}
    if not text.get("hf_model_name"):  # open_clip's own text transformer, at the top or under "text."
        defaults = CLIPTextCfg()
        sig.update(text_width=text.get("width", defaults.width), text_layers=text.get("layers", defaults.layers),
                   vocab_size=text.get("vocab_size", defaults.vocab_size),
                   # a class token embedded at the end of the text (CoCa's, embed_cls) takes one more position
                   context_length=text.get("context_length", defaults.context_length)
                   + int(bool(text.get("embed_cls") or "multimodal_cfg" in cfg)))
    layers = vision.get("layers")
    if vision.get("timm_model_name"):
        sig["vision_kind"] = "timm"
    elif isinstance(layers, (list, tuple)):
        sig["vision_kind"] = "resnet"
    elif isinstance(layers, int):
        sig.update(vision_kind="vit", vision_width=vision.get("width"), vision_layers=layers,
                   patch_size=vision.get("patch_size"))
        size, patch = vision.get("image_size"), vision.get("patch_size")
        if isinstance(size, int) and isinstance(patch, int) and patch and not vision.get("no_ln_pre") \
                and vision.get("class_token", True) is not False:
            sig["vision_tokens"] = (size // patch) ** 2 + 1
    return {k: v for k, v in sig.items() if isinstance(v, (int, str))}


def _could_fit(sig: dict[str, int | str], architecture: str) -> bool:
    """False only when the file and the config disagree on a width or depth both state: a quick
    filter before a candidate is built (building every architecture takes tens of seconds)."""
    cfg = _config_signature(architecture)
    return all(cfg[k] == v for k, v in sig.items() if k in cfg)


def fits(shapes: Shapes, architecture: str) -> bool:
    """Every tensor of the architecture is in the file with the same shape (extra tensors are ignored,
    as the loader ignores them)."""
    expected = architecture_shapes(architecture)
    if not expected:
        return False
    return all(shapes.get(name) == shape for name, shape in expected)


def fitting_architectures(path: str | os.PathLike, candidates: list[str]) -> list[str]:
    """The candidates the file's tensors fit, in the candidates' order. Those whose config states
    another width or depth than the file are skipped without being built."""
    from eclip_desktop.core.model.loading import register_project_configs
    register_project_configs()
    shapes = file_shapes(path)
    if not shapes:
        return []
    sig = _signature(shapes)
    return [name for name in candidates if _could_fit(sig, name) and fits(shapes, name)]


def proposed_architecture(path: str | os.PathLike, candidates: list[str], current: str = "") -> str | None:
    """The architecture to offer for a weights file: the current one when the file fits it, else the
    first fit with the shortest name (ViT-B-16 before ViT-B-16-quickgelu: same shapes; the loader
    decides the activation from the file), else None."""
    if current and current in candidates and fits(file_shapes(path), current):
        return current
    found = fitting_architectures(path, candidates)
    return min(found, key=len) if found else None

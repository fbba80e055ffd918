"""The model layer: an open_clip architecture + weights + device + dtype, loaded with clear failures.

Weights come from open_clip's hub on a connected machine (then cached), from a local checkpoint
file, or are explicitly random (tests, benchmarks). A named weight set that is neither cached nor
downloadable must fail within seconds: open_clip alone would retry for ~46 s and then raise.
"""
from __future__ import annotations

import difflib
import hashlib
import logging
import os
import socket
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import open_clip
import torch

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.io.guards import check_regular, shown
from eclip_desktop.core.io.paths import RESOURCES
from eclip_desktop.core.io.shorten import shorten
from eclip_desktop.core.model import activation as act
from eclip_desktop.core.model.checkpoint import (
    checkpoint_weights,
    is_checkpoint_name,
    read_checkpoint,
)
from eclip_desktop.core.model.device import dtype_name, resolve_device, resolve_dtype
from eclip_desktop.core.model.features import VisualTower
from eclip_desktop.core.model.sizes import check_model_sizes
from eclip_desktop.core.model.spec import RANDOM, ModelSpec  # noqa: F401 - ModelSpec's home was here
from eclip_desktop.core.model.tokenizers import build_tokenizer
from eclip_desktop.core.model.trained import trained_tau
from eclip_desktop.core.model.weights_dtype import refuse_integer_weights, safetensors_dtypes, state_dtypes

CONFIG_DIR = RESOURCES / "model_configs"
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
_OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
_registered = False
_register_lock = threading.Lock()


def register_project_configs() -> None:
    """Make the project's own (tiny) architectures known to open_clip, once per process."""
    global _registered
    with _register_lock:
        if not _registered and CONFIG_DIR.is_dir():
            open_clip.add_model_config(CONFIG_DIR)
        _registered = True


def list_architectures() -> list[str]:
    register_project_configs()
    return list(open_clip.list_models())


def list_pretrained_tags(architecture: str) -> list[str]:
    return list(open_clip.list_pretrained_tags_by_model(architecture))


def default_tag(architecture: str) -> str | None:
    tags = list_pretrained_tags(architecture)
    if "openai" in tags:
        return "openai"
    return tags[0] if tags else None


@dataclass
class ModelHandle:
    spec: ModelSpec
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    dtype: torch.dtype
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    kind: str  # core/model/kinds.py: 'vit', 'resnet' or a timm kind
    weights: str  # what was actually loaded: a tag, a file path, or 'random'
    identity: str  # stable key for caches (architecture + weights content)
    logit_scale: float = 100.0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    activation: act.Activation | None = None
    trained_tau: str = "mean"  # the masked-max threshold the weights were trained with

    @property
    def visual(self) -> VisualTower:
        return self.model.visual

    def describe(self) -> dict:
        info = {"model": self.spec.architecture, "pretrained": self.weights,
                "device": str(self.device), "dtype": dtype_name(self.dtype),
                "model_input_size": self.image_size, "kind": self.kind, "trained_tau": self.trained_tau}
        if self.activation is not None:
            info.update(self.activation.describe())
        return info


@contextmanager
def quiet_open_clip():
    """open_clip logs and warns on the root logger (e.g. 'No pretrained weights loaded' for a model we
    build untrained on purpose); our own errors say what matters."""
    root = logging.getLogger()
    was = root.disabled
    root.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.disabled = was


def visual_kind(visual: torch.nn.Module) -> str:
    name = type(visual).__name__
    if name == "VisionTransformer":
        if getattr(visual, "attn_pool", None) is not None:
            raise ModelError("vision transformers with an attentional pooler (CoCa) are not supported")
        return "vit"
    if name == "ModifiedResNet":
        return "resnet"
    if name == "TimmModel":
        from eclip_desktop.core.model.timm_features import timm_kind  # imports timm, for timm towers only
        return timm_kind(visual)
    raise ModelError(f"the image tower {name} is not supported: eclip-desktop handles open_clip "
                     "VisionTransformer, ModifiedResNet and timm (ViT, EVA, ConvNeXt, FastViT) towers")


def _hub_endpoint_reachable(url: str, timeout: float = 1.5) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    parsed = urlparse(url)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme != "http" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _cached_weight_file(cfg: dict) -> str | None:
    """The local file for a pretrained config if a previous download left it in a cache."""
    if cfg.get("file") and os.path.isfile(cfg["file"]):
        return cfg["file"]
    hub = cfg.get("hf_hub", "")
    if hub:
        try:
            from huggingface_hub import try_to_load_from_cache
        except ImportError:
            return None
        repo_id, filename = os.path.split(hub)
        filename = filename or "open_clip_pytorch_model.bin"
        candidates = [filename]
        if filename.endswith(".bin"):
            candidates.insert(0, filename[:-4] + ".safetensors")
        for name in candidates:
            found = try_to_load_from_cache(repo_id=repo_id, filename=name)
            if isinstance(found, str) and os.path.isfile(found):
                return found
    url = cfg.get("url", "")
    if url:
        target = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(url)
        if target.is_file():
            return str(target)
    return None


def is_tag_cached(architecture: str, tag: str) -> bool:
    cfg = open_clip.get_pretrained_cfg(architecture, tag)
    return bool(cfg) and _cached_weight_file(cfg) is not None


def _check_architecture(architecture: str) -> None:
    known = list_architectures()
    if architecture not in known:
        near = difflib.get_close_matches(architecture, known, n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(near)}?" if near else "; `eclip-desktop models` lists them"
        raise ModelError(f"unknown model '{architecture}'{hint}")


def _file_identity(path: Path) -> str:
    st = path.stat()
    key = f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode("utf-8", "surrogateescape")  # any file name
    return hashlib.sha1(key).hexdigest()[:16]


def _resolve_weights(spec: ModelSpec) -> tuple[str | None, dict, str, str]:
    """Returns (checkpoint path or None, tag config, weights label, identity)."""
    pretrained = spec.pretrained if spec.pretrained is not None else default_tag(spec.architecture)
    if pretrained is None:
        raise ModelError(f"{spec.architecture} has no published weights; pass --pretrained with a "
                         "checkpoint file, or --pretrained random for an untrained model")
    if pretrained.lower() in (RANDOM, "none"):
        return None, {}, RANDOM, f"{spec.architecture}:random"
    path = Path(os.path.expanduser(pretrained))
    looks_like_path = path.suffix.lower() in CHECKPOINT_SUFFIXES or os.sep in pretrained or path.exists()
    if looks_like_path:
        def fail(why: str) -> ModelError:
            if why == "not found":
                return ModelError(f"checkpoint file {shown(pretrained)} does not exist")
            return ModelError(f"checkpoint {shown(pretrained)} cannot be read: {why}")
        check_regular(path, fail)  # a FIFO would block the loader, /dev/zero never ends
        if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
            raise ModelError(f"checkpoint {pretrained} is not a .safetensors/.bin/.pt file")
        return str(path), {}, str(path), f"{spec.architecture}:{_file_identity(path)}"
    cfg = open_clip.get_pretrained_cfg(spec.architecture, pretrained)
    if not cfg:
        tags = list_pretrained_tags(spec.architecture)
        listing = ", ".join(tags) if tags else "none published"
        raise ModelError(f"unknown pretrained tag '{pretrained}' for {spec.architecture} (tags: {listing}); "
                         "or pass a checkpoint file path")
    cached = _cached_weight_file(cfg)
    if cached is None:
        from huggingface_hub import constants
        if not _hub_endpoint_reachable(constants.ENDPOINT if cfg.get("hf_hub") else cfg.get("url", "")):
            raise ModelError(
                f"weights {spec.architecture}/{pretrained} are not downloaded yet and the download server "
                "cannot be reached: connect to the internet once (they are cached afterwards), or pass a "
                "local checkpoint with --pretrained /path/to/weights.safetensors")
    return cached, cfg, pretrained, f"{spec.architecture}:{pretrained}"


def _training_checkpoint_weights(path: str) -> dict | None:
    """The weights of an `eclip-desktop train` checkpoint, so a run can be evaluated or explored while
    it trains; None for any other file. Only that name (<name>.ckpt.pt) is opened here: any other .pt
    (an openai TorchScript archive of 350 MB) must not be read twice."""
    if not is_checkpoint_name(path):
        return None
    try:
        return checkpoint_weights(read_checkpoint(path))
    except (OSError, ValueError):  # leave it to open_clip's loader and its messages
        return None


def _stored_dtypes(path: str, training_state: dict | None) -> list[tuple[str, str]]:
    """How a weights file stores its tensors, without reading their data: the safetensors header, the
    training checkpoint already read, or a torch file memory-mapped (a file mmap cannot open is left
    to the loader and its messages)."""
    if training_state is not None:
        return state_dtypes(training_state)
    if path.lower().endswith(".safetensors"):
        return safetensors_dtypes(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return []
    state = state.get("state_dict", state) if isinstance(state, dict) else None
    return state_dtypes(state) if isinstance(state, dict) else []


def load_failure(exc: BaseException) -> tuple[str, bool]:
    """(one line that names the cause, whether the file is weights of another architecture). torch's
    state-dict error lists the keys on later lines, and its unpickler suggests weights_only=False, which
    would run code from the file: that advice is never passed on."""
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if text.startswith("Error(s) in loading state_dict"):
        parts = []
        for ln in lines[1:]:
            key = ln.split(":", 1)[0]
            if ln.startswith(("Missing key(s)", "Unexpected key(s)")):
                names = ln.split(":", 1)[1].replace('"', "").split(",")
                more = f" and {len(names) - 3} more" if len(names) > 3 else ""
                parts.append(f"{key.lower()}: {', '.join(n.strip() for n in names[:3]).rstrip('.')}{more}")
            elif ln.startswith("size mismatch"):
                parts.append(shorten(ln.rstrip("."), 300))
                break
        return ("; ".join(parts[:3]) or "its keys or shapes differ from the model's"), True
    if "weights_only" in text or "Unpickl" in text or "pickle" in text.lower():
        return ("not a weights file that can be read safely (not a torch or safetensors checkpoint, or it "
                "carries code; such files are refused, never run)"), False
    first = lines[0] if lines else type(exc).__name__
    return shorten(first, 300), False


def _torchscript_weights(path: str) -> dict:
    """The weights of a TorchScript archive (OpenAI's own CLIP files). torch.load refuses such an
    archive with weights_only; torch.jit.load reads TorchScript, not pickled Python, and is how
    OpenAI's clip and open_clip read these files too. The archive's scalars and the attention-mask
    buffer are not weights."""
    state = torch.jit.load(path, map_location="cpu").state_dict()
    return {k: v for k, v in state.items()
            if k not in ("input_resolution", "context_length", "vocab_size", "attn_mask")}


def _load_state(model: torch.nn.Module, state: dict) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    if missing:
        raise ValueError(f"missing {len(missing)} weights, e.g. {missing[0]}")
    model.load_state_dict({k: v for k, v in state.items() if k in expected}, strict=True)


def load_model(spec: ModelSpec) -> ModelHandle:
    """Build the model on its device, in eval mode, frozen. Raises ModelError/DeviceError."""
    _check_architecture(spec.architecture)
    device = resolve_device(spec.device)
    dtype = resolve_dtype(device, spec.dtype)
    checkpoint, cfg, weights, identity = _resolve_weights(spec)
    check_model_sizes(spec.architecture, checkpoint)  # from the headers, before anything is built or read
    given_file = checkpoint if not cfg else None  # a file the user named, not a cached hub download
    training_state = _training_checkpoint_weights(given_file) if given_file is not None else None
    torchscript_file = (given_file if given_file is not None and training_state is None
                        and act.is_torchscript_archive(given_file) else None)
    if given_file is not None and torchscript_file is None:
        refuse_integer_weights(_stored_dtypes(given_file, training_state), given_file)
    try:
        activation = act.decide(spec.architecture, spec.activation, given_file,
                                tag_cfg=cfg, tag=weights if cfg else None,
                                training_checkpoint=training_state is not None)
    except ValueError as exc:
        raise ModelError(str(exc)) from exc
    # What open_clip alone would have built: the key of caches made before the activation was
    # decided here stays valid wherever the choice is the same.
    natural = act.QUICK_GELU if cfg.get("quick_gelu") or act.config_quick_gelu(spec.architecture) else act.GELU
    if activation.name != natural:
        identity = f"{identity}+{activation.name}"
    source = checkpoint if checkpoint is not None else (weights if cfg else None)
    own_loader = training_state is not None or torchscript_file is not None
    try:
        with quiet_open_clip():
            # quick_gelu=False is passed as a config override: force_quick_gelu can only switch it on.
            model, _, _ = open_clip.create_model_and_transforms(
                spec.architecture, pretrained=None if own_loader else source,
                force_quick_gelu=activation.quick_gelu,
                **({} if activation.quick_gelu else {"quick_gelu": False}))
            if training_state is not None:
                model.load_state_dict(training_state)
            elif torchscript_file is not None:
                _load_state(model, _torchscript_weights(torchscript_file))
    except Exception as exc:  # torch, safetensors and pickle each raise their own types
        why, is_mismatch = load_failure(exc)
        if checkpoint is not None and not cfg:
            if is_mismatch:
                raise ModelError(f"checkpoint {checkpoint} does not match the architecture {spec.architecture}: "
                                 f"{why}") from exc
            raise ModelError(f"cannot read checkpoint {checkpoint}: {why}") from exc
        raise ModelError(f"could not load {spec.architecture} ({weights}): {why}") from exc
    visual = model.visual
    kind = visual_kind(visual)
    model = model.to(device=device, dtype=dtype).eval().requires_grad_(False)
    size = visual.image_size
    size = int(size[0] if isinstance(size, (tuple, list)) else size)
    pre = getattr(visual, "preprocess_cfg", {}) or {}
    mean = tuple(cfg.get("mean") or pre.get("mean") or _OPENAI_MEAN)
    std = tuple(cfg.get("std") or pre.get("std") or _OPENAI_STD)
    tokenizer = build_tokenizer(spec.architecture)  # one clear line when a Hugging Face tokenizer is missing
    scale = float(model.logit_scale.exp().item()) if hasattr(model, "logit_scale") else 100.0
    return ModelHandle(spec=spec, model=model, tokenizer=tokenizer, device=device, dtype=dtype,
                       image_size=size, mean=mean, std=std, kind=kind, weights=weights,
                       identity=identity, logit_scale=scale, activation=activation, trained_tau=trained_tau(weights))

"""Recompute a map from its JSON sidecar: the sidecar is meant to be a complete recipe, and this
proves it (and lets a reader check a published .npy against the model and image it names).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eclip_desktop.core.errors import EclipError, ModelError, OutputError

TOLERANCE = 1e-4  # `reproduce --check` fails above this max |difference|
_REQUIRED = ("image", "model", "pretrained", "method", "pooling")


def read_sidecar(path: str | Path) -> dict:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EclipError(f"cannot read sidecar {p}: {exc}") from exc
    missing = [k for k in _REQUIRED if k not in data] if isinstance(data, dict) else list(_REQUIRED)
    if missing:
        raise EclipError(f"{p} is not an explain/export sidecar (missing: {', '.join(missing)})")
    return data


def _resolve(given: str, sidecar: Path) -> Path:
    # Paths are stored as given on the command line; the run's working directory is unknown, so the
    # sidecar's own folder is the fallback for a relative path.
    p = Path(given).expanduser()
    if p.exists() or p.is_absolute():
        return p
    return sidecar.parent / p


def _device(recorded: str | None, override: str | None) -> str:
    if override:
        return override
    kind = str(recorded or "auto").split(":")[0]
    if kind == "cuda":
        import torch
        return "cuda" if torch.cuda.is_available() else "auto"
    if kind == "mps":
        from eclip_desktop.core.model.device import mps_available
        return "mps" if mps_available() else "auto"
    return kind if kind in ("cpu", "auto") else "auto"


def reproduce_map(sidecar_path: str | Path, device: str | None = None) -> np.ndarray:
    """The float32 H x W map the sidecar describes, recomputed with the core."""
    from eclip_desktop.core.explain.engine import Engine
    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.core.model.loading import ModelSpec

    path = Path(sidecar_path)
    meta = read_sidecar(path)
    method = meta["method"]
    if method == "convis":
        raise EclipError("reproduce covers CLIP maps (itsm, surgery, contribution); ConVis maps are not supported")
    image = load_image(str(_resolve(meta["image"], path)))
    if meta.get("image_sha256") and image.sha256 != meta["image_sha256"]:
        raise EclipError(f"{meta['image']} is not the image the sidecar was made from (its SHA-256 differs)")
    pretrained = meta["pretrained"]
    from eclip_desktop.core.model.loading import CHECKPOINT_SUFFIXES
    if pretrained not in (None, "random") and Path(str(pretrained)).suffix.lower() in CHECKPOINT_SUFFIXES:
        pretrained = str(_resolve(pretrained, path))
    if pretrained == "random":
        # Untrained weights are drawn afresh at every load; only a saved checkpoint reproduces.
        raise ModelError("the sidecar names random (untrained) weights, which cannot be reloaded; "
                         "save them to a checkpoint and pass that as --pretrained to make maps reproducible")
    dev = _device(meta.get("device"), device)
    # The recorded precision only applies on the recorded kind of device (bf16 is refused on a CPU).
    same = dev == str(meta.get("device") or "").split(":")[0]
    spec = ModelSpec(meta["model"], pretrained, dev, (meta.get("dtype") or "auto") if same else "auto")
    engine = Engine.load(spec)
    pooling = meta["pooling"]
    labels = list(meta.get("labels") or ([meta["text"]] if meta.get("text") else []))
    if method == "contribution":
        # The contribution depends on the pooling only; any label set gives the same map.
        exp = engine.explain(image, labels[:1] or ["a photo"], method="itsm", poolings=[pooling],
                             input_size=meta.get("input_size"), tau=meta.get("tau", "mean"))
        return exp.contributions[pooling].astype(np.float32)
    if not labels:
        raise EclipError(f"{path} has no text or labels to explain")
    # The whole label set is passed: a method may use the other labels (CLIP Surgery's redundancy).
    exp = engine.explain(image, labels, method=method, poolings=[pooling], ensemble=bool(meta.get("ensemble")),
                         input_size=meta.get("input_size"), tau=meta.get("tau", "mean"),
                         method_options=meta.get("method_options") or {})
    index = meta.get("text_index")
    if index is None:
        index = labels.index(meta["text"])
    return exp.heatmaps[int(index)].values.astype(np.float32)


def saved_npy(sidecar_path: str | Path) -> Path:
    path = Path(sidecar_path)
    meta = read_sidecar(path)
    name = (meta.get("files") or {}).get("npy") or path.with_suffix(".npy").name
    return path.parent / name


def reproduce_check(sidecar_path: str | Path, device: str | None = None) -> tuple[np.ndarray, float, Path]:
    """(recomputed map, max |recomputed - saved|, saved .npy path)."""
    npy = saved_npy(sidecar_path)
    try:
        saved = np.load(npy, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot read the saved map {npy}: {exc}") from exc
    values = reproduce_map(sidecar_path, device=device)
    if saved.shape != values.shape:
        raise EclipError(f"the saved map {npy} is {saved.shape}, the recomputed one {values.shape}")
    diff = float(np.max(np.abs(values.astype(np.float64) - saved.astype(np.float64)))) if values.size else 0.0
    return values, diff, npy

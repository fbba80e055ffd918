"""Recompute a map from its JSON sidecar: the sidecar is meant to be a complete recipe, and this
proves it (and lets a reader check a published .npy against the model and image it names).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from eclip_desktop.core.errors import EclipError, ModelError, OutputError
from eclip_desktop.core.export.sidecar_schema import read_sidecar_json
from eclip_desktop.core.io.guards import load_npy, shown

TOLERANCE = 1e-4  # `reproduce --check` fails above this max |difference|
MAX_MAP_SIDE = 10_000  # a sidecar without image_size: its map may hold at most 100 MP, as images may
_REQUIRED = ("image", "model", "pretrained", "method")
CONVIS = "convis"


def read_sidecar(path: str | Path) -> dict:
    """The sidecar's fields, every read-back field of the right type (core/export/sidecar_schema.py)."""
    meta = read_sidecar_json(path)
    # A ConVis map has no pooling of its own; every other map names one.
    required = _REQUIRED if meta.get("method") == CONVIS else (*_REQUIRED, "pooling")
    missing = [k for k in required if k not in meta]
    if missing:
        raise EclipError(f"{shown(path)} is not an explain/export sidecar (missing: {', '.join(missing)})")
    return meta


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_sidecar(meta: dict, path: Path) -> dict:
    """Every field reproduce reads, checked with the CLI's own bounds before any work (a sidecar is a
    file anyone can edit or send: an input_size of 100000 would allocate tens of GB). Returns the
    fields normalised (defaults filled in)."""
    from eclip_desktop.core.explain.methods import get_method, method_names
    from eclip_desktop.core.model.poolings import INPUT_SIZE_RANGE, TAU_CHOICES, pooling_names

    def bad(field: str, why: str) -> EclipError:
        return EclipError(f"{path}: field '{field}' {why}")

    for key in ("image", "model"):
        if not isinstance(meta[key], str) or not meta[key].strip():
            raise bad(key, "must be a non-empty string")
    if meta["pretrained"] is not None and (not isinstance(meta["pretrained"], str) or not meta["pretrained"]):
        raise bad("pretrained", "must be a weights tag, a checkpoint file or null")
    method = meta["method"]
    dtype = _common_fields(meta, bad)
    if method == CONVIS:
        from eclip_desktop.core.export.reproduce_convis import validate_convis
        return {"method": CONVIS, "dtype": dtype, **validate_convis(meta, path)}
    if not isinstance(method, str) or method not in [*method_names(), "contribution"]:
        raise bad("method", f"is {method!r}; reproduce knows {', '.join([*method_names(), 'contribution'])}")
    if meta["pooling"] not in pooling_names():
        raise bad("pooling", f"is {meta['pooling']!r}; choose one of {', '.join(pooling_names())}")
    low, high = INPUT_SIZE_RANGE
    size = meta.get("input_size")
    if size is not None and not (_is_int(size) and low <= size <= high):
        raise bad("input_size", f"is {size!r}; it must be a whole number from {low} to {high}")
    tau = meta.get("tau", "mean")
    if tau not in TAU_CHOICES:
        raise bad("tau", f"is {tau!r}; choose one of {', '.join(TAU_CHOICES)}")
    ensemble = meta.get("ensemble", False)
    if not isinstance(ensemble, bool):
        raise bad("ensemble", "must be true or false")
    options = meta.get("method_options") or {}
    if not isinstance(options, dict):
        raise bad("method_options", "must be an object of the method's options")
    if method != "contribution":
        try:
            # Every option checked against the method's declaration; older sidecars' conventions
            # (e.g. Surgery's empty-text rule before it was recorded) are read by the method itself.
            options = get_method(method).resolve(options, legacy=meta)
        except ValueError as exc:
            raise bad("method_options", str(exc)) from None
    labels = meta.get("labels")
    text = meta.get("text")
    if labels is None:
        labels = [text] if isinstance(text, str) and text else []
    if not isinstance(labels, list) or not all(isinstance(t, str) and t.strip() for t in labels):
        raise bad("labels", "must be a list of non-empty texts")
    if text is not None and not isinstance(text, str):
        raise bad("text", "must be a string or null")
    index = meta.get("text_index")
    if method != "contribution":
        if not labels:
            raise EclipError(f"{path} has no text or labels to explain")
        if index is None:
            if text not in labels:
                raise bad("text", f"{text!r} is not one of the labels")
            index = labels.index(text)
        if not _is_int(index) or not 0 <= index < len(labels):
            raise bad("text_index", f"is {index!r}; there are {len(labels)} label(s)")
        if text is not None and labels[index] != text:
            # The map is recomputed for labels[text_index]; a sidecar that states another text
            # would pass a check while describing a map it is not.
            raise bad("text", f"says {text!r} but labels[{index}] is {labels[index]!r}")
    return {"method": method, "pooling": meta["pooling"], "input_size": size, "tau": tau, "ensemble": ensemble,
            "method_options": options, "dtype": dtype, "labels": labels, "index": index}


def _common_fields(meta: dict, bad) -> str:
    """The fields every map's sidecar shares (image hash, activation, precision, device, map file);
    returns the precision."""
    sha = meta.get("image_sha256")
    if sha is not None and not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
        raise bad("image_sha256", "must be 64 hexadecimal digits")
    activation = meta.get("activation")
    if activation is not None and activation not in ("gelu", "quick_gelu"):
        raise bad("activation", f"is {activation!r}; choose gelu or quick_gelu")
    dtype = meta.get("dtype") or "auto"
    if dtype not in ("auto", "fp32", "fp16", "bf16"):
        raise bad("dtype", f"is {dtype!r}; choose auto, fp32, fp16 or bf16")
    if meta.get("device") is not None and not isinstance(meta["device"], str):
        raise bad("device", "must be a string")
    npy = (meta.get("files") or {}).get("npy") if isinstance(meta.get("files"), dict) else None
    if npy is not None and (not isinstance(npy, str) or Path(npy).name != npy or not npy.endswith(".npy")):
        raise bad("files.npy", "must be a .npy file name beside the sidecar")
    return dtype


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


def _activation(meta: dict, pretrained: str) -> str:
    """The activation the map was made with. Sidecars record it since issue 17; an older sidecar of
    a weights file was made with the architecture config's activation (a tag's was decided by
    open_clip then as now)."""
    if meta.get("activation") in ("gelu", "quick_gelu"):
        return meta["activation"]
    from eclip_desktop.core.model.loading import CHECKPOINT_SUFFIXES
    if Path(str(pretrained)).suffix.lower() in CHECKPOINT_SUFFIXES:
        from eclip_desktop.core.model.activation import config_quick_gelu
        from eclip_desktop.core.model.loading import register_project_configs
        register_project_configs()
        return "quick_gelu" if config_quick_gelu(meta["model"]) else "gelu"
    return "auto"


def reproduce_map(sidecar_path: str | Path, device: str | None = None) -> np.ndarray:
    """The float32 H x W map the sidecar describes, recomputed with the core."""
    from eclip_desktop.core.explain.engine import Engine
    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.core.model.loading import ModelSpec

    path = Path(sidecar_path)
    meta = read_sidecar(path)
    v = validate_sidecar(meta, path)
    method = v["method"]
    image = load_image(str(_resolve(meta["image"], path)))
    if meta.get("image_sha256") and image.sha256 != meta["image_sha256"]:
        raise EclipError(f"{meta['image']} is not the image the sidecar was made from (its SHA-256 differs)")
    pretrained = meta["pretrained"]
    from eclip_desktop.core.model.loading import CHECKPOINT_SUFFIXES
    if pretrained not in (None, "random") and Path(str(pretrained)).suffix.lower() in CHECKPOINT_SUFFIXES:
        pretrained = str(_resolve(pretrained, path))
        digest = meta.get("weights_sha256")
        if digest:
            from eclip_desktop.core.export.artifacts import weights_sha256
            if weights_sha256(pretrained) != digest:
                raise ModelError(f"{pretrained} is not the weights file the sidecar was made with (its SHA-256 "
                                 "differs)")
    if pretrained == "random":
        # Untrained weights are drawn afresh at every load; only a saved checkpoint reproduces.
        raise ModelError("the sidecar names random (untrained) weights, which cannot be reloaded; "
                         "save them to a checkpoint and pass that as --pretrained to make maps reproducible")
    dev = _device(meta.get("device"), device)
    # The recorded precision only applies on the recorded kind of device (bf16 is refused on a CPU).
    same = dev == str(meta.get("device") or "").split(":")[0]
    # Checkpoints load through the weights-only readers (core/model/loading): a file that carries code
    # is refused, never run.
    spec = ModelSpec(meta["model"], pretrained, dev, v["dtype"] if same else "auto",
                     _activation(meta, pretrained))
    if method == CONVIS:
        from eclip_desktop.core.export.reproduce_convis import convis_map
        return convis_map(image, v, spec, lambda given: _resolve(given, path))
    engine = Engine.load(spec)
    pooling = v["pooling"]
    labels = v["labels"]
    if method == "contribution":
        # The contribution depends on the pooling only; any label set gives the same map.
        exp = engine.explain(image, labels[:1] or ["a photo"], method="itsm", poolings=[pooling],
                             input_size=v["input_size"], tau=v["tau"])
        return exp.contributions[pooling].astype(np.float32)
    # The whole label set is passed: a method may use the other labels (CLIP Surgery's redundancy).
    exp = engine.explain(image, labels, method=method, poolings=[pooling], ensemble=v["ensemble"],
                         input_size=v["input_size"], tau=v["tau"],
                         method_options=v["method_options"])
    return exp.heatmaps[v["index"]].values.astype(np.float32)


def saved_npy(sidecar_path: str | Path) -> Path:
    path = Path(sidecar_path)
    meta = read_sidecar(path)
    name = (meta.get("files") or {}).get("npy") or path.with_suffix(".npy").name
    return path.parent / name


def reproduce_check(sidecar_path: str | Path, device: str | None = None) -> tuple[np.ndarray, float, Path]:
    """(recomputed map, max |recomputed - saved|, saved .npy path)."""
    validate_sidecar(read_sidecar(sidecar_path), Path(sidecar_path))  # before the map is read or any work
    npy = saved_npy(sidecar_path)
    meta = read_sidecar(sidecar_path)
    w, h = meta.get("image_size") or (MAX_MAP_SIDE, MAX_MAP_SIDE)
    # Header first: a pickled (object) array is refused, a header claiming more values than the
    # image has pixels allocates nothing.
    saved = load_npy(npy, lambda why: OutputError(f"cannot read the saved map {shown(npy)}: {why}"),
                     max_items=max(int(w) * int(h), 1))
    if saved.ndim != 2 or not np.issubdtype(saved.dtype, np.floating):
        raise OutputError(f"the saved map {npy} is not a 2-D float map ({saved.dtype}, shape {saved.shape})")
    values = reproduce_map(sidecar_path, device=device)
    if saved.shape != values.shape:
        raise EclipError(f"the saved map {npy} is {saved.shape}, the recomputed one {values.shape}")
    diff = float(np.max(np.abs(values.astype(np.float64) - saved.astype(np.float64)))) if values.size else 0.0
    return values, diff, npy


def grid_maps(sidecar_path: str | Path) -> list[Path] | None:
    """For a grid sidecar (`export --grid`): the sidecars of its tiles' maps, beside it; None for any
    other sidecar. A grid has no map of its own: it reproduces when every tile's map does."""
    path = Path(sidecar_path)
    try:
        meta = read_sidecar_json(path)
    except EclipError:
        return None  # read_sidecar reports it
    if not str(meta.get("method", "")).startswith("grid-"):
        return None
    sources = meta.get("tile_sources")
    if not isinstance(sources, list) or not sources:
        raise EclipError(f"{path} is a grid sidecar without tile_sources; it cannot be checked")
    names = [s.get("map") if isinstance(s, dict) else None for s in sources]
    if not all(isinstance(n, str) and n and Path(n).name == n for n in names):
        raise EclipError(f"{path}: a grid exported from the window has no map files of its own; export "
                         "each map (Export Map) to reproduce it")
    return [path.parent / f"{n}.json" for n in names]

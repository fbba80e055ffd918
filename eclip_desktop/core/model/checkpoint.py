"""The training checkpoint, <out>/<name>.ckpt.pt: written by `train` every few steps and read in
three places — `--resume`, `--init` of a new run, and `--pretrained` to explore a run that is
still going. One format, one reader."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from eclip_desktop.core.model.sizes import check_file_fits

SUFFIX = ".ckpt.pt"


def is_checkpoint_name(path: str | os.PathLike) -> bool:
    return Path(path).name.lower().endswith(SUFFIX)


def write_checkpoint(path: Path, state: dict) -> None:
    # Written aside and renamed, so a run killed mid-write leaves the previous checkpoint intact.
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The file's dict. Loaded with `weights_only`: tensors, numbers, strings and containers only, so
    a pickle that carries code is refused instead of run. Raises OSError or ValueError."""
    check_file_fits(path, ValueError)  # read whole below: sized from its zip records first
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # the unpickler raises UnpicklingError, RuntimeError, EOFError …
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"not a weights file torch can read safely ({first})") from exc
    if not isinstance(state, dict):
        raise ValueError(f"holds a {type(state).__name__}, not a dict of weights")
    return state


def checkpoint_weights(state: dict) -> dict | None:
    """The model's state dict when `state` is a training checkpoint (weights and optimiser), else None."""
    if isinstance(state.get("model"), dict) and "optimizer" in state:
        return state["model"]
    return None

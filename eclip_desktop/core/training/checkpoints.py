"""A run's checkpoint (`<name>.ckpt.pt` next to its outputs): written periodically and on cancel,
read back by --resume, which refuses one that belongs to another run."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from eclip_desktop.core.model.checkpoint import read_checkpoint, write_checkpoint
from eclip_desktop.core.training.config import TrainConfig, TrainingError


def check_finite_weights(model, step: int) -> None:
    # The loss can still be finite on the step whose update made the weights NaN/inf.
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise TrainingError(f"the weights became NaN/inf by step {step} ({name}); nothing was written: "
                                "lower --lr")


def save_checkpoint(path: Path, model, opt, step: int, cfg: TrainConfig, elapsed: float) -> None:
    check_finite_weights(model, step)
    write_checkpoint(path, {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                            "architecture": cfg.architecture, "pooling": cfg.pooling, "config": asdict(cfg),
                            "elapsed": elapsed})


def load_checkpoint(path: Path, model, opt, cfg: TrainConfig) -> tuple[int, float]:
    """Restores model and optimiser; returns (the step to continue at, seconds already spent)."""
    try:
        state = read_checkpoint(path)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot read checkpoint {path}: {exc}") from exc
    if state.get("architecture") != cfg.architecture:
        raise TrainingError(f"checkpoint {path} is for architecture {state.get('architecture')}, not "
                            f"{cfg.architecture}; resume with the same --model or start a new --out")
    if state.get("pooling") != cfg.pooling:
        raise TrainingError(f"checkpoint {path} was trained with pooling {state.get('pooling')}, not {cfg.pooling}")
    saved = state.get("config") or {}
    # The data a run continues on is part of what it is: a fresh-scene stream picks up at the step it
    # stopped at, a fixed set is drawn from by seed; mixing them would train on something else.
    for key, flag in (("fresh_scenes", "--fresh-scenes"), ("data_seed", "--data-seed")):
        if key in saved and saved[key] != getattr(cfg, key):
            raise TrainingError(f"checkpoint {path} was trained with {flag} {saved[key]!r}, not "
                                f"{getattr(cfg, key)!r}; resume with the same {flag} or start a new --out")
    try:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise TrainingError(f"checkpoint {path} does not fit this model: {str(exc).splitlines()[0]}") from exc
    return int(state["step"]), float(state.get("elapsed", 0.0))

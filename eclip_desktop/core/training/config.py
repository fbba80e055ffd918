"""What a training run is (TrainConfig) and the checks that refuse a bad one before any data is made
or a model is built; the option parsers and the learning-rate schedule that read it."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.model.checkpoint import SUFFIX as CHECKPOINT_SUFFIX
from eclip_desktop.core.model.poolings import POOLINGS, pooling_names
from eclip_desktop.core.training import recipe


class TrainingError(EclipError):
    """Training cannot start or resume (bad data, mismatched checkpoint)."""


@dataclass
class TrainConfig:
    pooling: str = "masked_max"
    architecture: str = recipe.ARCHITECTURE  # defaults: the embedded family's recipe
    pretrained: str | None = None  # set: fine-tune these weights (text tower frozen)
    init: str | None = None  # set: a from-scratch run starts from these weights (resized to this size)
    data: str = "shapes"  # 'shapes' or a caption folder / manifest
    scenes: int = recipe.SCENES
    # Shapes World only: every batch new scenes drawn on demand (no fixed set, nothing cached or
    # repeated; --scenes is then unused). The fix for a base that memorises its training scenes.
    fresh_scenes: bool = False
    steps: int = recipe.STEPS
    batch_size: int = recipe.BATCH_SIZE
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 100
    tau: str = "mean"
    topk: float = 0.25
    seed: int = 0
    data_seed: int = 0
    unlock_blocks: int = 1
    device: str = "auto"
    amp: bool = True
    out: str = "runs"
    name: str | None = None
    checkpoint_every: int = 250
    resume: bool = False
    overwrite: bool = False  # replace an existing <name>.safetensors / .json (else refused before any work)
    # Shapes World caption kinds: 'all', 'a,b' (equal odds) or 'a:0.5,b:0.2'
    captions: str = recipe.CAPTIONS
    objects: str = recipe.OBJECTS  # Shapes World objects per training scene: 'N' or 'MIN-MAX'
    schedule: str = "cosine"  # learning rate after warmup: 'cosine' decay to 0 or 'constant'
    eval_every: int = 0  # steps between zero-shot probes on held-out scenes (Shapes World only)
    # Masked-max fine-tunes from weights not trained with native pooling are refused (core/training/guide.py).
    allow_untrained_guide: bool = False
    # Fine-tuning masked max: whose free attention guides the mask (default: the --pretrained weights
    # themselves). E.g. the remedy from a shifted sibling, guided by the family's base.
    guide: str | None = None
    extra: dict = field(default_factory=dict)

    def run_name(self) -> str:
        return self.name or self.pooling

    def checkpoint_path(self) -> Path:
        return Path(self.out) / f"{self.run_name()}{CHECKPOINT_SUFFIX}"

    def uses_guide(self) -> bool:
        """A fine-tune whose pooling keeps tokens by free attention: a frozen copy supplies it."""
        return bool(self.pretrained) and self.pooling in POOLINGS and POOLINGS[self.pooling].uses_free_attention


def parse_caption_kinds(text: str) -> dict[str, float] | None:
    """'all' -> None (the generator's default mix); 'a,b' -> equal odds; 'a:0.5,b:0.2' -> weights."""
    from eclip_desktop.core.shapes import CAPTION_KINDS
    if text.strip() == "all":
        return None
    weights: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, w = part.partition(":")
        if name not in CAPTION_KINDS:
            raise TrainingError(f"unknown caption kind '{name}'; known: {', '.join(CAPTION_KINDS)} (or 'all')")
        try:
            weights[name] = float(w) if w else 1.0
        except ValueError:
            raise TrainingError(f"caption weight '{w}' for '{name}' is not a number") from None
        if not weights[name] >= 0:
            raise TrainingError(f"caption weight for '{name}' must be >= 0, got {w}")
    if not weights or not any(weights.values()):
        raise TrainingError(f"--captions '{text}' names no caption kind with a positive weight")
    return weights


def parse_objects(text: str) -> tuple[int, int]:
    from eclip_desktop.core.shapes.world import MAX_OBJECTS
    lo, _, hi = str(text).partition("-")
    try:
        rng = (int(lo), int(hi or lo))
    except ValueError:
        raise TrainingError(f"--objects must be N or MIN-MAX, got '{text}'") from None
    if not 1 <= rng[0] <= rng[1] <= MAX_OBJECTS:
        raise TrainingError(f"--objects must lie within 1..{MAX_OBJECTS} with MIN <= MAX, got '{text}'")
    return rng


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def check_config(cfg: TrainConfig) -> None:
    """Every number of the run and the output rule, before any data is made or a model is built."""
    if cfg.steps < 1 or cfg.batch_size < 2:
        raise TrainingError("need at least 1 step and a batch of at least 2 (contrastive loss)")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise TrainingError(f"--lr must be a positive number, got {cfg.lr}")
    if not math.isfinite(cfg.weight_decay) or cfg.weight_decay < 0:
        raise TrainingError(f"weight decay must be 0 or more, got {cfg.weight_decay}")
    if cfg.fresh_scenes and cfg.data != "shapes":
        raise TrainingError("--fresh-scenes draws Shapes World scenes; it does not apply to --data "
                            f"{cfg.data}")
    if cfg.data == "shapes" and cfg.scenes < 2:
        raise TrainingError(f"--scenes must be at least 2 (a contrastive batch needs two scenes), got {cfg.scenes}")
    for flag, value in (("--warmup", cfg.warmup), ("--checkpoint-every", cfg.checkpoint_every),
                        ("--eval-every", cfg.eval_every), ("--unlock-blocks", cfg.unlock_blocks)):
        if value < 0:
            raise TrainingError(f"{flag} must be 0 or more, got {value}")
    ckpt = cfg.checkpoint_path()
    if cfg.resume and not ckpt.is_file():
        raise TrainingError(f"--resume: there is no checkpoint {ckpt} to continue from; run without "
                            "--resume to start a new run")
    if not cfg.overwrite and int(os.environ.get("RANK", "0")) == 0:
        for target in (Path(cfg.out) / f"{cfg.run_name()}.safetensors", Path(cfg.out) / f"{cfg.run_name()}.json"):
            if os.path.lexists(target):
                raise TrainingError(f"{target} exists; pass --overwrite to replace it, or choose another "
                                    "--out/--name")


def check_run(cfg: TrainConfig) -> tuple[dict[str, float] | None, tuple[int, int]]:
    """All of train()'s refusals, in the order it has always given them; returns the parsed
    (caption kinds, objects per scene)."""
    if cfg.pooling not in pooling_names():
        raise TrainingError(f"unknown pooling '{cfg.pooling}': choose one of {', '.join(pooling_names())}")
    if cfg.steps < 1 or cfg.batch_size < 2:
        raise TrainingError("need at least 1 step and a batch of at least 2 (contrastive loss)")
    if cfg.init and cfg.pretrained:
        raise TrainingError("--init continues a Shapes World run from earlier weights; --pretrained fine-tunes "
                            "a pretrained CLIP: give one of them")
    if cfg.schedule not in ("cosine", "constant"):
        raise TrainingError(f"unknown schedule '{cfg.schedule}': choose cosine or constant")
    check_config(cfg)
    kinds, n_objects = parse_caption_kinds(cfg.captions), parse_objects(cfg.objects)
    if cfg.guide and not cfg.uses_guide():
        guided = " or ".join(p.name for p in POOLINGS.values() if p.uses_free_attention)
        raise TrainingError("--guide names the free attention of a fine-tune whose pooling keeps tokens by it: "
                            f"use it with --pooling {guided} and --pretrained")
    if POOLINGS[cfg.pooling].uses_free_attention:
        from eclip_desktop.core.training.guide import architecture_kind, no_guide_reason
        why = no_guide_reason(architecture_kind(cfg.architecture), cfg.pooling)
        if why:
            raise TrainingError(f"{cfg.architecture}: {why}")
    if cfg.uses_guide() and not cfg.allow_untrained_guide:
        from eclip_desktop.core.training.guide import architecture_kind, untrained_guide_reason
        reason = untrained_guide_reason(cfg.guide or cfg.pretrained, architecture_kind(cfg.architecture),
                                        "--guide" if cfg.guide else "--pretrained")
        if reason:
            raise TrainingError(reason)
    return kinds, n_objects

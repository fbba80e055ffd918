"""`eclip-desktop train`: a small CLIP from scratch on Shapes World, or a pretrained CLIP fine-tuned on
an image-caption folder, with any registered pooling of the image embedding.

The run's parts are in their own modules: config (TrainConfig and its checks), build (model, guide,
optimiser), batches (data), step (one update), checkpoints (periodic, cancel, --resume), probe
(zero-shot during training), card (weights and model card), distributed (torchrun).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import open_clip
import torch

from eclip_desktop.core.errors import CancelledError
from eclip_desktop.core.io.atomic import ensure_writable_dir
from eclip_desktop.core.training.batches import Batches
from eclip_desktop.core.training.build import build_model, build_optimizer
from eclip_desktop.core.training.card import model_card, update_card, write_outputs
from eclip_desktop.core.training.checkpoints import check_finite_weights, load_checkpoint, save_checkpoint
from eclip_desktop.core.training.config import (
    TrainConfig,
    TrainingError,
    check_config,
    check_run,
    lr_at,
    parse_caption_kinds,
    parse_objects,
)
from eclip_desktop.core.training.distributed import join_group, leave_group, process_group, rank_device
from eclip_desktop.core.training.probe import ZeroShotProbe
from eclip_desktop.core.training.step import TrainStep

# What other modules import from here (the CLI, family runs, scripts, tests).
__all__ = ["TrainConfig", "TrainingError", "check_config", "parse_caption_kinds", "parse_objects", "process_group",
           "train", "update_card"]


class _Averages:
    """Exponential moving averages of loss and batch accuracy (the card's final_loss / final_batch_acc)."""

    def __init__(self):
        self.loss: float | None = None
        self.acc: float | None = None

    def add(self, loss: float, acc: float) -> None:
        self.loss = loss if self.loss is None else 0.95 * self.loss + 0.05 * loss
        self.acc = acc if self.acc is None else 0.95 * self.acc + 0.05 * acc


def _use_thread_share() -> None:
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))  # a background run on a shared CPU stays within its share


def _reports_at(step: int, start: int, steps: int) -> bool:
    """The first step of a (resumed) run, every 25th and the last."""
    return step == start or (step + 1) % 25 == 0 or step + 1 == steps


def train(cfg: TrainConfig, progress: Callable[[dict], None] | None = None,
          cancelled: Callable[[], bool] | None = None) -> dict:
    """Runs training; returns the model card (also written next to the weights by rank 0)."""
    kinds, n_objects = check_run(cfg)
    _use_thread_share()
    rank, world, owns_group = join_group()
    device = rank_device(cfg.device, world)
    out = ensure_writable_dir(cfg.out) if rank == 0 else Path(cfg.out)
    model, guide, kind, params = build_model(cfg, device)
    size = int(model.visual.image_size if isinstance(model.visual.image_size, int) else model.visual.image_size[0])
    tokenizer = open_clip.get_tokenizer(cfg.architecture)
    batches = Batches(cfg, size, tokenizer, kinds, n_objects, rank, world)
    opt = build_optimizer(model, params, cfg)
    ckpt = cfg.checkpoint_path()
    start, elapsed_before = load_checkpoint(ckpt, model, opt, cfg) if cfg.resume else (0, 0.0)
    batches.begin(start)
    probe = ZeroShotProbe(tokenizer, size, device) if cfg.eval_every and cfg.data == "shapes" and rank == 0 else None
    one_step = TrainStep(model, guide, kind, params, opt, cfg, device, world)
    history: list[dict] = []
    averages = _Averages()
    t0 = time.perf_counter()
    try:
        for step in range(start, cfg.steps):
            if cancelled and cancelled():
                if rank == 0:
                    save_checkpoint(ckpt, model, opt, step, cfg, elapsed_before + time.perf_counter() - t0)
                raise CancelledError(f"training cancelled at step {step}; resume with --resume")
            averages.add(*one_step(step, *batches.next()))
            if _reports_at(step, start, cfg.steps):
                info = {"step": step + 1, "steps": cfg.steps, "loss": averages.loss, "acc": averages.acc,
                        "lr": lr_at(step, cfg), "s_per_step": (time.perf_counter() - t0) / (step + 1 - start), "rank": rank}
                if probe is not None and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps):
                    info["zero_shot"] = probe(model, kind, cfg, guide)
                history.append({k: info[k] for k in ("step", "loss", "acc", "zero_shot") if k in info})
                if progress and rank == 0:
                    progress(info)
            if rank == 0 and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
                save_checkpoint(ckpt, model, opt, step + 1, cfg, elapsed_before + time.perf_counter() - t0)
    finally:
        batches.close()  # the fresh-scene worker stops with the run, however it ends
    card = model_card(cfg, batches.card(), world, device, elapsed_before + time.perf_counter() - t0,
                      averages.loss, averages.acc, history)
    if rank == 0:
        check_finite_weights(model, cfg.steps)
        write_outputs(out, model, cfg, card)
        if ckpt.is_file():
            ckpt.unlink()
    leave_group(world, owns_group)
    return card

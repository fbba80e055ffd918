"""`eclip-desktop train`: a small CLIP from scratch on Shapes World, or a pretrained CLIP fine-tuned on
an image-caption folder, with any pooling of the image embedding.

Multi-GPU runs go through `torchrun`; gradients are averaged across ranks by an all-reduce after
each backward (the same arithmetic as DistributedDataParallel, without wrapping the model, since
the pooled embedding is computed outside the model's own forward).
"""
from __future__ import annotations

import copy
import json
import math
import os
import platform
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import open_clip
import torch
import torch.distributed as dist
from safetensors.torch import save_file

from eclip_desktop import __version__
from eclip_desktop.core.errors import CancelledError, EclipError
from eclip_desktop.core.io.atomic import atomic_write_json, ensure_writable_dir
from eclip_desktop.core.model.checkpoint import SUFFIX as CHECKPOINT_SUFFIX
from eclip_desktop.core.model.checkpoint import read_checkpoint, write_checkpoint
from eclip_desktop.core.model.device import resolve_device
from eclip_desktop.core.model.loading import (
    ModelSpec,
    load_model,
    quiet_open_clip,
    register_project_configs,
    visual_kind,
)
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.model.text import encode_text_trimmed
from eclip_desktop.core.training import recipe
from eclip_desktop.core.training.data import caption_folder_data, fresh_scene_batches, shapes_training_data
from eclip_desktop.core.training.init_weights import load_resized
from eclip_desktop.core.training.objective import contrastive_loss, pooled_for_training

_MEAN = (0.48145466, 0.4578275, 0.40821073)
_STD = (0.26862954, 0.26130258, 0.27577711)


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


def _distributed() -> tuple[int, int, bool]:
    """(rank, world size, whether this call created the process group)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    created = world > 1 and not dist.is_initialized()
    if created:
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world, created) if world > 1 else (0, 1, False)


@contextmanager
def process_group():
    """Several train() calls in one torchrun process share one process group: once destroyed, a
    group cannot be made again in that process (the rendezvous keys are spent)."""
    _, world, created = _distributed()
    try:
        yield
    finally:
        if created:
            dist.destroy_process_group()


def _build(cfg: TrainConfig, device: torch.device):
    """(model, guide visual or None, kind, trainable parameters)."""
    register_project_configs()
    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    if cfg.pretrained:
        handle = load_model(ModelSpec(cfg.architecture, cfg.pretrained, str(device), "fp32"))
        model = handle.model
        kind = handle.kind
        model.requires_grad_(False)
        visual = model.visual
        if kind == "vit":
            blocks = list(visual.transformer.resblocks)[-max(1, cfg.unlock_blocks):]
            train_parts = [*blocks, visual.ln_post]
            extra = [visual.proj] if visual.proj is not None else []
        else:
            train_parts, extra = [visual.attnpool], []
            if cfg.unlock_blocks > 1:
                train_parts.append(visual.layer4)
        for part in train_parts:
            part.requires_grad_(True)
        for p in extra:
            p.requires_grad_(True)
        guide = None
        if cfg.pooling == "masked_max":
            source = visual
            if cfg.guide:
                source = load_model(ModelSpec(cfg.architecture, cfg.guide, str(device), "fp32")).model.visual
            guide = copy.deepcopy(source).eval().requires_grad_(False)
    else:
        try:
            with quiet_open_clip():
                model = open_clip.create_model(cfg.architecture, pretrained=None)
        except RuntimeError as exc:
            raise TrainingError(f"unknown architecture '{cfg.architecture}': {exc}") from exc
        kind = visual_kind(model.visual)
        guide = None
        if cfg.init:
            try:
                load_resized(model, cfg.init)
            except EclipError as exc:
                raise TrainingError(str(exc)) from exc
    model = model.to(device).train()
    if cfg.pretrained:
        model.eval()  # batch-norm statistics of a pretrained ResNet stay as they are
    params = [p for p in model.parameters() if p.requires_grad]
    return model, guide, kind, params


def _optimizer(model, params, cfg: TrainConfig):
    trainable = {id(p) for p in params}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if id(p) not in trainable:
            continue
        (no_decay if p.ndim < 2 or "embedding" in name or "logit_scale" in name else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr, betas=(0.9, 0.98))


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


def _lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return cfg.lr
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _pixels(batch: np.ndarray, device) -> torch.Tensor:
    x = torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(_STD, device=device).view(1, 3, 1, 1)
    return (x - mean) / std


def _checkpoint_path(cfg: TrainConfig) -> Path:
    return Path(cfg.out) / f"{cfg.run_name()}{CHECKPOINT_SUFFIX}"


def _check_finite_weights(model, step: int) -> None:
    # The loss can still be finite on the step whose update made the weights NaN/inf.
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise TrainingError(f"the weights became NaN/inf by step {step} ({name}); nothing was written: "
                                "lower --lr")


def _save_checkpoint(path: Path, model, opt, step: int, cfg: TrainConfig, elapsed: float) -> None:
    _check_finite_weights(model, step)
    write_checkpoint(path, {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                            "architecture": cfg.architecture, "pooling": cfg.pooling, "config": asdict(cfg),
                            "elapsed": elapsed})


def _load_checkpoint(path: Path, model, opt, cfg: TrainConfig) -> tuple[int, float]:
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


class ZeroShotProbe:
    """Top-1 shape accuracy on held-out single-object scenes, with the pooling being trained."""

    def __init__(self, tokenizer, size: int, device, count: int = 256):
        from eclip_desktop.core.evaluation.evaluate import HELD_OUT_SEED
        from eclip_desktop.core.shapes import class_names, generate_scene, prompt_for
        scenes = [generate_scene(HELD_OUT_SEED + 1, i, size=size, n_objects=1) for i in range(count)]
        self.classes = class_names()
        self.images = np.stack([s.image for s in scenes])
        self.labels = torch.tensor([self.classes.index(s.objects[0].shape) for s in scenes])
        self.prompts = tokenizer([prompt_for(c) for c in self.classes]).to(device)
        self.device = device

    @torch.no_grad()
    def __call__(self, model, kind: str, cfg: TrainConfig, guide=None) -> float:
        was_training = model.training
        model.eval()
        txt = torch.nn.functional.normalize(model.encode_text(self.prompts).float(), dim=-1)
        img = pooled_for_training(model.visual, kind, _pixels(self.images, self.device), cfg.pooling,
                                  cfg.tau, cfg.topk, guide)
        pred = (torch.nn.functional.normalize(img.float(), dim=-1) @ txt.T).argmax(1).cpu()
        model.train(was_training)
        return float((pred == self.labels).float().mean())


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
    ckpt = _checkpoint_path(cfg)
    if cfg.resume and not ckpt.is_file():
        raise TrainingError(f"--resume: there is no checkpoint {ckpt} to continue from; run without "
                            "--resume to start a new run")
    if not cfg.overwrite and int(os.environ.get("RANK", "0")) == 0:
        for target in (Path(cfg.out) / f"{cfg.run_name()}.safetensors", Path(cfg.out) / f"{cfg.run_name()}.json"):
            if os.path.lexists(target):
                raise TrainingError(f"{target} exists; pass --overwrite to replace it, or choose another "
                                    "--out/--name")


def _as_is(item):
    return item


def _one_thread(_worker_id: int) -> None:
    torch.set_num_threads(1)


class _FreshScenes(torch.utils.data.IterableDataset):
    def __init__(self, cfg: TrainConfig, size: int, kinds, n_objects, start: int, rank: int, world: int):
        super().__init__()
        self.args = (cfg.data_seed, size, cfg.batch_size, start, cfg.steps, rank, world, kinds, n_objects)

    def __iter__(self):
        return fresh_scene_batches(*self.args)


def _fresh_stream(cfg: TrainConfig, size: int, kinds, n_objects, start: int, rank: int, world: int):
    """The batches of a --fresh-scenes run from `start` on, drawn by one worker process ahead of the
    training loop (on a 2-core machine it uses the core training leaves free)."""
    loader = torch.utils.data.DataLoader(_FreshScenes(cfg, size, kinds, n_objects, start, rank, world),
                                         batch_size=None, collate_fn=_as_is, num_workers=1, prefetch_factor=4,
                                         worker_init_fn=_one_thread)
    return iter(loader)


def train(cfg: TrainConfig, progress: Callable[[dict], None] | None = None,
          cancelled: Callable[[], bool] | None = None) -> dict:
    """Runs training; returns the model card (also written next to the weights by rank 0)."""
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
    if cfg.guide and not (cfg.pretrained and cfg.pooling == "masked_max"):
        raise TrainingError("--guide names the free attention of a masked-max fine-tune: use it with "
                            "--pooling masked_max and --pretrained")
    if cfg.pretrained and cfg.pooling == "masked_max" and not cfg.allow_untrained_guide:
        from eclip_desktop.core.training.guide import architecture_kind, untrained_guide_reason
        reason = untrained_guide_reason(cfg.guide or cfg.pretrained, architecture_kind(cfg.architecture),
                                        "--guide" if cfg.guide else "--pretrained")
        if reason:
            raise TrainingError(reason)
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))  # a background run on a shared CPU stays within its share
    rank, world, owns_group = _distributed()
    device = resolve_device(cfg.device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    out = ensure_writable_dir(cfg.out) if rank == 0 else Path(cfg.out)
    model, guide, kind, params = _build(cfg, device)
    size = int(model.visual.image_size if isinstance(model.visual.image_size, int) else model.visual.image_size[0])
    t_data = time.perf_counter()
    tokenizer = open_clip.get_tokenizer(cfg.architecture)
    data = None
    if cfg.fresh_scenes:
        n, source, skipped = cfg.steps * cfg.batch_size * world, f"shapes:fresh:{cfg.data_seed}", 0
    else:
        data = (shapes_training_data(cfg.data_seed, cfg.scenes, size, kinds, n_objects) if cfg.data == "shapes"
                else caption_folder_data(cfg.data, size))
        n, source, skipped = len(data.captions), data.source, len(data.skipped)
        tokens = tokenizer(data.captions)
        caption_ids = torch.tensor(np.unique(np.array(data.captions), return_inverse=True)[1])
    data_s = time.perf_counter() - t_data
    opt = _optimizer(model, params, cfg)
    ckpt = _checkpoint_path(cfg)
    start, elapsed_before = 0, 0.0
    if cfg.resume:
        start, elapsed_before = _load_checkpoint(ckpt, model, opt, cfg)
    text_frozen = bool(cfg.pretrained)
    amp = cfg.amp and device.type == "cuda"
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + rank + 7919 * start)
    stream = _fresh_stream(cfg, size, kinds, n_objects, start, rank, world) if cfg.fresh_scenes else None
    probe = ZeroShotProbe(tokenizer, size, device) if cfg.eval_every and cfg.data == "shapes" and rank == 0 else None
    history, ema_loss, ema_acc = [], None, None
    t0 = time.perf_counter()
    step = start
    for step in range(start, cfg.steps):
        if cancelled and cancelled():
            if rank == 0:
                _save_checkpoint(ckpt, model, opt, step, cfg, elapsed_before + time.perf_counter() - t0)
            raise CancelledError(f"training cancelled at step {step}; resume with --resume")
        for g in opt.param_groups:
            g["lr"] = _lr_at(step, cfg)
        if stream is not None:
            images, captions = next(stream)
            batch_tokens = tokenizer(captions)
            batch_ids = torch.tensor(np.unique(np.array(captions), return_inverse=True)[1])
        else:
            idx = torch.randint(0, n, (min(cfg.batch_size, n),), generator=gen)
            images, batch_tokens, batch_ids = data.images[idx.numpy()], tokens[idx], caption_ids[idx]
        pixels = _pixels(images, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            img = pooled_for_training(model.visual, kind, pixels, cfg.pooling, cfg.tau, cfg.topk, guide)
            with torch.set_grad_enabled(not text_frozen):
                txt = encode_text_trimmed(model, batch_tokens.to(device))
        loss, acc = contrastive_loss(img, txt, model.logit_scale, batch_ids.to(device))
        if not math.isfinite(float(loss.detach())):
            # Weights that went NaN/inf would be saved as a model that explains nothing: stop, write nothing.
            raise TrainingError(f"the loss became {float(loss.detach())} at step {step + 1} (learning rate "
                                f"{_lr_at(step, cfg):g}); nothing was written: lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if world > 1:
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                dist.all_reduce(p.grad)
                p.grad /= world
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        lv, av = float(loss.detach()), float(acc)
        ema_loss = lv if ema_loss is None else 0.95 * ema_loss + 0.05 * lv
        ema_acc = av if ema_acc is None else 0.95 * ema_acc + 0.05 * av
        if step == start or (step + 1) % 25 == 0 or step + 1 == cfg.steps:
            spent = time.perf_counter() - t0
            info = {"step": step + 1, "steps": cfg.steps, "loss": ema_loss, "acc": ema_acc,
                    "lr": _lr_at(step, cfg), "s_per_step": spent / (step + 1 - start), "rank": rank}
            if probe is not None and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps):
                info["zero_shot"] = probe(model, kind, cfg, guide)
            history.append({k: info[k] for k in ("step", "loss", "acc", "zero_shot") if k in info})
            if progress and rank == 0:
                progress(info)
        if rank == 0 and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
            _save_checkpoint(ckpt, model, opt, step + 1, cfg, elapsed_before + time.perf_counter() - t0)
    wall = elapsed_before + time.perf_counter() - t0
    card = {
        "format": "eclip-desktop-model-card", "version": 1, "name": cfg.run_name(),
        "architecture": cfg.architecture, "pooling": cfg.pooling, "tau": cfg.tau,
        "init": cfg.pretrained or cfg.init or "scratch", "config": asdict(cfg),
        "model_config": open_clip.get_model_config(cfg.architecture),
        "data": {"source": source, "items": n, "skipped": skipped, "seed": cfg.data_seed,
                 "prepare_seconds": data_s, "fresh_scenes": cfg.fresh_scenes},
        "steps": cfg.steps, "world_size": world, "device": str(device),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "torch": torch.__version__,
        "wall_seconds": wall, "final_loss": ema_loss, "final_batch_acc": ema_acc, "history": history,
        "eclip_desktop": __version__, "weights": f"{cfg.run_name()}.safetensors",
    }
    if rank == 0:
        _check_finite_weights(model, cfg.steps)
        state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()}
        tmp = out / f".{cfg.run_name()}.safetensors.tmp"
        save_file(state, str(tmp), metadata={"architecture": cfg.architecture, "pooling": cfg.pooling,
                                                 "tau": cfg.tau})
        os.replace(tmp, out / f"{cfg.run_name()}.safetensors")
        atomic_write_json(out / f"{cfg.run_name()}.json", card)
        if ckpt.is_file():
            ckpt.unlink()
    if world > 1:
        dist.barrier()
        if owns_group:
            dist.destroy_process_group()
    return card


def update_card(path: Path, **fields) -> dict:
    card = json.loads(Path(path).read_text())
    card.update(fields)
    atomic_write_json(path, card)
    return card

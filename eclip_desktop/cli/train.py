"""`train`: a small CLIP on Shapes World (or a fine-tune) with a pooling."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

from eclip_desktop.cli.common import add_device_arg, pooling_choices


def cmd_train(args) -> int:
    from eclip_desktop.core.errors import EclipError
    from eclip_desktop.core.model.poolings import pooling_names
    from eclip_desktop.core.training.trainer import process_group
    # --pooling all trains one model per pooling into --out: a family folder, --model DIR elsewhere.
    poolings = pooling_names() if args.pooling == "all" else [args.pooling]
    if args.base_steps is not None and args.guide:
        raise EclipError("--guide applies to one masked-max fine-tune; a family's masked-max sibling is guided by "
                         "its base")
    family_flags = [f for f, v in (("--finetune-steps", args.finetune_steps),
                                   ("--base-pooling", args.base_pooling)) if v]
    if args.base_steps is None and family_flags:
        raise EclipError(f"{family_flags[0]} belongs to a family run: add --base-steps N (the base's length)")
    if args.base_steps is not None:
        if args.steps is not None:
            raise EclipError("--steps sets one run's length; a family run takes --base-steps and --finetune-steps")
        return _train_family(args, poolings)
    if len(poolings) > 1 and args.name:
        raise EclipError("--name names one model; with --pooling all each model is named after its pooling")
    tty = sys.stderr.isatty()

    def progress(info):
        eta = info["s_per_step"] * (info["steps"] - info["step"])
        line = (f"step {info['step']}/{info['steps']}  loss {info['loss']:.3f}  batch acc {info['acc']:.2f}  "
                f"lr {info['lr']:.1e}  {info['s_per_step']:.2f} s/step  eta {eta / 60:.1f} min"
                + (f"  zero-shot {info['zero_shot']:.2f}" if "zero_shot" in info else ""))
        if tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif info["step"] % 100 == 0 or info["step"] in (1, info["steps"]) or "zero_shot" in info:
            print(line, file=sys.stderr, flush=True)

    from eclip_desktop.core.training.trainer import check_config
    configs = [_config(args, pooling) for pooling in poolings]
    for cfg in configs:  # every model's numbers and outputs, before the first one trains
        check_config(cfg)
    from eclip_desktop.core.errors import CancelledError
    with process_group(), _stop_on_signals() as stop:
        for i, cfg in enumerate(configs):
            try:
                _train_one(args, cfg, i, len(configs), progress, tty, stop.is_set)
            except CancelledError as exc:
                if tty:
                    print(file=sys.stderr)
                print(f"eclip-desktop: {exc} (a checkpoint was written)", file=sys.stderr)
                return 130
            except EclipError:
                if tty:
                    print(file=sys.stderr)  # end the progress line so the error has a line of its own
                raise
    return 0


@contextmanager
def _stop_on_signals():
    """SIGTERM and SIGINT end the current step, write a checkpoint and stop, so `--resume` continues
    exactly there and the fresh-scene worker process is shut down; a second signal stops at once."""
    import signal
    import threading
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread() or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        yield stop  # under torchrun each rank would stop at its own step and leave the others waiting
        return

    def on_signal(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print(f"\neclip-desktop: {signal.Signals(signum).name}: stopping after this step", file=sys.stderr, flush=True)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _family_command(args) -> str:
    """The command that makes (or, with --resume, continues) this family, every value spelled out."""
    import shlex
    parts = ["eclip-desktop", "train", "--pooling", args.pooling, "--model", args.model,
             "--base-pooling", args.base_pooling or "native", "--base-steps", str(args.base_steps)]
    for flag, value in (("--init", args.init), ("--scenes", args.scenes), ("--objects", args.objects),
                        ("--captions", args.captions), ("--batch-size", args.batch_size), ("--lr", args.lr),
                        ("--warmup", args.warmup), ("--schedule", args.schedule), ("--seed", args.seed),
                        ("--data-seed", args.data_seed), ("--tau", args.tau),
                        ("--finetune-steps", args.finetune_steps or FINETUNE_DEFAULTS["steps"]),
                        ("--finetune-lr", args.finetune_lr), ("--finetune-batch-size", args.finetune_batch_size),
                        ("--finetune-scenes", args.finetune_scenes), ("--finetune-objects", args.finetune_objects),
                        ("--finetune-warmup", args.finetune_warmup), ("--unlock-blocks", args.unlock_blocks),
                        ("--eval-every", args.eval_every), ("--checkpoint-every", args.checkpoint_every)):
        if value is not None:
            parts += [flag, str(value)]
    if args.allow_untrained_guide:
        parts.append("--allow-untrained-guide")
    if args.fresh_scenes:
        parts.append("--fresh-scenes")
    return " ".join(shlex.quote(p) for p in parts + ["--out", args.out])


FINETUNE_DEFAULTS = {"steps": 400, "lr": 5e-4, "batch_size": 64, "scenes": 8000, "objects": "1-3", "warmup": 20}


def _train_family(args, poolings: list[str]) -> int:
    from eclip_desktop.core.training.family_run import plan_family, run_family
    from eclip_desktop.core.training.trainer import TrainConfig, process_group
    base_pooling = args.base_pooling or "native"
    init = args.init
    if init and Path(init).is_dir():
        init = str(Path(init) / f"{base_pooling}.safetensors")
    base = TrainConfig(pooling=base_pooling, architecture=args.model, init=init, data=args.data,
                       scenes=args.scenes, steps=args.base_steps, batch_size=args.batch_size, lr=args.lr,
                       tau=args.tau, seed=args.seed, data_seed=args.data_seed, device=args.device,
                       amp=not args.no_amp, out=args.out, name=args.name, checkpoint_every=args.checkpoint_every,
                       eval_every=args.eval_every, captions=args.captions, objects=args.objects,
                       schedule=args.schedule, warmup=args.warmup, allow_untrained_guide=args.allow_untrained_guide,
                       fresh_scenes=args.fresh_scenes)
    finetune = {"steps": args.finetune_steps or FINETUNE_DEFAULTS["steps"], "lr": args.finetune_lr,
                "batch_size": args.finetune_batch_size, "scenes": args.finetune_scenes,
                "objects": args.finetune_objects, "warmup": args.finetune_warmup, "unlock_blocks": args.unlock_blocks}
    plan = plan_family(base, poolings, finetune, _family_command(args))
    tty = sys.stderr.isatty()

    def progress(info):
        if info["step"] % 100 == 0 or info["step"] in (1, info["steps"]) or "zero_shot" in info:
            print(f"step {info['step']}/{info['steps']}  loss {info['loss']:.3f}  {info['s_per_step']:.2f} s/step"
                  + (f"  zero-shot {info['zero_shot']:.2f}" if "zero_shot" in info else ""),
                  file=sys.stderr, flush=True)

    with process_group():
        cards = run_family(plan, resume=args.resume, overwrite=args.overwrite, progress=progress,
                           log=lambda line: print(line, file=sys.stderr, flush=True))
    del tty
    print(f"wrote the family ({', '.join(c['pooling'] for c in cards)}) to {args.out}, its base to "
          f"{Path(args.out) / 'base'}", file=sys.stderr)
    return 0


def _config(args, pooling: str):
    from eclip_desktop.core.training import recipe
    from eclip_desktop.core.training.trainer import TrainConfig
    init = args.init
    if init and Path(init).is_dir():  # a family folder: start each pooling from its own sibling
        init = str(Path(init) / f"{pooling}.safetensors")
    cfg = TrainConfig(pooling=pooling, architecture=args.model, pretrained=args.pretrained, init=init,
                      data=args.data,
                      scenes=args.scenes, steps=args.steps if args.steps is not None else recipe.STEPS,
                      batch_size=args.batch_size, lr=args.lr, allow_untrained_guide=args.allow_untrained_guide,
                      guide=args.guide,
                      tau=args.tau, seed=args.seed, data_seed=args.data_seed, unlock_blocks=args.unlock_blocks,
                      device=args.device, amp=not args.no_amp, out=args.out, name=args.name,
                      checkpoint_every=args.checkpoint_every, resume=args.resume,
                      eval_every=args.eval_every, captions=args.captions, objects=args.objects,
                      schedule=args.schedule, warmup=args.warmup, overwrite=args.overwrite,
                      fresh_scenes=args.fresh_scenes)
    return cfg


def _train_one(args, cfg, i: int, n: int, progress, tty: bool, cancelled=None) -> None:
    from eclip_desktop.core.training.trainer import train
    pooling = cfg.pooling
    if n > 1 and int(os.environ.get("RANK", "0")) == 0:
        print(f"training {pooling} ({i + 1}/{n})", file=sys.stderr, flush=True)
    card = train(cfg, progress=progress, cancelled=cancelled)
    if int(os.environ.get("RANK", "0")) != 0:
        return  # under torchrun only rank 0 writes the weights (and reports progress)
    if tty:
        print(file=sys.stderr)
    print(f"wrote {Path(args.out) / card['weights']} and its model card "
          f"({card['wall_seconds'] / 60:.1f} min, final loss {card['final_loss']:.3f})", file=sys.stderr)


def register(sub) -> None:
    from eclip_desktop.core.model.poolings import TAU_CHOICES
    from eclip_desktop.core.training import recipe

    p = sub.add_parser("train", help="train a small CLIP on Shapes World, or fine-tune one, with a pooling")
    p.add_argument("--pooling", required=True, choices=pooling_choices(),
                   help="the pooling to train with; all: one model per pooling into --out (a family folder)")
    p.add_argument("--model", default=recipe.ARCHITECTURE, help="architecture (project configs or open_clip)")
    p.add_argument("--pretrained", default=None, help="fine-tune these weights (tag or file); default: from scratch")
    p.add_argument("--init", default=None,
                   help="start a from-scratch run from these weights (.safetensors or checkpoint) of the same "
                        "architecture family at any input size; positional embeddings are resized, everything trains; "
                        "a folder: its <pooling>.safetensors")
    p.add_argument("--data", default="shapes", help="'shapes' or an image+caption folder / CSV / JSONL manifest")
    p.add_argument("--scenes", type=int, default=recipe.SCENES, help="Shapes World training scenes")
    p.add_argument("--fresh-scenes", action="store_true",
                   help="Shapes World: every batch new scenes drawn on demand by a worker process (none cached "
                        "or seen twice; --scenes unused); with --base-steps, for the base")
    p.add_argument("--captions", default=recipe.CAPTIONS,
                   help="Shapes World caption kinds: all, a comma list of template, short, name, gloss, "
                        "hypernym_gloss, list (every object named), or weighted as template:0.3,name:0.4 "
                        "(default: the family's mix)")
    p.add_argument("--objects", default=recipe.OBJECTS, help="Shapes World objects per training scene: N or MIN-MAX")
    p.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                   help="learning rate after warmup")
    p.add_argument("--warmup", type=int, default=100, help="linear warmup steps")
    p.add_argument("--steps", type=int, default=None, help=f"training steps (default {recipe.STEPS})")
    p.add_argument("--batch-size", type=int, default=recipe.BATCH_SIZE)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--tau", default="mean", choices=TAU_CHOICES)
    p.add_argument("--seed", type=int, default=0, help="weights and batch order")
    p.add_argument("--data-seed", type=int, default=0, help="which Shapes World scenes")
    p.add_argument("--unlock-blocks", type=int, default=1, help="fine-tuning: last visual blocks to train")
    add_device_arg(p)
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    p.add_argument("--out", required=True, help="directory for <name>.safetensors and <name>.json")
    p.add_argument("--name", default=None, help="file name stem (default: the pooling)")
    p.add_argument("--checkpoint-every", type=int, default=250)
    p.add_argument("--eval-every", type=int, default=0, help="zero-shot probe on held-out scenes every N steps")
    p.add_argument("--resume", action="store_true",
                   help="continue from <out>/<name>.ckpt.pt; with --base-steps: continue whichever stage of the "
                        "family was interrupted and skip the finished ones")
    p.add_argument("--allow-untrained-guide", action="store_true",
                   help="fine-tune masked max from weights not trained with native pooling (their class token / "
                        "attention pool is untrained, so the free attention that guides the mask is noise)")
    p.add_argument("--guide", default=None,
                   help="masked-max fine-tune: take the free attention from these weights (a frozen copy) instead "
                        "of --pretrained's, e.g. the family's base when fine-tuning a shifted sibling")
    g = p.add_argument_group("a family in one command (a long base, then every pooling fine-tuned from it)")
    g.add_argument("--base-steps", type=int, default=None,
                   help="train a family: the base runs this many steps with --base-pooling (from scratch, or from "
                        "--init), using --scenes/--batch-size/--lr/--warmup/--objects; written to <out>/base")
    g.add_argument("--base-pooling", default=None, choices=[p for p in pooling_choices() if p != "all"],
                   help="the base's pooling (default native: its class token / attention pool is then trained and "
                        "can guide masked max)")
    g.add_argument("--finetune-steps", type=int, default=None,
                   help=f"each sibling: steps of fine-tuning the base with its pooling (default "
                        f"{400}; text tower frozen, last --unlock-blocks visual blocks trained)")
    g.add_argument("--finetune-lr", type=float, default=5e-4)
    g.add_argument("--finetune-batch-size", type=int, default=64)
    g.add_argument("--finetune-scenes", type=int, default=8000, help="Shapes World scenes for the fine-tunes")
    g.add_argument("--finetune-objects", default="1-3", help="objects per fine-tune scene: N or MIN-MAX")
    g.add_argument("--finetune-warmup", type=int, default=20)
    p.add_argument("--overwrite", action="store_true",
                   help="replace existing outputs (<out>/<name>.safetensors and .json; with --base-steps the "
                        "family's); without it they are refused before training")
    p.set_defaults(func=cmd_train)

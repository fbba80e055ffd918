"""`train`: a small CLIP on Shapes World (or a fine-tune) with a pooling."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from eclip_desktop.cli.common import add_device_arg, pooling_choices


def cmd_train(args) -> int:
    from eclip_desktop.core.errors import EclipError
    from eclip_desktop.core.model.poolings import pooling_names
    from eclip_desktop.core.training.trainer import process_group
    # --pooling all trains one model per pooling into --out: a family folder, --model DIR elsewhere.
    poolings = pooling_names() if args.pooling == "all" else [args.pooling]
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
    with process_group():
        for i, cfg in enumerate(configs):
            try:
                _train_one(args, cfg, i, len(configs), progress, tty)
            except EclipError:
                if tty:
                    print(file=sys.stderr)  # end the progress line so the error has a line of its own
                raise
    return 0


def _config(args, pooling: str):
    from eclip_desktop.core.training.trainer import TrainConfig
    init = args.init
    if init and Path(init).is_dir():  # a family folder: start each pooling from its own sibling
        init = str(Path(init) / f"{pooling}.safetensors")
    cfg = TrainConfig(pooling=pooling, architecture=args.model, pretrained=args.pretrained, init=init,
                      data=args.data,
                      scenes=args.scenes, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                      tau=args.tau, seed=args.seed, data_seed=args.data_seed, unlock_blocks=args.unlock_blocks,
                      device=args.device, amp=not args.no_amp, out=args.out, name=args.name,
                      checkpoint_every=args.checkpoint_every, resume=args.resume,
                      eval_every=args.eval_every, captions=args.captions, objects=args.objects,
                      schedule=args.schedule, warmup=args.warmup, overwrite=args.overwrite)
    return cfg


def _train_one(args, cfg, i: int, n: int, progress, tty: bool) -> None:
    from eclip_desktop.core.training.trainer import train
    pooling = cfg.pooling
    if n > 1 and int(os.environ.get("RANK", "0")) == 0:
        print(f"training {pooling} ({i + 1}/{n})", file=sys.stderr, flush=True)
    card = train(cfg, progress=progress)
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
    p.add_argument("--captions", default=recipe.CAPTIONS,
                   help="Shapes World caption kinds: all, a comma list of template, short, name, gloss, "
                        "hypernym_gloss, or weighted as template:0.3,name:0.4 (default: the family's mix)")
    p.add_argument("--objects", default=recipe.OBJECTS, help="Shapes World objects per training scene: N or MIN-MAX")
    p.add_argument("--schedule", default="cosine", choices=["cosine", "constant"],
                   help="learning rate after warmup")
    p.add_argument("--warmup", type=int, default=100, help="linear warmup steps")
    p.add_argument("--steps", type=int, default=recipe.STEPS)
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
    p.add_argument("--resume", action="store_true", help="continue from <out>/<name>.ckpt.pt")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing <out>/<name>.safetensors and .json (else refused before training)")
    p.set_defaults(func=cmd_train)

"""Train the embedded Shapes World family (one model per pooling) and evaluate each on held-out
scenes; the metrics and the reproducing command go into each model card. The shipped family:

    python packaging/scripts/train_family.py --out resources/models/eclip-shapes

runs `eclip-desktop train --pooling P --out DIR` (the defaults of `train` are the family's recipe)
for every pooling, then the Shapes World evaluation of docs/RESULTS.md. `--skip-training` only
evaluates the models already in DIR (e.g. trained by hand, two at a time) and updates their cards.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eclip_desktop.core.engine import Engine
from eclip_desktop.core.evaluate import evaluate_shapes
from eclip_desktop.core.models import ModelSpec
from eclip_desktop.core.poolings import pooling_names
from eclip_desktop.core.training.trainer import TrainConfig, train, update_card

_FLAGS = {"architecture": "--model", "scenes": "--scenes", "steps": "--steps", "batch_size": "--batch-size",
          "lr": "--lr", "warmup": "--warmup", "schedule": "--schedule", "tau": "--tau", "seed": "--seed",
          "data_seed": "--data-seed", "captions": "--captions", "objects": "--objects"}


def train_command(config: dict, out: str) -> str:
    """The `eclip-desktop train` line that makes the same model (every recipe value spelled out)."""
    parts = ["eclip-desktop", "train", "--pooling", config["pooling"]]
    for key, flag in _FLAGS.items():
        parts += [flag, str(config[key])]
    if config.get("name") and config["name"] != config["pooling"]:
        parts += ["--name", config["name"]]
    return " ".join(parts + ["--out", out])


def evaluate(out: Path, name: str, device: str, scenes: int) -> dict:
    card = json.loads((out / f"{name}.json").read_text())
    engine = Engine.load(ModelSpec(card["architecture"], str(out / f"{name}.safetensors"), device))
    metrics = {m: evaluate_shapes(engine, m, card["pooling"], scenes) for m in ("itsm", "surgery")}
    update_card(out / f"{name}.json", command=train_command(card["config"], str(out)), metrics={
        "protocol": f"Shapes World held-out seed 1000, {scenes} scenes, 1-3 objects; "
                    "zero-shot on seed 1001 single-object scenes", **metrics})
    return {"name": name, "train_min": round(card["wall_seconds"] / 60, 2),
            **{f"{m}_{k}": round(v, 3) for m, r in metrics.items() for k, v in r.items()
               if k in ("pointing", "msc", "miou_fg", "bg_preferred", "zero_shot")}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--poolings", nargs="+", default=pooling_names())
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--eval-scenes", type=int, default=500)
    ap.add_argument("--skip-training", action="store_true", help="only evaluate the models in --out")
    ap.add_argument("--set", nargs="*", default=[], help="TrainConfig overrides, KEY=VALUE")
    args = ap.parse_args(argv)
    overrides = {}
    for kv in args.set:
        key, value = kv.split("=", 1)
        default = getattr(TrainConfig(), key)
        overrides[key] = type(default)(value) if default is not None else value
    for seed in args.seeds:
        for pooling in args.poolings:
            name = pooling if seed == 0 else f"{pooling}_seed{seed}"
            if not args.skip_training:
                train(TrainConfig(pooling=pooling, seed=seed, out=args.out, name=name, device=args.device,
                                  checkpoint_every=0, **overrides))
            print(json.dumps(evaluate(Path(args.out), name, args.device, args.eval_scenes)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

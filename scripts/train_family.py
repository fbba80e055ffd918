"""Train the tiny-ResNet Shapes World family `eclip-shapes` (one model per pooling, each from
scratch) and evaluate each on held-out scenes; the metrics and the reproducing commands go into each
model card. This is that family's recipe only: the default family, `eclip-shapes-vit-ft` (one base,
each pooling fine-tuned from it), is made by one command, `eclip-desktop train --pooling all
--base-steps N …` (its cards' `command`; docs/RESULTS.md), and evaluated by scripts/evaluate_family.py.
The ResNet family:

    python scripts/train_family.py --out resources/models/eclip-shapes

runs, for every pooling, stage 1 `eclip-desktop train --pooling P --out DIR/stage1` (the defaults of
`train`: 128 px) and stage 2 `eclip-desktop train --pooling P --model eclip-tiny-rn224 --init
DIR/stage1/P.safetensors …` (core/training/recipe.py STAGE2), then the Shapes World evaluation of
docs/RESULTS.md. Stage-1 weights already in DIR/stage1 are reused. `--skip-training` only
evaluates the models already in DIR (e.g. trained by hand, two at a time) and updates their cards;
`--stage1 DIR` names where the stage-1 cards are when they are not in DIR/stage1.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eclip_desktop.core.evaluation.evaluate import evaluate_shapes
from eclip_desktop.core.explain.engine import Engine
from eclip_desktop.core.model.loading import ModelSpec
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.training import recipe
from eclip_desktop.core.training.provenance import train_command
from eclip_desktop.core.training.trainer import TrainConfig, train, update_card


def _stage1_summary(stage1: Path, name: str, out: str) -> dict | None:
    path = stage1 / f"{name}.json"
    if not path.is_file():
        return None
    card = json.loads(path.read_text())
    return {"command": train_command(card["config"], out), "architecture": card["architecture"],
            "steps": card["steps"], "wall_seconds": card["wall_seconds"], "history": card["history"],
            "device": card.get("device"), "machine": card.get("machine")}


def evaluate(out: Path, name: str, device: str, scenes: int, stage1: Path) -> dict:
    card = json.loads((out / f"{name}.json").read_text())
    config = dict(card["config"])
    if config.get("init"):  # the card names the stage-1 file by where the recipe writes it
        config["init"] = str(out / "stage1" / Path(config["init"]).name)
    engine = Engine.load(ModelSpec(card["architecture"], str(out / f"{name}.safetensors"), device))
    metrics = {m: evaluate_shapes(engine, m, card["pooling"], scenes) for m in ("itsm", "surgery")}
    fields = {"command": train_command(config, str(out)), "metrics": {
        "protocol": f"Shapes World held-out seed 1000, {scenes} scenes, 1-3 objects; "
                    "zero-shot on seed 1001 single-object scenes", **metrics}}
    first = _stage1_summary(stage1, name, str(out / "stage1"))
    if first:
        fields["stage1"] = first
    update_card(out / f"{name}.json", **fields)
    total = card["wall_seconds"] + (first["wall_seconds"] if first else 0)
    return {"name": name, "train_min": round(total / 60, 2),
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
    ap.add_argument("--stage1", default=None, help="stage-1 models and cards (default: OUT/stage1)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    stage1 = Path(args.stage1) if args.stage1 else out / "stage1"
    for seed in args.seeds:
        for pooling in args.poolings:
            name = pooling if seed == 0 else f"{pooling}_seed{seed}"
            if not args.skip_training:
                common = dict(pooling=pooling, seed=seed, name=name, device=args.device, checkpoint_every=0)
                if not (stage1 / f"{name}.safetensors").is_file():
                    train(TrainConfig(out=str(stage1), **common))
                train(TrainConfig(out=str(out), init=str(stage1 / f"{name}.safetensors"), **recipe.STAGE2,
                                  **common))
            print(json.dumps(evaluate(out, name, args.device, args.eval_scenes, stage1)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

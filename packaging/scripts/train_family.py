"""Train the embedded Shapes World family (one model per pooling) and evaluate each on held-out
scenes; the metrics go into each model card. The shipped family was made with:

    python packaging/scripts/train_family.py --out resources/models/eclip-shapes

which runs `eclip-desktop train --pooling P --out DIR` for every pooling (same defaults) and then
the Shapes World evaluation of docs/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from eclip_desktop.core.engine import Engine
from eclip_desktop.core.evaluate import evaluate_shapes
from eclip_desktop.core.models import ModelSpec
from eclip_desktop.core.poolings import pooling_names
from eclip_desktop.core.training.trainer import TrainConfig, train, update_card


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--poolings", nargs="+", default=pooling_names())
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--eval-scenes", type=int, default=500)
    ap.add_argument("--set", nargs="*", default=[], help="TrainConfig overrides, KEY=VALUE")
    args = ap.parse_args(argv)
    overrides = {}
    for kv in args.set:
        key, value = kv.split("=", 1)
        default = getattr(TrainConfig(), key)
        overrides[key] = type(default)(value) if default is not None else value
    rows = []
    for seed in args.seeds:
        for pooling in args.poolings:
            name = pooling if seed == 0 else f"{pooling}_seed{seed}"
            cfg = TrainConfig(pooling=pooling, seed=seed, out=args.out, name=name, device=args.device,
                              checkpoint_every=0, **overrides)
            card = train(cfg)
            engine = Engine.load(ModelSpec(cfg.architecture, str(Path(args.out) / f"{name}.safetensors"),
                                           args.device))
            metrics = {m: evaluate_shapes(engine, m, pooling, args.eval_scenes) for m in ("itsm", "surgery")}
            update_card(Path(args.out) / f"{name}.json", metrics={
                "protocol": f"Shapes World held-out seed 1000, {args.eval_scenes} scenes, 1-3 objects; "
                            "zero-shot on seed 1001 single-object scenes", **metrics})
            row = {"name": name, "train_min": round(card["wall_seconds"] / 60, 2),
                   **{f"{m}_{k}": round(v, 3) for m, r in metrics.items() for k, v in r.items()
                      if k in ("pointing", "msc", "miou_fg", "bg_preferred", "zero_shot")}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

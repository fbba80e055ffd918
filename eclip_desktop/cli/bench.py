"""`bench`: speed of the encoder, the first map and a switch of text."""
from __future__ import annotations

import json

from eclip_desktop.cli.common import add_model_args, model_spec


def cmd_bench(args) -> int:
    from eclip_desktop.core.evaluation.bench import run_bench
    result = run_bench(model_spec(args), repeats=args.repeats, input_size=args.input_size)
    print(json.dumps(result, indent=2) if args.json else result["table"])
    if args.out:
        from eclip_desktop.core.io.atomic import atomic_write_json
        atomic_write_json(args.out, result, overwrite=True)
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="speed of the encoder, the first map and a switch of text")
    add_model_args(p, default_model="ViT-B-16")
    p.set_defaults(pretrained="random")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--input-size", type=int, default=None)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="also write the result as JSON here")
    p.set_defaults(func=cmd_bench)

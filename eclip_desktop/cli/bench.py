"""`bench`: speed of the encoder, and of each method's first map and switch of text."""
from __future__ import annotations

import json

from eclip_desktop.cli.common import add_model_args, method_options, model_spec, refuse_existing_result


def cmd_bench(args) -> int:
    from eclip_desktop.core.evaluation.bench import run_bench
    from eclip_desktop.core.explain.methods import method_names
    if args.out:
        refuse_existing_result(args.out, args.overwrite)  # before the model loads
    if args.repeats < 1:
        from eclip_desktop.core.errors import EclipError
        raise EclipError(f"--repeats must be at least 1, got {args.repeats}")
    methods = list(dict.fromkeys(args.method or []))
    result = run_bench(model_spec(args), repeats=args.repeats, input_size=args.input_size, methods=methods or None,
                       method_options={m: method_options(args, m) for m in (methods or method_names())})
    print(json.dumps(result, indent=2) if args.json else result["table"])
    if args.out:
        from eclip_desktop.core.io.atomic import atomic_write_json
        atomic_write_json(args.out, result, overwrite=args.overwrite)
    return 0


def register(sub) -> None:
    p = sub.add_parser("bench", help="speed of the encoder, the first map and a switch of text")
    add_model_args(p, default_model="ViT-B-16")
    p.set_defaults(pretrained="random")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--input-size", type=int, default=None)
    from eclip_desktop.core.explain.methods import METHODS, method_names
    p.add_argument("--method", action="append", choices=method_names(),
                   help="a method to time (repeatable; default every method)")
    for info in METHODS.values():
        info.add_arguments(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", help="also write the result as JSON here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(func=cmd_bench)

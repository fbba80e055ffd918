"""Evaluate a family folder (or embedded family) on the generalisation suite and on Shapes World
held-out scenes, ITSM and Surgery, every sibling with its own pooling; writes the rows into each
sibling's card under metrics (with the protocol and the command) and prints a Markdown table.

    python scripts/evaluate_family.py --family resources/models/eclip-shapes-vitft \
        --gen 300 --shapes 500 [--gen2 300] --device cpu [--no-cards] [--json OUT [--overwrite]]

The same numbers come from `eclip-desktop eval --dataset gen:300 --model FAMILY --pooling all
--method itsm` (and shapes:500, surgery); this script only runs them in one go.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from eclip_desktop.core.evaluation.evaluate import run_eval
from eclip_desktop.core.explain.engine import engines_for
from eclip_desktop.core.model import family
from eclip_desktop.core.training.trainer import update_card

COLUMNS = ("miou_fg", "msc", "pointing", "bg_preferred", "deletion_auc", "insertion_auc", "zero_shot", "n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", required=True, help="an embedded family's name or a folder of train outputs")
    ap.add_argument("--gen", type=int, default=300, help="generalisation-suite scenes (seed 2000); 0: skip")
    ap.add_argument("--gen2", type=int, default=0, help="second-suite scenes (seed 3000); 0 (default): skip")
    ap.add_argument("--shapes", type=int, default=500, help="Shapes World held-out scenes (seed 1000); 0: skip")
    ap.add_argument("--methods", nargs="+", default=["itsm", "surgery"], help="method names, or all")
    ap.add_argument("--faithfulness", type=int, default=0, metavar="STEPS",
                    help="also deletion and insertion areas with this many steps (0: skip)")
    ap.add_argument("--option", action="append", default=[], metavar="METHOD.NAME=VALUE",
                    help="a method option, e.g. rise.masks=500 (repeatable)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--no-cards", action="store_true", help="do not write the rows into the cards")
    ap.add_argument("--json", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = ap.parse_args(argv)
    if not family.is_family(args.family):
        print(f"evaluate_family: {args.family} is not a family", file=sys.stderr)
        return 1
    if args.json and Path(args.json).exists() and not args.overwrite:
        print(f"evaluate_family: {args.json} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    from eclip_desktop.core.explain.methods import get_method, method_names
    methods = method_names() if args.methods == ["all"] else args.methods
    options: dict[str, dict] = {}
    for item in args.option:
        key, _, value = item.partition("=")
        method, _, name = key.partition(".")
        kind = next((o.kind for o in get_method(method).options if o.name == name), str)
        options.setdefault(method, {})[name] = (value.lower() == "true") if kind is bool else kind(value)
    poolings = family.available_poolings(args.family)
    engines = engines_for(args.family, None, poolings, args.device)
    datasets = [d for d, n in ((f"gen:{args.gen}", args.gen), (f"gen2:{args.gen2}", args.gen2),
                               (f"shapes:{args.shapes}", args.shapes)) if n]
    results: dict[str, dict] = {}
    for dataset in datasets:
        for method in methods:
            t0 = time.perf_counter()
            result = run_eval(dataset, method, engines, method_options=options.get(method),
                              faithfulness_steps=args.faithfulness or None)
            kind, count = dataset.split(":")
            # itsm_gen300, itsm_shapes500; a kind ending in a digit keeps a dash: itsm_gen2-300
            key = f"{method}_{kind}{'-' if kind[-1].isdigit() else ''}{count}"
            results[key] = result
            print(f"{key}: {time.perf_counter() - t0:.0f} s — {result['protocol']}", file=sys.stderr, flush=True)
    print("| pooling | set | method | " + " | ".join(COLUMNS) + " |")
    print("| --- " * (3 + len(COLUMNS)) + "|")
    for result in results.values():
        for row in result["rows"]:
            cells = [f"{row[c]:.3f}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in COLUMNS]
            print(f"| {row['pooling']} | {result['dataset']} | {result['method']} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if not args.no_cards and family.family_dir(args.family) is not None:
        folder = family.family_dir(args.family)
        command = "python scripts/evaluate_family.py " + " ".join(argv if argv is not None else sys.argv[1:])
        for p in poolings:
            rows = {k: {**next(r for r in v["rows"] if r["pooling"] == p), "protocol": v["protocol"]}
                    for k, v in results.items()}
            card = json.loads((folder / f"{p}.json").read_text())
            update_card(folder / f"{p}.json", metrics={**(card.get("metrics") or {}), **rows,
                                                       "evaluate_command": command})
    return 0


if __name__ == "__main__":
    sys.exit(main())

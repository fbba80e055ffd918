"""`models`: the embedded families, open_clip architectures and their weights."""
from __future__ import annotations

import json


def cmd_models(args) -> int:
    from eclip_desktop.core.model import family
    from eclip_desktop.core.model.loading import (
        is_tag_cached,
        list_architectures,
        list_pretrained_tags,
    )
    rows = []
    # The embedded families first: they are what works offline, and --model takes their names.
    for name in family.embedded_families():
        if args.filter and args.filter.lower() not in name.lower():
            continue
        poolings, architecture = family.available_poolings(name), family.family_architecture(name)
        rows.append({"model": name, "tags": [], "cached": [], "family": True, "poolings": poolings,
                     "architecture": architecture})
        if not args.json:
            print(f"{name}: embedded family of {architecture}, one model per pooling ({', '.join(poolings)})")
    for arch in list_architectures():
        if args.filter and args.filter.lower() not in arch.lower():
            continue
        tags = list_pretrained_tags(arch)
        marks = [f"{t}{' (cached)' if is_tag_cached(arch, t) else ''}" for t in tags]
        rows.append({"model": arch, "tags": tags, "cached": [is_tag_cached(arch, t) for t in tags]})
        if not args.json:
            print(f"{arch}: {', '.join(marks) if marks else '(no published weights; use a checkpoint or random)'}")
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help="list open_clip architectures and pretrained tags (cached or not)")
    p.add_argument("--filter", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

"""`models`: the embedded families, open_clip architectures and their weights."""
from __future__ import annotations

import json


def cmd_models(args) -> int:
    import open_clip

    from eclip_desktop.core.model import activation, family
    from eclip_desktop.core.model.loading import (
        is_tag_cached,
        list_architectures,
        list_pretrained_tags,
    )
    from eclip_desktop.core.model.zoo import tower_support
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
        # The activation each tag runs with, and the one a weights FILE gets (the config's unless the
        # file says otherwise): OpenAI's weights given as a file need the -quickgelu config.
        config = activation.QUICK_GELU if activation.config_quick_gelu(arch) else activation.GELU
        quick = [t for t in tags if activation.decide(arch, tag_cfg=open_clip.get_pretrained_cfg(arch, t)).quick_gelu]
        support = tower_support(arch)  # explainable or not, and why (issue 23)
        rows.append({"model": arch, "tags": tags, "cached": [is_tag_cached(arch, t) for t in tags],
                     "activation": config, "quick_gelu_tags": quick, "explainable": support.explainable,
                     "kind": support.kind, "why_not": "" if support.explainable else support.describe()})
        if not args.json:
            line = f"{arch}: {', '.join(marks) if marks else '(no published weights; use a checkpoint or random)'}"
            line += f" [{support.describe()}]"
            if config == activation.GELU and quick:
                other = activation.quickgelu_config_name(arch)
                line += (f" [QuickGELU with {', '.join(quick)}; a weights file runs GELU"
                         + (f", OpenAI weights as a file: --model {other}]" if other else "]"))
            print(line)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


def register(sub) -> None:
    p = sub.add_parser("models", help="list open_clip architectures and pretrained tags (cached or not)")
    p.add_argument("--filter", default="")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

"""`explain`: heatmaps of image-text similarity per pooling, png + npy + json each."""
from __future__ import annotations

import os
import sys

from eclip_desktop.cli.common import (
    POOLING_DEFAULT_HELP,
    add_display_args,
    add_map_args,
    add_model_args,
    add_output_args,
    add_prompt_args,
    method_options,
    pooling_choices,
    poolings_arg,
    read_labels,
    say_activation,
    say_out_of_domain,
)
from eclip_desktop.cli.limits import add_max_outputs_arg, refuse_too_many
from eclip_desktop.cli.out_dir import missing_dirs, removed_on_failure


def cmd_explain(args) -> int:
    from dataclasses import replace

    from eclip_desktop.core.errors import ImageLoadError, TextError
    from eclip_desktop.core.explain.engine import engines_for
    from eclip_desktop.core.export.explain_job import (
        ExplainRequest,
        check_targets,
        run_explain,
    )
    from eclip_desktop.core.io.atomic import ensure_writable_dir
    from eclip_desktop.core.io.imageio import load_image

    texts = list(args.text or [])
    if args.labels_file:
        texts += read_labels(args.labels_file)
    if not texts:
        raise TextError("no text given: pass --text 'a photo of a cat' (repeatable) or --labels-file FILE")
    for t in texts:
        if not t.strip():
            raise TextError("empty prompt: type what to look for, e.g. --text 'a photo of a cat'")
    options = method_options(args, args.method)
    n_poolings = len(poolings_arg(args))
    maps = len(args.images) * (len(texts) + 1) * n_poolings
    refuse_too_many(maps, 3 * maps, f"{len(args.images)} image(s) x ({len(texts)} text(s) + a contribution map) x "
                                    f"{n_poolings} pooling(s), png + npy + json each", args.max_outputs)
    # Cheap checks first so a bad path fails before a model loads.
    seen: dict[str, str] = {}
    loaded = []  # decoded once here, used by every sibling's run
    for p in args.images:
        loaded.append(load_image(p))
        key = os.path.realpath(p)
        if key in seen:
            # Both would get the same output names: the second write would fail after the first had written.
            raise ImageLoadError(f"{p} is given twice (also as {seen[key]}): name each image once")
        seen[key] = p
    made = missing_dirs(args.out)  # taken back if the model fails to load
    ensure_writable_dir(args.out)
    poolings = poolings_arg(args)
    with removed_on_failure(made):
        engines = engines_for(args.model, args.pretrained, poolings, args.device, args.dtype, args.activation)
    say_activation(e.handle for e in engines.values())
    say_out_of_domain(args.images, [e.handle.describe() for e in engines.values()])
    req = ExplainRequest(images=args.images, texts=texts, out_dir=args.out, method=args.method,
                         poolings=poolings, ensemble=args.ensemble, input_size=args.input_size,
                         tau=args.tau, cmap=args.colormap, alpha=args.alpha, overwrite=args.overwrite,
                         method_options=options)
    check_targets(req)  # all poolings, before the first write
    many = len(args.images) > 1

    def progress(i, n, msg):
        if many or args.verbose:
            print(f"[{i}/{n}] {msg}", file=sys.stderr, flush=True)

    records = []
    groups: dict[int, list[str]] = {}
    for p, engine in engines.items():
        groups.setdefault(id(engine), []).append(p)
    for group in groups.values():
        records += run_explain(engines[group[0]], replace(req, poolings=group), progress=progress, loaded=loaded)
    from eclip_desktop.core.io.guards import shown
    print(f"wrote {len(records)} maps (png + npy + json each) to {shown(args.out)}", file=sys.stderr)
    return 0


def register(sub) -> None:
    from eclip_desktop.core.explain.methods import method_names

    p = sub.add_parser("explain", help="heatmaps of image-text similarity (ITSM, CLIP Surgery) per pooling")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    add_prompt_args(p)
    p.add_argument("--method", default="itsm", choices=method_names())
    p.add_argument("--pooling", action="append", choices=pooling_choices(),
                   help="pooling readout(s) for scores and contribution maps (repeatable; "
                        f"{POOLING_DEFAULT_HELP})")
    add_output_args(p)
    add_max_outputs_arg(p)
    add_map_args(p)
    add_display_args(p)
    p.add_argument("-v", "--verbose", action="store_true")
    add_model_args(p)
    p.set_defaults(func=cmd_explain)

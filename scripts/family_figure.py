"""The semantic-shift figure of docs/RESULTS.md: held-out Shapes World scenes (rows) x the embedded
family's poolings (columns), each tile the ITSM of "a photo of a {shape}." for the scene's first
object, from the sibling trained with that pooling.

    python scripts/family_figure.py --out docs/figures/shapes_poolings.png

`--family DIR` draws a folder of `eclip-desktop train` outputs instead (one model per pooling, e.g.
the tiny-ViT experiment of docs/RESULTS.md); `--sibling POOLING=ARCHITECTURE:WEIGHTS` (repeatable)
names each model by hand.

Scenes are drawn at 256 px and resized by the engine to the models' input, as any user image is.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.evaluation.evaluate import HELD_OUT_SEED, loaded_image
from eclip_desktop.core.explain.engine import Engine, engines_for
from eclip_desktop.core.figures.render import annotate, overlay, side_by_side
from eclip_desktop.core.io.atomic import atomic_save_image
from eclip_desktop.core.model.family import (
    FAMILY,
    available_poolings,
    family_label,
)
from eclip_desktop.core.model.loading import ModelSpec
from eclip_desktop.core.model.poolings import pooling_names, short_pooling
from eclip_desktop.core.shapes import generate_scene, prompt_for


def _sibling(text: str) -> tuple[str, ModelSpec]:
    pooling, _, rest = text.partition("=")
    architecture, _, weights = rest.partition(":")
    if pooling not in pooling_names() or not architecture or not weights:
        raise ValueError(f"--sibling {text!r}: expected POOLING=ARCHITECTURE:WEIGHTS with POOLING one of "
                         f"{', '.join(pooling_names())}")
    return pooling, ModelSpec(architecture, weights, "cpu")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --out figure")
    ap.add_argument("--scenes", nargs="+", type=int, default=[0, 1, 2, 3], help="held-out scene indices")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--cmap", default="jet")
    ap.add_argument("--family", default=FAMILY, help="the embedded family (default) or a folder of train outputs")
    ap.add_argument("--sibling", action="append", default=[], metavar="POOLING=ARCHITECTURE:WEIGHTS",
                    help="a model trained with POOLING (repeatable; instead of --family)")
    args = ap.parse_args(argv)
    if args.sibling and args.family != FAMILY:
        ap.error("--family and --sibling: give one or the other")
    if Path(args.out).exists() and not args.overwrite:
        print(f"family_figure.py: {args.out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    if args.sibling:
        try:
            pairs = [_sibling(text) for text in args.sibling]
        except ValueError as exc:
            ap.error(str(exc))
        specs = dict(pairs)
        if len(specs) < len(pairs):
            ap.error("--sibling: one model per pooling (a pooling was given twice)")
        try:
            engines = {p: Engine.load(spec) for p, spec in specs.items()}
        except EclipError as exc:
            print(f"family_figure.py: {exc}", file=sys.stderr)
            return 1
        poolings = list(engines)
        subtitle = f"columns: {specs[poolings[0]].architecture} trained with each pooling"
    else:
        poolings = available_poolings(args.family)
        subtitle = f"columns: {family_label(args.family)}, one model per pooling"
        if not poolings:
            what = (f"the embedded family is not installed (resources/models/{FAMILY})" if args.family == FAMILY
                    else f"{args.family} is not a family folder (<pooling>.safetensors with <pooling>.json)")
            print(f"family_figure.py: {what}", file=sys.stderr)
            return 1
        engines = engines_for(args.family, None, poolings, "cpu")
    rows = []
    for index in args.scenes:
        scene = generate_scene(HELD_OUT_SEED, index, size=args.size)
        image = loaded_image(scene.image, f"shapes:{HELD_OUT_SEED}:{index}")
        shape = scene.objects[0].shape
        prompt = prompt_for(shape)
        panels, captions = [scene.image], [f"scene {index}: \u201c{shape}\u201d"]
        for p in poolings:
            exp = engines[p].explain(image, [prompt], method="itsm", poolings=[p])
            panels.append(overlay(scene.image, exp.heatmaps[0].values, cmap=args.cmap, alpha=0.55))
            captions.append(f"{short_pooling(p)} (cos {exp.scores[p]['cosine'][0]:.2f})")
        rows.append(side_by_side(panels, captions))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    figure = annotate(np.vstack(rows), ["Held-out scenes: ITSM per pooling",
                                        subtitle], args.cmap)
    atomic_save_image(args.out, figure, overwrite=args.overwrite)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

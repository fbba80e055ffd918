"""Does a map's maximum land on the named object, on another object, or on the background?
Pointing split by the number of objects in the scene, for one family sibling (ITSM).

    python scripts/pointing_objects.py [--family eclip-shapes-vit-ft] [--pooling masked_max]
        [--dataset shapes|gen|gen2] [--scenes 200] [--seed 1000]

For each (scene, present class) the map for "a photo of a {class}." is upsampled to the image; its
maximum is "named" when it falls in that class's mask, "other object" when it falls in another
class's mask, else "background" (the eval's pointing game is the "named" share). Scenes of 1, 2 and 3
objects are drawn separately from the same seed. Prints a Markdown table.
"""
from __future__ import annotations

import argparse

import numpy as np

from eclip_desktop.core.evaluation.evaluate import class_prompt, synthetic_items
from eclip_desktop.core.explain.engine import engines_for
from eclip_desktop.core.explain.heatmap import upsample
from eclip_desktop.core.explain.methods import MethodInput, get_method
from eclip_desktop.core.shapes import class_names


def where_maxima_land(engine, items, classes: list[str]) -> dict[str, int]:
    texts = engine.texts.encode([class_prompt(c) for c in classes])
    scores = get_method("itsm").scores
    counts = {"named": 0, "other object": 0, "background": 0}
    for it in items:
        a = engine.analyse([it.image])[0]
        engine.clear()
        raw = scores(MethodInput(a, texts, engine.texts, n_texts=len(classes)))
        anywhere = np.logical_or.reduce(list(it.masks.values()))
        for name, mask in it.masks.items():
            full = upsample(a.grid_map(raw[classes.index(name)]), it.image.width, it.image.height)
            y, x = np.unravel_index(int(np.argmax(full)), full.shape)
            counts["named" if mask[y, x] else "other object" if anywhere[y, x] else "background"] += 1
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="eclip-shapes-vit-ft")
    ap.add_argument("--pooling", default="masked_max")
    ap.add_argument("--dataset", choices=["shapes", "gen", "gen2"], default="shapes")
    ap.add_argument("--scenes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None, help="default: the dataset's map seed (1000 / 2000 / 3000)")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else {"shapes": 1000, "gen": 2000, "gen2": 3000}[args.dataset]
    engine = engines_for(args.family, None, [args.pooling], "cpu")[args.pooling]
    classes = class_names()
    print(f"{args.family} · {args.pooling} · ITSM · {args.dataset}, {args.scenes} scenes per count (seed {seed})\n")
    print("| objects | maps | max on the named object (pointing) | on another object | on the background |")
    print("| --- | --- | --- | --- | --- |")
    for n in (1, 2, 3):
        items = synthetic_items(args.dataset, args.scenes, seed, (n, n), engine.handle.image_size)
        c = where_maxima_land(engine, items, classes)
        total = max(1, sum(c.values()))
        print(f"| {n} | {total} | {c['named'] / total:.3f} | {c['other object'] / total:.3f} | "
              f"{c['background'] / total:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

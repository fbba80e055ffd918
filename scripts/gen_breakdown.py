"""Where recognition fails on the generalisation suite: zero-shot top-1 on its single-object scenes,
broken down by the factor each scene was drawn with (fill, background, JPEG, blur-free or not, size).

    python scripts/gen_breakdown.py [--family eclip-shapes-vit-ft] [--pooling native] [--scenes 600]
        [--suite gen|gen2] [--seed N]

The scenes are those `eval --dataset gen` (or gen2) scores zero-shot on (seed 2001, or 3001 for gen2;
one object each); nothing here trains on them. gen2's factors are its own: drawing medium, fill
texture, background, lighting, distractor count and how much of the figure is visible. Prints a
Markdown table (accuracy and count per factor value).
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import torch

from eclip_desktop.core.evaluation.evaluate import class_prompt, loaded_image
from eclip_desktop.core.explain.engine import engines_for
from eclip_desktop.core.shapes import class_names
from eclip_desktop.core.shapes.generalisation import generate_gen_scene
from eclip_desktop.core.shapes.generalisation2 import generate_gen2_scene

SEEDS = {"gen": 2001, "gen2": 3001}


def _area(fraction: float) -> str:
    return "< 5 %" if fraction < 0.05 else "5-15 %" if fraction < 0.15 else ">= 15 %"


def factors(suite: str, scene) -> list[tuple[str, str]]:
    """(factor, value) pairs a single-object scene of the suite was drawn with."""
    obj = scene.objects[0]
    common = [("all", "all"), ("shape", obj.shape), ("background", scene.background),
              ("object area", _area(float(obj.mask.mean())))]
    if suite == "gen":
        return common + [("fill", obj.fill), ("jpeg", "yes" if scene.jpeg_quality else "no")]
    visible = "all" if obj.visible_fraction >= 0.999 else ">= 90 %" if obj.visible_fraction >= 0.9 else "< 90 %"
    return common + [("medium", scene.style), ("texture", obj.texture), ("lighting", scene.lighting),
                     ("distractors", str(len(scene.distractors))), ("visible", visible)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="eclip-shapes-vit-ft")
    ap.add_argument("--pooling", default="native")
    ap.add_argument("--scenes", type=int, default=600)
    ap.add_argument("--suite", choices=sorted(SEEDS), default="gen")
    ap.add_argument("--seed", type=int, default=None, help="default: the suite's zero-shot seed (2001 / 3001)")
    args = ap.parse_args(argv)
    seed = SEEDS[args.suite] if args.seed is None else args.seed
    generate = generate_gen_scene if args.suite == "gen" else generate_gen2_scene
    engine = engines_for(args.family, None, [args.pooling], "cpu")[args.pooling]
    classes = class_names()
    texts = engine.texts.encode([class_prompt(c) for c in classes])
    tau = engine.handle.trained_tau
    hits: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in range(args.scenes):
        scene = generate(seed, i, n_objects=1)
        obj = scene.objects[0]
        a = engine.analyse([loaded_image(scene.image, f"{args.suite}:{seed}:{i}")])[0]
        engine.clear()
        emb = torch.nn.functional.normalize(a.readout(args.pooling, tau=tau).embedding, dim=-1)
        hit = int(classes[int((emb @ texts.T).argmax())] == obj.shape)
        for key in factors(args.suite, scene):
            hits[key].append(hit)
    print(f"{args.family} · {args.pooling} · zero-shot on {args.scenes} single-object {args.suite} scenes "
          f"(seed {seed})\n")
    print("| factor | value | accuracy | scenes |\n| --- | --- | --- | --- |")
    for (factor, value), h in sorted(hits.items()):
        print(f"| {factor} | {value} | {sum(h) / len(h):.2f} | {len(h)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Where recognition fails on the generalisation suite: zero-shot top-1 on its single-object scenes,
broken down by the factor each scene was drawn with (fill, background, JPEG, blur-free or not, size).

    python scripts/gen_breakdown.py [--family eclip-shapes-vit-ft] [--pooling native] [--scenes 600]

The scenes are those `eval --dataset gen` scores zero-shot on (seed 2001, one object each); nothing
here trains on them. Prints a Markdown table (accuracy and count per factor value).
"""
from __future__ import annotations

import argparse
from collections import defaultdict

import torch

from eclip_desktop.core.evaluation.evaluate import class_prompt, loaded_image
from eclip_desktop.core.explain.engine import engines_for
from eclip_desktop.core.shapes import class_names
from eclip_desktop.core.shapes.generalisation import generate_gen_scene


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="eclip-shapes-vit-ft")
    ap.add_argument("--pooling", default="native")
    ap.add_argument("--scenes", type=int, default=600)
    ap.add_argument("--seed", type=int, default=2001)
    args = ap.parse_args(argv)
    engine = engines_for(args.family, None, [args.pooling], "cpu")[args.pooling]
    classes = class_names()
    texts = engine.texts.encode([class_prompt(c) for c in classes])
    tau = engine.handle.trained_tau
    hits: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i in range(args.scenes):
        scene = generate_gen_scene(args.seed, i, n_objects=1)
        obj = scene.objects[0]
        a = engine.analyse([loaded_image(scene.image, f"gen:{args.seed}:{i}")])[0]
        engine.clear()
        emb = torch.nn.functional.normalize(a.readout(args.pooling, tau=tau).embedding, dim=-1)
        hit = int(classes[int((emb @ texts.T).argmax())] == obj.shape)
        area = obj.mask.mean()
        for factor, value in (("all", "all"), ("fill", obj.fill), ("background", scene.background),
                              ("jpeg", "yes" if scene.jpeg_quality else "no"),
                              ("object area", "< 5 %" if area < 0.05 else "5-15 %" if area < 0.15 else ">= 15 %"),
                              ("shape", obj.shape)):
            hits[(factor, value)].append(hit)
    print(f"{args.family} · {args.pooling} · zero-shot on {args.scenes} single-object suite scenes (seed {args.seed})\n")
    print("| factor | value | accuracy | scenes |\n| --- | --- | --- | --- |")
    for (factor, value), h in sorted(hits.items()):
        print(f"| {factor} | {value} | {sum(h) / len(h):.2f} | {len(h)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

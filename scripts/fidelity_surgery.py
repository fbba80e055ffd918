"""How much CLIP Surgery's single-text map depends on which empty string it subtracts.

    python scripts/fidelity_surgery.py [--model eclip-shapes-vit|ViT-B-16] [--scenes 8]

For Shapes World scenes (seed 1000, 224 px) and the prompt of the first shape, the Surgery map of
that single prompt with the prompt ensemble is computed with the reference's rule (the ensembled
empty string subtracted, `matched`, the default) and with the project's former rule (the plain
empty string, `plain`), and compared: Pearson r of the two token grids, and how much the
difference between the two empty-text similarities varies over the tokens (min, max), next to
the map's own raw range. Random weights for open_clip architectures (--pretrained random).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="eclip-shapes-vit")
    ap.add_argument("--scenes", type=int, default=8)
    args = ap.parse_args()

    import torch
    from PIL import Image

    from eclip_desktop.core.explain.engine import Engine
    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.core.model import family
    from eclip_desktop.core.model.loading import ModelSpec, load_model
    from eclip_desktop.core.shapes.world import generate_scene, prompt_for

    torch.manual_seed(0)
    spec = (family.family_spec("native", "cpu", "fp32", name=args.model) if family.is_family(args.model)
            else ModelSpec(args.model, "random", "cpu", "fp32"))
    engine = Engine(load_model(spec))
    tmp = Path(tempfile.mkdtemp())
    rs = []
    for k in range(args.scenes):
        scene = generate_scene(1000, k, size=224)
        path = tmp / f"scene-{k}.png"
        Image.fromarray(scene.image).save(path)
        image = load_image(str(path))
        text = prompt_for(scene.objects[0].shape)
        matched = engine.explain(image, [text], method="surgery", ensemble=True).heatmaps[0]
        plain = engine.explain(image, [text], method="surgery", ensemble=True,
                               method_options={"empty_text": "plain"}).heatmaps[0]
        r = float(np.corrcoef(matched.grid.ravel(), plain.grid.ravel())[0, 1])
        rs.append(r)
        tokens = torch.nn.functional.normalize(engine.analyse([image])[0].surgery_tokens(), dim=-1)
        offset = tokens @ engine.texts.empty_embedding(ensemble=True) - tokens @ engine.texts.empty_embedding()
        lo, hi = matched.raw_range
        print(f"scene {k} '{text}': r = {r:.3f}; offset over tokens {float(offset.min()):+.3f} .. "
              f"{float(offset.max()):+.3f}; raw range of the map {hi - lo:.3f}", flush=True)
    print(f"{spec.architecture}: r(matched, plain) min {min(rs):.3f}, median {np.median(rs):.3f}, max {max(rs):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

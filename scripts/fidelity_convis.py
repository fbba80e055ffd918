"""Measure the project's deliberate differences from the ConVis and CLIP Surgery reference code.

    python scripts/fidelity_convis.py [--model eclip-shapes-vit] [--scenes 3] [--set default]

For Shapes World scenes (the bundled model family knows them) and each shape present, the ConVis
map of the shape's synset is computed with the project's algorithm and with one thing changed:
  crop   the reference's window crop, (s-1) x (s-1) px (PIL's crop of a mask's inclusive bounding box)
  seed   another noise-border seed (the reference draws the border unseeded: every run differs)
and compared with the project's map (Pearson r over the centre square, max |difference|).
It also reports the effect of the epsilon in the CLIP maps' min-max (ITSM and Surgery): max
|minmax with eps - minmax without| over every map of every scene and prompt.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="eclip-shapes-vit", help="an embedded family (its native sibling) or "
                                                                "an open_clip architecture")
    ap.add_argument("--pretrained", default=None)
    ap.add_argument("--scenes", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1000, help="Shapes World seed of the scenes")
    ap.add_argument("--size", type=int, default=224, help="scene size in px")
    ap.add_argument("--set", default="default", help="concept set (as --concept-set)")
    args = ap.parse_args()

    import tempfile

    import torch
    from PIL import Image

    from eclip_desktop.core.convis import ConVis, WindowParams
    from eclip_desktop.core.convis import engine as convis_engine
    from eclip_desktop.core.convis.sets import concept_set_by_name
    from eclip_desktop.core.convis.windows import resize_window
    from eclip_desktop.core.explain.engine import Engine
    from eclip_desktop.core.explain.heatmap import EPS
    from eclip_desktop.core.io.imageio import load_image
    from eclip_desktop.core.model import family
    from eclip_desktop.core.model.loading import ModelSpec, load_model
    from eclip_desktop.core.shapes.world import generate_scene, prompt_for
    from eclip_desktop.core.wordnet.hierarchy import Hierarchy

    torch.manual_seed(0)
    spec = (family.family_spec("native", "cpu", "fp32", name=args.model) if family.is_family(args.model)
            else ModelSpec(args.model, args.pretrained, "cpu", "fp32"))
    handle = load_model(spec)
    hierarchy = Hierarchy()
    cs = concept_set_by_name(hierarchy, args.set)
    exact_crop = convis_engine.crop_windows

    def reference_crop(canvas, boxes, out_size):
        out = np.empty((len(boxes), out_size, out_size, 3), np.uint8)
        for i, (x, y, s) in enumerate(boxes):
            out[i] = resize_window(canvas[y:y + s - 1, x:x + s - 1], out_size)  # the reference's (s-1)^2 crop
        return out

    def variant(image, seed, crop):
        """A ConVis whose rank matrix for `image` was computed with this noise seed and crop."""
        convis_engine.crop_windows = crop
        try:
            cv = ConVis(handle, hierarchy, cs)  # its own rank-matrix cache
            cv.rank_matrix(image, WindowParams(seed=seed))
            return cv, seed
        finally:
            convis_engine.crop_windows = exact_crop

    def compare(a, b):
        mask = a > 0  # the crop square (0 outside it)
        return float(np.corrcoef(a[mask], b[mask])[0, 1]), float(np.abs(a - b).max())

    rows = {"crop": [], "seed": []}
    eps_diff = 0.0
    engine = Engine(handle)
    t0 = time.perf_counter()
    tmp = tempfile.mkdtemp()
    for k in range(args.scenes):
        scene = generate_scene(args.seed, k, size=args.size, n_objects=(1, 3))
        rgb = np.ascontiguousarray(scene.image)
        path = Path(tmp) / f"scene-{k}.png"
        Image.fromarray(rgb).save(path)
        image = load_image(str(path))
        synsets = [n for n in dict.fromkeys(o.synset for o in scene.objects) if n in cs]
        if synsets:
            base = variant(image, 0, exact_crop)
            others = {"crop": variant(image, 0, reference_crop), "seed": variant(image, 1, exact_crop)}
            for synset in synsets:
                a = base[0].concept_map(image, synset, WindowParams(seed=base[1])).values
                for kind, (cv, seed) in others.items():
                    r, d = compare(a, cv.concept_map(image, synset, WindowParams(seed=seed)).values)
                    rows[kind].append(r)
                    print(f"scene {k} {synset:14s} {kind}: r = {r:.4f}, max |diff| = {d:.3f}", flush=True)
        prompts = [prompt_for(o.shape) for o in scene.objects]
        for method in ("itsm", "surgery"):
            exp = engine.explain(image, prompts, method=method)
            for hm in exp.heatmaps:
                g = hm.grid  # min-max with eps; recompute without from the raw range
                lo, hi = hm.raw_range
                x = g * (hi - lo + EPS) / (hi - lo)  # the same map normalised without eps
                eps_diff = max(eps_diff, float(np.abs(x - g).max()))
    for kind, rs in rows.items():
        if rs:
            print(f"{kind}: r over {len(rs)} maps: min {min(rs):.4f}, median {np.median(rs):.4f}, max {max(rs):.4f}")
    print(f"eps 1e-6 in the CLIP maps' min-max: max |difference| {eps_diff:.2e}")
    print(f"model {spec.architecture} ({spec.pretrained}), set {cs.name} ({len(cs)}), {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

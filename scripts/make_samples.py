"""Write the bundled sample the app opens on first launch: a Shapes World scene and its prompts.

    python scripts/make_samples.py [--out resources/samples]

The prompts name every shape in the scene (with and without its colour) and two shapes that are
absent, so the zero-shot bars have something to tell apart.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image

from eclip_desktop.core.shapes import class_names, generate_scene, prompt_for

SEED, INDEX, SIZE = 7, 0, 256
ROOT = Path(__file__).resolve().parents[1]


def prompts_for(scene) -> list[str]:
    present = []
    for obj in scene.objects:
        present += [prompt_for(obj.shape, obj.color), prompt_for(obj.shape)]
    shapes = {obj.shape for obj in scene.objects}
    absent = [prompt_for(name) for name in class_names() if name not in shapes][:2]
    return list(dict.fromkeys(present + absent))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "resources" / "samples"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scene = generate_scene(seed=SEED, index=INDEX, size=SIZE)
    Image.fromarray(scene.image).save(out / "shapes_scene.png", optimize=True)
    meta = {"image": "shapes_scene.png", "generator": "eclip_desktop.core.shapes.generate_scene",
            "seed": SEED, "index": INDEX, "size": SIZE, "caption": scene.caption,
            "objects": [{"shape": o.shape, "color": o.color} for o in scene.objects],
            "prompts": prompts_for(scene)}
    (out / "shapes_scene.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out / 'shapes_scene.png'} and shapes_scene.json: prompts {meta['prompts']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

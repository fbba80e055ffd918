"""The bundled sample (resources/samples, written by scripts/make_samples.py)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from eclip_desktop.core.io.paths import RESOURCES

SAMPLE_DIR = RESOURCES / "samples"
SAMPLE = SAMPLE_DIR / "shapes_scene.png"
_FALLBACK_PROMPTS = ["a photo of a purple ellipse.", "a photo of an ellipse.",
                     "a photo of a circle.", "a photo of a square."]


def sample_path() -> Path:
    """The sample image; regenerated into a temporary folder if the install lacks it."""
    if SAMPLE.is_file():
        return SAMPLE
    from eclip_desktop.core.shapes import generate_scene
    target = Path(tempfile.gettempdir()) / "eclip-desktop-sample" / SAMPLE.name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(generate_scene(seed=7, index=0, size=256).image)).save(target)
    return target


def sample_prompts() -> list[str]:
    try:
        prompts = json.loads((SAMPLE_DIR / "shapes_scene.json").read_text(encoding="utf-8"))["prompts"]
        if prompts and all(isinstance(p, str) and p.strip() for p in prompts):
            return list(prompts)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return list(_FALLBACK_PROMPTS)

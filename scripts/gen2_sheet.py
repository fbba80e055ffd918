"""A contact sheet of the second generalisation suite (`eval --dataset gen2`): each scene as drawn
and again with its masks outlined (a colour per class, named; distractors thin grey, named "x kind"),
under a line giving its index, side, medium, background and lighting. No model is involved.

    python scripts/gen2_sheet.py --out docs/figures/gen2_suite.png [--seed 3000] [--scenes 12]

For looking at the suite before judging anything on it: are the figures what their names say, do the
outlines sit on them, do the distractors stay clear of the classes?
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

from eclip_desktop.core.io.atomic import atomic_save_image
from eclip_desktop.core.shapes import class_names
from eclip_desktop.core.shapes.generalisation2 import DEFAULT_SEED, generate_gen2_scene

# One outline colour per class, in class_names() order (RGB), readable on light and dark ground.
_OUTLINE = [(255, 0, 0), (0, 220, 0), (0, 90, 255), (255, 230, 0), (255, 0, 255), (0, 230, 230),
            (255, 140, 0), (255, 255, 255)]
_HEADER = 18


def _text(img: np.ndarray, text: str, org: tuple[int, int], colour, scale: float = 0.42) -> None:
    # A dark halo from offset copies: a thicker stroke would also widen OpenCV's letter spacing.
    for dx, dy in ((-1, -1), (-1, 1), (1, -1), (1, 1), (0, -1), (0, 1), (-1, 0), (1, 0)):
        cv2.putText(img, text, (org[0] + dx, org[1] + dy), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def _outline(tile: np.ndarray, mask: np.ndarray, colour, label: str, thickness: int) -> None:
    small = cv2.resize(mask.astype(np.uint8), tile.shape[1::-1], interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(small, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(tile, contours, -1, colour, thickness, cv2.LINE_AA)
    ys, xs = np.nonzero(small)
    if len(xs):
        _text(tile, label, (int(xs.min()), max(10, int(ys.min()) - 3)), colour)


def pair(scene, tile: int) -> np.ndarray:
    """The scene and its outlined copy side by side, with a header line."""
    raw = cv2.resize(scene.image, (tile, tile), interpolation=cv2.INTER_AREA)
    marked = raw.copy()
    names = class_names()
    for d in scene.distractors:
        _outline(marked, d.mask, (150, 150, 150), f"x {d.kind}", 1)
    for o in scene.objects:
        _outline(marked, o.mask, _OUTLINE[names.index(o.shape)], o.shape, 2)
    out = np.full((tile + _HEADER, 2 * tile + 4, 3), 32, np.uint8)
    out[_HEADER:, :tile], out[_HEADER:, tile + 4:] = raw, marked
    side = scene.image.shape[0]
    _text(out, f"#{scene.index} {side}px {scene.style} / {scene.background} / {scene.lighting}", (4, 13),
          (235, 235, 235))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --out figure")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--start", type=int, default=0, help="first scene index")
    ap.add_argument("--scenes", type=int, default=12)
    ap.add_argument("--objects", default="1-3", help="K or MIN-MAX named objects per scene")
    ap.add_argument("--columns", type=int, default=3, help="scene pairs per row")
    ap.add_argument("--tile", type=int, default=240)
    args = ap.parse_args(argv)
    if Path(args.out).exists() and not args.overwrite:
        print(f"gen2_sheet.py: {args.out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    lo, _, hi = args.objects.partition("-")
    objects = (int(lo), int(hi or lo))
    pairs = [pair(generate_gen2_scene(args.seed, i, n_objects=objects), args.tile)
             for i in range(args.start, args.start + args.scenes)]
    h, w = pairs[0].shape[:2]
    rows = -(-len(pairs) // args.columns)
    sheet = np.full((rows * (h + 6), args.columns * (w + 6), 3), 16, np.uint8)
    for k, p in enumerate(pairs):
        r, c = divmod(k, args.columns)
        sheet[r * (h + 6):r * (h + 6) + h, c * (w + 6):c * (w + 6) + w] = p
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    atomic_save_image(args.out, sheet, overwrite=args.overwrite)
    print(f"wrote {args.out} ({len(pairs)} scenes of seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Print the ideal-map ceiling of Shapes World scores per token grid (docs/RESULTS.md):

    python packaging/scripts/grid_ceiling.py --size 128 --grids 4 5 6 7 8 --scenes 500

One row per (grid, objects per scene): what a perfect h x w map would score after the same
min-max and bilinear upsampling as every real map.
"""
from __future__ import annotations

import argparse
import sys

from eclip_desktop.core.evaluation.grid_ceiling import grid_ceiling


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="scene side in pixels (the model's input size)")
    ap.add_argument("--grids", type=int, nargs="+", default=[4, 5, 6, 7, 8])
    ap.add_argument("--scenes", type=int, default=500)
    args = ap.parse_args(argv)
    print("| grid | objects | pointing | mSC | fg-mIoU |\n| --- | --- | --- | --- | --- |")
    for grid in args.grids:
        for objects in ((1, 1), (1, 3)):
            r = grid_ceiling(grid, args.scenes, args.size, n_objects=objects)
            label = "1" if objects == (1, 1) else "1-3"
            print(f"| {grid}×{grid} | {label} | {r['pointing']:.3f} | {r['msc']:+.1f} | {r['miou_fg']:.1f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`reproduce`: recompute a map from its sidecar and compare."""
from __future__ import annotations

import sys

from eclip_desktop.cli.common import DEVICES, PROG


def cmd_reproduce(args) -> int:
    from eclip_desktop.core.export.reproduce import TOLERANCE, grid_maps, reproduce_check
    from eclip_desktop.core.io.guards import shown  # a name that is not UTF-8 cannot reach stdout as it is
    tiles = grid_maps(args.sidecar)
    if tiles is not None:
        # A grid reproduces when each of its tiles' maps does; every tile is validated before any work.
        from eclip_desktop.core.export.reproduce import read_sidecar, validate_sidecar
        for tile in tiles:
            validate_sidecar(read_sidecar(tile), tile)
        bad = []
        for tile in tiles:
            _, diff, npy = reproduce_check(tile, device=args.device)
            print(f"tile {shown(tile.stem)}: max |difference| to {shown(npy.name)}: {diff:.3g}")
            if not diff <= TOLERANCE:  # 'not <=' so a NaN difference fails too
                bad.append(f"{shown(tile.stem)} by {diff:.3g}")
        if args.check and bad:
            print(f"{PROG}: error: the grid's tile {bad[0]} differs (more than {TOLERANCE:g}); "
                  f"{len(bad)} of {len(tiles)} tiles differ", file=sys.stderr)
            return 1
        return 0
    values, diff, npy = reproduce_check(args.sidecar, device=args.device)
    print(f"recomputed {values.shape[1]}x{values.shape[0]} map; max |difference| to {shown(npy)}: {diff:.3g}")
    if args.check and not diff <= TOLERANCE:  # 'not <=' so a NaN difference fails too
        print(f"{PROG}: error: the map differs from {shown(npy)} by {diff:.3g} (more than {TOLERANCE:g})", file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="recompute a map from its JSON sidecar and compare it with the saved .npy")
    p.add_argument("sidecar", metavar="SIDECAR.json")
    p.add_argument("--check", action="store_true", help="exit 1 if the maps differ by more than 1e-4")
    p.add_argument("--device", default=None, choices=DEVICES,
                   help="default: the sidecar's device when available here, else auto")
    p.set_defaults(func=cmd_reproduce)

"""`reproduce`: recompute a map from its sidecar and compare."""
from __future__ import annotations

import sys

from eclip_desktop.cli.common import DEVICES, PROG


def cmd_reproduce(args) -> int:
    from eclip_desktop.core.export.reproduce import TOLERANCE, reproduce_check
    values, diff, npy = reproduce_check(args.sidecar, device=args.device)
    print(f"recomputed {values.shape[1]}x{values.shape[0]} map; max |difference| to {npy}: {diff:.3g}")
    if args.check and not diff <= TOLERANCE:  # 'not <=' so a NaN difference fails too
        print(f"{PROG}: error: the map differs from {npy} by {diff:.3g} (more than {TOLERANCE:g})", file=sys.stderr)
        return 1
    return 0


def register(sub) -> None:
    p = sub.add_parser("reproduce", help="recompute a map from its JSON sidecar and compare it with the saved .npy")
    p.add_argument("sidecar", metavar="SIDECAR.json")
    p.add_argument("--check", action="store_true", help="exit 1 if the maps differ by more than 1e-4")
    p.add_argument("--device", default=None, choices=DEVICES,
                   help="default: the sidecar's device when available here, else auto")
    p.set_defaults(func=cmd_reproduce)

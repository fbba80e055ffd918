"""How much one run may write: counted from the request before any model loads, refused past a
stated limit unless the user raises it. 200,000 labels once meant hours of work, every map held in
memory at once and a sidecar per map listing every label (quadratic bytes); one line up front is
the answer, with the number that would lift it."""
from __future__ import annotations

import argparse

# 2,000 maps of one image at the default 256 px input are ~0.5 GB of float32 maps held at once by
# `explain`, ~8 min on a laptop CPU with the tiny models, and ~6,000 files.
DEFAULT_MAX_OUTPUTS = 2000


def add_max_outputs_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-outputs", type=int, default=DEFAULT_MAX_OUTPUTS, metavar="N",
                   help=f"the most maps one run may write (default {DEFAULT_MAX_OUTPUTS}); a request over it "
                        "(images x texts x poolings x methods, contribution maps, grids) is refused before any "
                        "model loads")


def refuse_too_many(maps: int, files: int, parts: str, limit: int) -> None:
    """OutputError when `maps` (written as `files` files; `parts` says how they are counted) is over `limit`."""
    from eclip_desktop.core.errors import OutputError
    if limit < 1:
        raise OutputError(f"--max-outputs must be 1 or more, got {limit}")
    if maps > limit:
        raise OutputError(f"this request writes {maps:,} maps ({files:,} files: {parts}), above the limit of "
                          f"{limit:,} maps a run writes; pass --max-outputs {maps} to run it anyway, or split it")

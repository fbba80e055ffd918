"""Command line over the core: `eclip-desktop` alone starts the GUI, subcommands do batch work.

One module per subcommand, each with `register(sub)` (its options) and `cmd_<name>(args)` (its work);
options several commands share are defined once in `common`. Errors of the core (EclipError) are the one
usage-error path: one line `eclip-desktop: error: ...`, exit status 1.
"""
from __future__ import annotations

import argparse
import os
import sys

from eclip_desktop import __version__
from eclip_desktop.cli import bench, concepts, evaluate, explain, export, gui, models, reproduce, train, wordnet
from eclip_desktop.cli.common import PROG
from eclip_desktop.cli.gui import cmd_gui

# The order of `eclip-desktop --help`.
COMMANDS = (explain, evaluate, models, bench, train, concepts, export, reproduce, wordnet, gui)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="See why a CLIP model matches an image with a text.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return cmd_gui(args)
    if getattr(args, "alpha", 0.5) is not None and not 0.0 <= getattr(args, "alpha", 0.5) <= 1.0:
        parser.error("--alpha must be between 0 and 1")
    if getattr(args, "input_size", None) is not None and not 32 <= args.input_size <= 2048:
        parser.error("--input-size must be between 32 and 2048")
    from eclip_desktop.core.errors import EclipError
    try:
        return args.func(args)
    except EclipError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{PROG}: error: out of memory; try fewer or smaller images, or --device cpu", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            print(f"{PROG}: error: the device ran out of memory; try --device cpu or a smaller --input-size",
                  file=sys.stderr)
            return 1
        raise

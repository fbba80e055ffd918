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
from eclip_desktop.cli import (
    bench,
    concepts,
    evaluate,
    explain,
    export,
    gui,
    install_desktop_entry,
    models,
    reproduce,
    train,
    wordnet,
)
from eclip_desktop.cli.common import PROG
from eclip_desktop.cli.gui import cmd_gui

# The order of `eclip-desktop --help`.
COMMANDS = (explain, evaluate, models, bench, train, concepts, export, reproduce, wordnet, gui, install_desktop_entry)


class Parser(argparse.ArgumentParser):
    """Usage errors (an unknown option, a bad choice, a missing value) print one line with the same
    prefix as every other error instead of argparse's usage block; their exit status stays 2, the
    documented status of a usage error."""

    def error(self, message: str):
        from eclip_desktop.core.io.guards import shown  # an argument echoed back may hold terminal escapes
        print(f"{PROG}: error: {shown(message)} (`{self.prog} --help` lists the options)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description="See why a CLIP model matches an image with a text.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    for command in COMMANDS:
        command.register(sub)
    parser.subcommands = frozenset(sub.choices)
    return parser


def _usage_error(message: str) -> int:
    # An option value outside its range is a usage error, as argparse's own: one line, status 2.
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in parser.subcommands and os.path.exists(argv[0]):
        # `eclip-desktop photo.png` opens the window on it, as a desktop application's command does.
        argv = ["gui", *argv]
    args = parser.parse_args(argv)  # a usage error exits 2 after its one line (Parser.error)
    if args.command is None:
        return cmd_gui(args)
    if getattr(args, "alpha", 0.5) is not None and not 0.0 <= getattr(args, "alpha", 0.5) <= 1.0:
        return _usage_error("--alpha must be between 0 and 1")
    from eclip_desktop.core.model.poolings import INPUT_SIZE_RANGE
    low, high = INPUT_SIZE_RANGE
    if getattr(args, "input_size", None) is not None and not low <= args.input_size <= high:
        return _usage_error(f"--input-size must be between {low} and {high}")
    from eclip_desktop.core.errors import EclipError
    from eclip_desktop.core.io.guards import shown
    try:
        return args.func(args)
    except EclipError as exc:
        # Escaped: a file name can carry terminal escapes (ESC sequences retitle or clear the screen).
        print(f"{PROG}: error: {shown(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{PROG}: error: out of memory; try fewer or smaller images, or --device cpu", file=sys.stderr)
        return 1
    except OSError as exc:
        # A path the core did not expect to fail (a name over 255 bytes given as an argument, a disk
        # that fills between two checks): its cause and the path, on one line.
        from eclip_desktop.core.io.atomic import os_cause
        name = shown(exc.filename or "")
        name = f"{name[:60]}\u2026" if len(name) > 64 else name
        print(f"{PROG}: error: {os_cause(exc)}" + (f": {name}" if name else ""), file=sys.stderr)
        return 1
    except RuntimeError as exc:
        if "out of memory" in str(exc).lower():
            print(f"{PROG}: error: the device ran out of memory; try --device cpu or a smaller --input-size",
                  file=sys.stderr)
            return 1
        raise

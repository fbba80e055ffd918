"""`gui`: start the desktop application."""
from __future__ import annotations

from eclip_desktop.cli.common import add_device_arg


def cmd_gui(args) -> int:
    from eclip_desktop.app import run
    return run(images=getattr(args, "images", None) or [], model=getattr(args, "model", None),
               pretrained=getattr(args, "pretrained", None), device=getattr(args, "device", "auto"),
               texts=getattr(args, "text", None))


def register(sub) -> None:
    p = sub.add_parser("gui", help="start the desktop application (the default without a subcommand)")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="images (or folders) to open")
    p.add_argument("--text", action="append", help="a prompt; repeat for a label set")
    p.add_argument("--model", default=None,
                   help="open_clip architecture or an embedded family (default: eclip-shapes-vit-ft if installed)")
    p.add_argument("--pretrained", default=None, help="weights: tag, checkpoint file, or 'random'")
    add_device_arg(p)
    p.set_defaults(func=cmd_gui)

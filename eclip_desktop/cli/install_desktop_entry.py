"""`install-desktop-entry`: put the launcher, icons and AppStream metainfo in the user's menu.

The files come from the package (`packaging/linux/` in the source tree) and go under
`$XDG_DATA_HOME` (default `~/.local/share`): `applications/<id>.desktop`,
`icons/hicolor/{scalable,NxN}/apps/eclip-desktop.{svg,png}` and `metainfo/<id>.metainfo.xml`.
The desktop entry's Exec names this interpreter (`python -m eclip_desktop gui %F`), so the
launcher starts the installation that wrote it even when its `bin/` is not on the menu's PATH;
with no file it opens the bundled sample. Existing files that differ are never replaced without
`--overwrite`; `--uninstall` removes what this command writes.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

# Characters that make an Exec argument need quoting (Desktop Entry Specification, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _quote_exec_arg(arg: str) -> str:
    """One Exec argument: quoted per the spec where needed, then escaped as a desktop-file string."""
    arg = arg.replace("%", "%%")
    if _RESERVED & set(arg):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return arg.replace("\\", "\\\\")  # the string-value escape, applied to the whole key's value


def exec_line(python: str | None = None) -> str:
    return " ".join([_quote_exec_arg(python or sys.executable), "-m", "eclip_desktop", "gui"]) + " %F"


def desktop_entry(template: str, python: str | None = None) -> str:
    """The packaged entry with Exec/TryExec pointing at this installation's interpreter."""
    python = python or sys.executable
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + exec_line(python)
        elif line.startswith("TryExec="):
            line = "TryExec=" + python.replace("\\", "\\\\")
        lines.append(line)
    return "\n".join(lines) + "\n"


def plan(data_home: Path, python: str | None = None) -> list[tuple[Path, bytes]]:
    """(target, content) for every file the command installs."""
    from eclip_desktop.core.errors import OutputError
    from eclip_desktop.core.io.paths import APP_ID, ICON_NAME, LINUX_FILES

    src = LINUX_FILES
    desktop = src / f"{APP_ID}.desktop"
    if not desktop.is_file():
        raise OutputError(f"the desktop files are not installed with this copy of eclip-desktop (looked in {src})")
    files = [(data_home / "applications" / desktop.name,
              desktop_entry(desktop.read_text(encoding="utf-8"), python).encode("utf-8")),
             (data_home / "metainfo" / f"{APP_ID}.metainfo.xml", (src / f"{APP_ID}.metainfo.xml").read_bytes()),
             (data_home / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg",
              (src / "icons" / f"{ICON_NAME}.svg").read_bytes())]
    for png in sorted((src / "icons").glob(f"*x*/{ICON_NAME}.png")):
        files.append((data_home / "icons" / "hicolor" / png.parent.name / "apps" / png.name, png.read_bytes()))
    return files


def _refresh_caches(data_home: Path) -> None:
    """Let menus and the icon theme notice the new files; both tools are optional."""
    tools = [("update-desktop-database", "-q", str(data_home / "applications"))]
    hicolor = data_home / "icons" / "hicolor"
    if (hicolor / "index.theme").is_file():  # gtk-update-icon-cache needs a theme index
        tools.append(("gtk-update-icon-cache", "-q", "-t", str(hicolor)))
    for tool in tools:
        if shutil.which(tool[0]):
            try:
                subprocess.run(tool, check=False, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except (OSError, subprocess.SubprocessError):
                pass


def cmd_install_desktop_entry(args) -> int:
    from eclip_desktop.core.errors import OutputError
    from eclip_desktop.core.io.atomic import atomic_write_bytes
    from eclip_desktop.core.io.paths import xdg_data_home

    data_home = Path(args.data_home).expanduser() if args.data_home else xdg_data_home()
    files = plan(data_home)
    if args.uninstall:
        removed = [t for t, _ in files if t.is_file()]
        for target in removed:
            try:
                target.unlink()
            except OSError as exc:
                raise OutputError(f"cannot remove {target}: {exc.strerror}") from None
        for target in removed:
            print(f"removed {target}")
        if not removed:
            print(f"nothing to remove under {data_home}")
        _refresh_caches(data_home)
        return 0
    differing = [t for t, content in files if t.exists() and (not t.is_file() or t.read_bytes() != content)]
    if differing and not args.overwrite:
        raise OutputError(f"{len(differing)} file(s) already exist and differ, e.g. {differing[0]}; "
                          "pass --overwrite to replace them")
    for target, content in files:
        if target.is_file() and target.read_bytes() == content:
            print(f"unchanged {target}")
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create {target.parent}: {exc.strerror}") from None
        atomic_write_bytes(target, content, overwrite=args.overwrite)
        print(f"wrote {target}")
    _refresh_caches(data_home)
    print("eclip-desktop is in the application menu (it may take a new login to appear); "
          "remove it with: eclip-desktop install-desktop-entry --uninstall")
    return 0


def register(sub) -> None:
    p = sub.add_parser("install-desktop-entry",
                       help="add eclip-desktop to your application menu (desktop entry, icons, metainfo)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files that differ")
    p.add_argument("--uninstall", action="store_true", help="remove the files this command installs")
    p.add_argument("--data-home", default=None,
                   help="install under this folder instead of $XDG_DATA_HOME (default ~/.local/share)")
    p.set_defaults(func=cmd_install_desktop_entry)

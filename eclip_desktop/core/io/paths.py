"""Where eclip-desktop keeps per-user data and caches (XDG layout, overridable for tests)."""
from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[3]


def _package_data(installed: str, checkout: str) -> Path:
    """Data that ships in the package: `eclip_desktop/<installed>` in an installed wheel (setup.py maps
    it there from the repository at build time), else `<checkout>` of the source tree (editable installs,
    PYTHONPATH), where git keeps the one copy. Readers need real files (safetensors, open_clip configs),
    so this is a Path, not a zip Traversable: wheels install unzipped."""
    packaged = Path(str(files("eclip_desktop") / installed))
    return packaged if packaged.is_dir() else _CHECKOUT / checkout


# The project's own data (embedded models, samples, model configs, vocabularies); one place so that
# packaging can move it without touching its readers.
RESOURCES = _package_data("resources", "resources")
# The Linux desktop entry, icons and AppStream metainfo (`eclip-desktop install-desktop-entry`).
LINUX_FILES = _package_data("linux", "packaging/linux")
# The AppStream/desktop-entry id (`<APP_ID>.desktop`, `<APP_ID>.metainfo.xml`) and the icon's theme name.
APP_ID = "io.github.eclip_desktop.EclipDesktop"
ICON_NAME = "eclip-desktop"


def _xdg_dir(env_override: str, xdg_var: str, fallback: str) -> Path:
    override = os.environ.get(env_override)
    if override:
        return Path(override).expanduser()
    base = os.environ.get(xdg_var, "")
    # The XDG spec says relative values are invalid and must be ignored.
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), fallback)
    return Path(base) / "eclip-desktop"


def xdg_data_home() -> Path:
    """``$XDG_DATA_HOME`` (absolute values only, as the spec says) or ``~/.local/share``."""
    base = os.environ.get("XDG_DATA_HOME", "")
    return Path(base) if base and os.path.isabs(base) else Path.home() / ".local" / "share"


def user_data_dir() -> Path:
    """``$ECLIP_DESKTOP_DATA`` or ``$XDG_DATA_HOME/eclip-desktop``."""
    return _xdg_dir("ECLIP_DESKTOP_DATA", "XDG_DATA_HOME", os.path.join(".local", "share"))


def user_cache_dir() -> Path:
    """``$ECLIP_DESKTOP_CACHE`` or ``$XDG_CACHE_HOME/eclip-desktop``."""
    return _xdg_dir("ECLIP_DESKTOP_CACHE", "XDG_CACHE_HOME", ".cache")

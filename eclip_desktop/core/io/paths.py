"""Where eclip-desktop keeps per-user data and caches (XDG layout, overridable for tests)."""
from __future__ import annotations

import os
from pathlib import Path

# The project's own data (embedded models, samples, model configs, vocabularies); one place so that
# packaging can move it without touching its readers.
RESOURCES = Path(__file__).resolve().parents[3] / "resources"


def _xdg_dir(env_override: str, xdg_var: str, fallback: str) -> Path:
    override = os.environ.get(env_override)
    if override:
        return Path(override).expanduser()
    base = os.environ.get(xdg_var, "")
    # The XDG spec says relative values are invalid and must be ignored.
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), fallback)
    return Path(base) / "eclip-desktop"


def user_data_dir() -> Path:
    """``$ECLIP_DESKTOP_DATA`` or ``$XDG_DATA_HOME/eclip-desktop``."""
    return _xdg_dir("ECLIP_DESKTOP_DATA", "XDG_DATA_HOME", os.path.join(".local", "share"))


def user_cache_dir() -> Path:
    """``$ECLIP_DESKTOP_CACHE`` or ``$XDG_CACHE_HOME/eclip-desktop``."""
    return _xdg_dir("ECLIP_DESKTOP_CACHE", "XDG_CACHE_HOME", ".cache")

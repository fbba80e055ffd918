"""The Qt desktop application over the core: see docs/GUI.md. `run()` starts it."""
from eclip_desktop.app.main import run

__all__ = ["run"]

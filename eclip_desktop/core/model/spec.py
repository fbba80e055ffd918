"""What to load, without loading anything: kept apart from loading.py (which imports torch and
open_clip) so the window can name models and open before those multi-second imports."""
from __future__ import annotations

from dataclasses import dataclass

RANDOM = "random"


@dataclass(frozen=True)
class ModelSpec:
    """What to load. `pretrained` is a tag, a checkpoint path, or 'random' (explicitly untrained).
    `activation` is 'auto' (decided from the weights, see activation.py), 'gelu' or 'quick_gelu'."""

    architecture: str
    pretrained: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    activation: str = "auto"

    def label(self) -> str:
        if self.pretrained:
            return f"{self.architecture} ({self.pretrained})"
        from eclip_desktop.core.model.loading import default_tag
        return f"{self.architecture} ({default_tag(self.architecture) or RANDOM})"

"""The model catalogue for the picker, built on a worker: listing open_clip's architectures imports
open_clip (and torch), seconds the window must not wait for at start-up."""
from __future__ import annotations

from dataclasses import dataclass, field

from eclip_desktop.core.io.paths import RESOURCES

CONFIG_DIR = RESOURCES / "model_configs"


def training_configs() -> set[str]:
    """The project's own architectures (eclip-tiny-*): configs to train, with no published weights."""
    return {p.stem for p in CONFIG_DIR.glob("*.json")} if CONFIG_DIR.is_dir() else set()


@dataclass
class Catalogue:
    architectures: list[str]  # what the core can read (open_clip ViT/ResNet), open_clip's order
    tags: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # arch -> [(tag, cached)]
    devices: list[str] = field(default_factory=lambda: ["auto", "cpu"])

    def cached(self, arch: str) -> list[str]:
        return [t for t, c in self.tags.get(arch, []) if c]

    def preferred_tag(self, arch: str) -> str | None:
        tags = [t for t, _ in self.tags.get(arch, [])]
        return "openai" if "openai" in tags else (tags[0] if tags else None)


def build_catalogue() -> Catalogue:
    from eclip_desktop.app.widgets.model_picker import supported_architectures
    from eclip_desktop.core.model.device import available_devices
    from eclip_desktop.core.model.loading import is_tag_cached, list_pretrained_tags
    names = supported_architectures()
    tags = {a: [(t, is_tag_cached(a, t)) for t in list_pretrained_tags(a)] for a in names}
    return Catalogue(names, tags, list(available_devices()))


def catalogue_job():
    def run(ctx) -> Catalogue:
        ctx.progress("listing open_clip models \u2026")
        return build_catalogue()
    return run

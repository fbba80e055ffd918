"""The model catalogue for the picker, built on a worker: listing open_clip's architectures imports
open_clip (and torch), seconds the window must not wait for at start-up."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.io.atomic import atomic_write_json
from eclip_desktop.core.io.paths import RESOURCES, user_cache_dir

CONFIG_DIR = RESOURCES / "model_configs"


def training_configs() -> set[str]:
    """The project's own architectures (eclip-tiny-*): configs to train, with no published weights."""
    return {p.stem for p in CONFIG_DIR.glob("*.json")} if CONFIG_DIR.is_dir() else set()


SUPPORT_CACHE = "tower_support.json"
_JUDGED: dict[str, list] = {}  # this process's verdicts, [config hash, kind, why not], should the file be unwritable


def _support_key() -> dict:
    """What the cached image-tower verdicts depend on besides each config: the rule's code and timm's."""
    import open_clip
    import timm

    from eclip_desktop import __version__
    return {"eclip_desktop": __version__, "open_clip": open_clip.__version__, "timm": timm.__version__}


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _config_hash(name: str) -> str:
    import open_clip
    return _digest(open_clip.get_model_config(name) or {})


def _tower_hash(name: str) -> str:
    """What the image tower is built from, less its input size: open_clip's TimmModel keeps image_size for
    itself and builds the same trunk whatever it is, so ViTamin-L at 224, 256, 336 and 384 px is judged once."""
    import open_clip
    cfg = open_clip.get_model_config(name) or {}
    vision = {k: v for k, v in (cfg.get("vision_cfg") or {}).items() if k != "image_size"}
    return _digest({"embed_dim": cfg.get("embed_dim"), "vision_cfg": vision})


def image_supports(names: list[str], check=lambda: None, cache: Path | None = None) -> dict[str, tuple]:
    """arch -> (kind or None, why not), as `zoo.image_support` decides it. Judging a timm tower builds it
    on the meta device (~0.1 s; 13 s for the whole zoo on a busy 2-core machine, time the one worker
    would not run maps), so the verdicts are kept in the user's cache folder, per config and per version
    of eclip-desktop, open_clip and timm. `check` runs between architectures (a cancel lands there);
    what was judged until then is kept for next time."""
    from eclip_desktop.core.model.zoo import image_support
    path = cache if cache is not None else user_cache_dir() / SUPPORT_CACHE
    key = _support_key()
    try:
        saved = json.loads(path.read_text())
        known = saved["verdicts"] if saved.get("key") == key else {}
    except (OSError, ValueError, KeyError, TypeError):
        known = {}
    known.update(_JUDGED)
    out: dict[str, tuple] = {}
    towers: dict[str, list] = {}  # tower hash -> verdict, this call
    fresh = False
    try:
        for name in names:
            digest = _config_hash(name)
            entry = known.get(name)
            if not (isinstance(entry, list) and len(entry) == 3 and entry[0] == digest):
                check()
                tower = _tower_hash(name)
                if tower not in towers:
                    towers[tower] = list(image_support(name))
                entry = [digest, *towers[tower]]
                known[name] = _JUDGED[name] = entry
                fresh = True
            out[name] = (entry[1], entry[2])
    finally:
        if fresh:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_json(path, {"key": key, "verdicts": known})
            except (OSError, EclipError):
                pass  # a read-only cache folder only costs the judging again, once per process
    return out


def supported_architectures(check=lambda: None) -> tuple[list[str], dict[str, str]]:
    """(explainable architectures, {architecture: why not} for the others), open_clip's order.

    Every architecture is judged as the core judges it at load time (`zoo.tower_support`): the image
    tower's kind, then whether the text side needs a package that is missing here.
    """
    from eclip_desktop.core.model.loading import list_architectures
    from eclip_desktop.core.model.zoo import tower_support
    names = list_architectures()
    images = image_supports(names, check)
    explainable, refused = [], {}
    for name in names:
        support = tower_support(name, images[name])
        if support.explainable:
            explainable.append(name)
        elif support.needs:
            refused[name] = (f"needs the optional {support.needs} package ({support.reason}): "
                             "pip install \"eclip-desktop[hf]\"")
        else:
            refused[name] = support.reason
    return explainable, refused


@dataclass
class Catalogue:
    architectures: list[str]  # what the core can explain here, open_clip's order
    tags: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # arch -> [(tag, cached)]
    devices: list[str] = field(default_factory=lambda: ["auto", "cpu"])
    refused: dict[str, str] = field(default_factory=dict)  # the other architectures -> why not

    def cached(self, arch: str) -> list[str]:
        return [t for t, c in self.tags.get(arch, []) if c]

    def preferred_tag(self, arch: str) -> str | None:
        tags = [t for t, _ in self.tags.get(arch, [])]
        return "openai" if "openai" in tags else (tags[0] if tags else None)


def build_catalogue(check=lambda: None) -> Catalogue:
    from eclip_desktop.core.model.device import available_devices
    from eclip_desktop.core.model.loading import is_tag_cached, list_pretrained_tags
    names, refused = supported_architectures(check)
    tags = {a: [(t, is_tag_cached(a, t)) for t in list_pretrained_tags(a)] for a in names}
    return Catalogue(names, tags, list(available_devices()), refused)


def catalogue_job():
    def run(ctx) -> Catalogue:
        ctx.progress("listing open_clip models \u2026")

        def between_architectures():
            ctx.check()
            ctx.let_others_run()  # a no-op unless the job was submitted as yielding (maps run meanwhile)
        return build_catalogue(between_architectures)
    return run

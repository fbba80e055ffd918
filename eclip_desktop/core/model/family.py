"""Families: one small CLIP per pooling, so switching pooling switches the model too.

FAMILY names the default embedded family (resources/models/eclip-shapes-vit-ft: tiny ViTs, one
base trained with its class token and each pooling fine-tuned from it, the family that shows both
the semantic shift and masked max's remedy best on the generalisation suite, docs/RESULTS.md): small
CLIPs trained here on Shapes World, which is how a user SEES semantic shift offline; every other
folder of resources/models is an embedded family too, named by its folder (eclip-shapes: the tiny
ResNets, eclip-shapes-vit: tiny ViTs each trained from scratch with its pooling). Any folder of
`eclip-desktop train` outputs is a family as well — <pooling>.safetensors beside its model card
<pooling>.json (architecture, training command, data seed, steps, wall time, metrics) — so a user
who trains their own siblings opens them with `--model DIR` and switches between them the same way.
"""
from __future__ import annotations

from pathlib import Path

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.io.paths import RESOURCES
from eclip_desktop.core.model.card_schema import read_card
from eclip_desktop.core.model.poolings import pooling_names
from eclip_desktop.core.model.spec import ModelSpec

MODELS_DIR = RESOURCES / "models"
FAMILY = "eclip-shapes-vit-ft"
FAMILY_DIR = MODELS_DIR / FAMILY


def _siblings(folder: Path) -> list[str]:
    return [p for p in pooling_names() if (folder / f"{p}.safetensors").is_file() and (folder / f"{p}.json").is_file()]


def is_embedded(name: str) -> bool:
    """A family shipped in resources/models, named by its folder."""
    if name == FAMILY:
        return True
    if not name or Path(name).name != name or name.startswith("."):
        return False
    folder = MODELS_DIR / name
    return folder.is_dir() and bool(_siblings(folder))


def embedded_families() -> list[str]:
    """The shipped families, the default first."""
    others = sorted(p.name for p in MODELS_DIR.iterdir() if p.name != FAMILY and is_embedded(p.name)) \
        if MODELS_DIR.is_dir() else []
    return ([FAMILY] if _siblings(FAMILY_DIR) else []) + others


def family_dir(name: str = FAMILY) -> Path | None:
    """The folder of family `name` (an embedded family's name, or a folder that holds at least one
    sibling with its card); None when `name` is neither."""
    if name == FAMILY:
        return FAMILY_DIR
    if is_embedded(name):
        return MODELS_DIR / name
    try:
        folder = Path(name).expanduser()
        return folder if folder.is_dir() and _siblings(folder) else None
    except (OSError, ValueError):  # a name no file system accepts is not a folder
        return None


def is_family(name: str) -> bool:
    return family_dir(name) is not None


def family_label(name: str = FAMILY) -> str:
    return name if is_embedded(name) else Path(name).expanduser().name or name


def family_folder(name: str) -> Path:
    folder = family_dir(name)
    if folder is None:
        raise ModelError(f"{name} is not a model family: a family folder holds <pooling>.safetensors with its "
                         f"<pooling>.json card for one or more of {', '.join(pooling_names())}, as "
                         "`eclip-desktop train --pooling P --out DIR` writes them")
    return folder


def checkpoint_path(pooling: str, name: str = FAMILY) -> Path:
    return family_folder(name) / f"{pooling}.safetensors"


def card(pooling: str, name: str = FAMILY) -> dict:
    return read_card(family_folder(name) / f"{pooling}.json")


def available_poolings(name: str = FAMILY) -> list[str]:
    folder = family_dir(name)
    return _siblings(folder) if folder is not None else []


def family_architecture(name: str = FAMILY) -> str:
    """The architecture of a family's models, as its first sibling's card names it."""
    have = available_poolings(name)
    try:
        architecture = card(have[0], name).get("architecture") if have else None
    except ModelError:  # an unreadable card: loading that sibling will say so
        architecture = None
    return architecture if isinstance(architecture, str) and architecture else "unknown architecture"


def family_available(name: str = FAMILY) -> bool:
    return bool(available_poolings(name))


def family_spec(pooling: str = "masked_max", device: str = "auto", dtype: str = "auto",
                name: str = FAMILY) -> ModelSpec:
    """The sibling trained with `pooling`, as a plain ModelSpec (architecture + checkpoint path)."""
    have = available_poolings(name)
    if pooling not in have:
        where = "the embedded family" if name == FAMILY else f"family {family_label(name)}"
        raise ModelError(f"{where} has no model trained with pooling '{pooling}' (have: {', '.join(have) or 'none'}); "
                         f"the models belong in {family_folder(name) if have else family_dir(name) or name}")
    architecture = card(pooling, name).get("architecture")
    if not isinstance(architecture, str) or not architecture:
        raise ModelError(f"model card {checkpoint_path(pooling, name).with_suffix('.json')} names no architecture")
    return ModelSpec(architecture, str(checkpoint_path(pooling, name)), device, dtype)


def default_pooling(name: str = FAMILY) -> str:
    """The sibling a family opens with: masked max where it has one (as the CLI and the app start)."""
    poolings = available_poolings(name)
    if not poolings:
        if name == FAMILY:
            raise ModelError(f"the embedded models are missing from {FAMILY_DIR}; reinstall, or choose a model "
                             "with --model/--pretrained")
        family_folder(name)  # raises: not a family
    return "masked_max" if "masked_max" in poolings else poolings[0]


def default_spec(device: str = "auto", name: str = FAMILY) -> ModelSpec:
    """What the CLI and the app use when the user names no model: the family's masked-max model."""
    return family_spec(default_pooling(name), device, name=name)

"""How a model card tells where its weights came from: the `eclip-desktop train` line that makes a
configuration again, and the chain of runs behind `--init`/`--pretrained` weights.

A family's base often continues earlier weights, which continued others (from scratch, then longer
bases on fresh scenes). The chain is read card by card and frozen into the family's cards when they are
written, with each step's weights SHA-256, so it survives the earlier files being moved or replaced."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from eclip_desktop.core.model.checkpoint import SUFFIX as CHECKPOINT_SUFFIX

_FLAGS = {"architecture": "--model", "init": "--init", "pretrained": "--pretrained", "scenes": "--scenes",
          "steps": "--steps", "batch_size": "--batch-size", "lr": "--lr", "warmup": "--warmup",
          "schedule": "--schedule", "tau": "--tau", "seed": "--seed", "data_seed": "--data-seed",
          "captions": "--captions", "objects": "--objects"}
MAX_CHAIN = 32  # a longer chain is a loop of cards pointing at each other, not a history


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def train_command(config: dict, out: str) -> str:
    """The `eclip-desktop train` line that makes the same model (every recipe value spelled out)."""
    parts = ["eclip-desktop", "train", "--pooling", config["pooling"]]
    for key, flag in _FLAGS.items():
        if config.get(key) is not None:
            parts += [flag, str(config[key])]
    if config.get("fresh_scenes"):
        parts.append("--fresh-scenes")
    if config.get("pretrained"):  # only a fine-tune unlocks blocks; a full run trains every one
        parts += ["--unlock-blocks", str(config.get("unlock_blocks", 1))]
    if config.get("name") and config["name"] != config["pooling"]:
        parts += ["--name", config["name"]]
    return " ".join(parts + ["--out", out])


def card_beside(weights: str | Path) -> dict | None:
    path = Path(weights)
    stem = path.name[:-len(CHECKPOINT_SUFFIX)] if path.name.endswith(CHECKPOINT_SUFFIX) else path.stem
    try:
        card = json.loads(path.with_name(stem + ".json").read_text())
    except (OSError, ValueError):
        return None
    return card if isinstance(card, dict) else None


def _without_history(stage: dict) -> dict:
    return {k: v for k, v in stage.items() if k != "history"}


def init_stages(init: str | Path | None) -> list[dict] | None:
    """The runs that made `init`, oldest first (command, steps, wall time, loss, weights SHA-256 each),
    read from the cards beside it and beside what it continued; None when it has no card."""
    chain: list[dict] = []
    seen: set[str] = set()
    current = init
    while current and len(seen) < MAX_CHAIN:
        key = str(Path(current).resolve())
        card = card_beside(current) if key not in seen else None
        if card is None:
            break
        seen.add(key)
        if card.get("stages"):  # a card that already records its history (a family's, or an assembled one)
            chain = [_without_history(s) for s in card["stages"] if isinstance(s, dict)] + chain
            break
        config = card.get("config") or {}
        history = card.get("history") or []
        probes = [h["zero_shot"] for h in history if isinstance(h, dict) and "zero_shot" in h]
        command = card.get("command") or (train_command(config, "DIR") if config.get("pooling") else None)
        entry = {"command": command,
                 "steps": card.get("steps"), "wall_seconds": card.get("wall_seconds"),
                 "final_loss": card.get("final_loss"), "final_zero_shot_probe": probes[-1] if probes else None,
                 "data": (card.get("data") or {}).get("source"), "machine": card.get("machine")}
        if Path(current).is_file():
            entry["weights_sha256"] = sha256_file(Path(current))
        chain.insert(0, entry)
        current = config.get("init") or config.get("pretrained")
    if not chain:
        return None
    return [{"stage": i, **{k: v for k, v in s.items() if k != "stage"}} for i, s in enumerate(chain, 1)]

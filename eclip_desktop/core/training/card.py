"""What a finished run leaves: the weights (float16 safetensors with architecture, pooling and tau in
the metadata) and the model card next to them (config, data, machine, history)."""
from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from pathlib import Path

import open_clip
import torch
from safetensors.torch import save

from eclip_desktop import __version__
from eclip_desktop.core.io.atomic import atomic_write_bytes, atomic_write_json
from eclip_desktop.core.training.config import TrainConfig


def model_card(cfg: TrainConfig, data: dict, world: int, device: torch.device, wall: float,
               final_loss: float | None, final_acc: float | None, history: list[dict]) -> dict:
    return {
        "format": "eclip-desktop-model-card", "version": 1, "name": cfg.run_name(),
        "architecture": cfg.architecture, "pooling": cfg.pooling, "tau": cfg.tau,
        "init": cfg.pretrained or cfg.init or "scratch", "config": asdict(cfg),
        "model_config": open_clip.get_model_config(cfg.architecture),
        "data": data,
        "steps": cfg.steps, "world_size": world, "device": str(device),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "torch": torch.__version__,
        "wall_seconds": wall, "final_loss": final_loss, "final_batch_acc": final_acc, "history": history,
        "eclip_desktop": __version__, "weights": f"{cfg.run_name()}.safetensors",
    }


def write_outputs(out: Path, model, cfg: TrainConfig, card: dict) -> None:
    """The weights, then the card: each written whole or not at all."""
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()}
    # Through atomic_write_bytes: safetensors' own save_file creates the file 0600, whatever the umask.
    atomic_write_bytes(out / f"{cfg.run_name()}.safetensors",
                       save(state, metadata={"architecture": cfg.architecture, "pooling": cfg.pooling, "tau": cfg.tau}))
    atomic_write_json(out / f"{cfg.run_name()}.json", card)


def update_card(path: Path, **fields) -> dict:
    card = json.loads(Path(path).read_text())
    card.update(fields)
    atomic_write_json(path, card)
    return card

"""The training checkpoint is read in one way everywhere: safely, with clear messages."""
from pathlib import Path

import pytest
import torch
from conftest import CodeCarryingPickle

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.model.checkpoint import (
    checkpoint_weights,
    is_checkpoint_name,
    read_checkpoint,
    write_checkpoint,
)
from eclip_desktop.core.training.init_weights import read_state_dict


def _trap_file(tmp_path: Path, name: str) -> tuple[Path, Path]:
    marker = tmp_path / "code-ran"
    path = tmp_path / name
    torch.save({"model": {"w": torch.zeros(2)}, "optimizer": {}, "payload": CodeCarryingPickle(marker)}, path)
    return path, marker


def test_write_then_read_round_trips_an_optimiser_state(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    path = tmp_path / "run.ckpt.pt"
    write_checkpoint(path, {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 7,
                            "config": {"lr": 1e-3, "init": None, "extra": {}}})
    state = read_checkpoint(path)
    assert state["step"] == 7 and state["config"]["init"] is None
    assert torch.equal(checkpoint_weights(state)["weight"], model.weight.detach())
    fresh = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=1e-3)
    fresh.load_state_dict(state["optimizer"])  # the optimiser state survives the safe loader
    assert not path.with_suffix(".tmp").exists()


def test_a_pickle_that_carries_code_is_refused_not_run(tmp_path):
    path, marker = _trap_file(tmp_path, "evil.ckpt.pt")
    with pytest.raises(ValueError, match="not a weights file torch can read safely"):
        read_checkpoint(path)
    with pytest.raises(EclipError, match="cannot read --init weights"):
        read_state_dict(path)
    assert not marker.exists()


def test_other_contents_and_names(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(ValueError, match="holds a list"):
        read_checkpoint(path)
    with pytest.raises(OSError):
        read_checkpoint(tmp_path / "missing.ckpt.pt")
    assert checkpoint_weights({"model": {"w": torch.zeros(1)}}) is None  # no optimiser: not a checkpoint
    assert is_checkpoint_name("/runs/native.CKPT.pt") and not is_checkpoint_name("/runs/native.pt")

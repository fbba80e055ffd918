"""`train --init FILE`: start a from-scratch run from earlier weights of the same model family, at
another input size if need be (progressive resizing: learn shape cheaply at a small size, then
continue at the size whose token grid is fine enough to point at objects).

Every parameter keeps training as in a run from scratch; only the visual positional embeddings are
resized (bicubic over the token grid, the class/mean token kept), because they are the only
weights whose shape depends on the input size.
"""
from __future__ import annotations

from pathlib import Path

import torch

from eclip_desktop.core.errors import EclipError
from eclip_desktop.core.io.guards import check_regular, shown
from eclip_desktop.core.model.checkpoint import read_checkpoint
from eclip_desktop.core.model.features import interpolate_grid_embedding
from eclip_desktop.core.model.sizes import check_file_fits, stored_tensor_bytes, weights_mismatch

_POSITIONAL = ("visual.positional_embedding", "visual.attnpool.positional_embedding")


def read_state_dict(path: str | Path, model: torch.nn.Module | None = None) -> dict[str, torch.Tensor]:
    """Weights from a .safetensors file, a training checkpoint (.ckpt.pt) or a plain state dict; with
    `model`, a file whose header claims far more or fewer tensor bytes than its weights is refused unread."""
    path = Path(path)

    def fail(why: str) -> EclipError:
        if why == "not found":
            return EclipError(f"--init weights {shown(path)} do not exist")
        return EclipError(f"cannot read --init weights {shown(path)}: {why}")
    check_regular(path, fail)  # a FIFO would block the reader, /dev/zero never ends
    if model is not None:
        values = sum(t.numel() for t in model.state_dict().values())
        why = weights_mismatch(stored_tensor_bytes(path), values, "the model being trained")
        if why:
            raise fail(why.replace(" the model card or --model names", " --init names"))
    check_file_fits(path, fail)  # read whole below: a header claiming 10 GB is refused first
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(str(path))
        else:
            state = read_checkpoint(path)
            state = state.get("model", state.get("state_dict", state))
    except Exception as exc:  # safetensors, pickle and torch each raise their own types
        raise EclipError(f"cannot read --init weights {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise EclipError(f"--init weights {path} hold no state dict of tensors")
    return state


def _grid_of(n_tokens: int) -> tuple[int, int]:
    side = int(round((n_tokens - 1) ** 0.5))
    return side, side


def load_resized(model: torch.nn.Module, path: str | Path) -> list[str]:
    """Loads `path` into `model` (same architecture family); returns the names that were resized."""
    state = read_state_dict(path, model)
    own = model.state_dict()
    resized = []
    for name in _POSITIONAL:
        if name in state and name in own and state[name].shape != own[name].shape:
            if state[name].shape[1:] != own[name].shape[1:]:
                raise EclipError(f"--init weights {path}: {name} has width {tuple(state[name].shape[1:])}, "
                                 f"this model {tuple(own[name].shape[1:])}")
            state[name] = interpolate_grid_embedding(state[name].float(), _grid_of(own[name].shape[0]))
            resized.append(name)
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or mismatched:
        detail = "; ".join(f"{label}: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
                           for label, keys in (("missing", missing), ("unexpected", unexpected),
                                               ("other shape", mismatched)) if keys)
        raise EclipError(f"--init weights {path} do not fit this architecture ({detail})")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    return resized

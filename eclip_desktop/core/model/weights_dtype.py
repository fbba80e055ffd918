"""Weights must be stored as floating-point numbers. A checkpoint re-saved with int8 (or any
integer) tensors loads without an error, because loading casts it into the float model, and gives
a model whose maps are all zero and whose probability is 1.0: a silently wrong result. Checked from
the file's header before the model is built."""
from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.io.guards import shown

# safetensors dtype codes that hold weights as this tool computes with them
FLOAT_CODES = frozenset({"F16", "BF16", "F32", "F64"})
# Integer buffers a CLIP state dict may legitimately hold (BatchNorm's counter, HF position ids).
INTEGER_BUFFERS = ("num_batches_tracked", "position_ids")
HEADER_LIMIT = 100_000_000  # the safetensors format's own bound on its JSON header


def safetensors_dtypes(path: str | Path) -> list[tuple[str, str]]:
    """(tensor name, dtype code) for every tensor in a .safetensors header; [] when the file is not
    one (its loader then reports what it is)."""
    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n > HEADER_LIMIT:
                return []
            header = json.loads(f.read(n))
    except (OSError, ValueError, struct.error, RecursionError):
        return []
    if not isinstance(header, dict):
        return []
    return [(k, str(v.get("dtype"))) for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)]


def state_dtypes(state: dict) -> list[tuple[str, str]]:
    """(name, dtype) of the tensors of a loaded state dict, in safetensors' codes where they exist."""
    import torch
    codes = {torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32", torch.float64: "F64"}
    return [(k, codes.get(v.dtype, str(v.dtype).removeprefix("torch.")))
            for k, v in state.items() if isinstance(v, torch.Tensor)]


def refuse_integer_weights(dtypes: Iterable[tuple[str, str]], path: str | Path) -> None:
    """ModelError when a weight (anything but a known integer buffer) is not stored as floats."""
    bad = [(name, code) for name, code in dtypes
           if code not in FLOAT_CODES and not name.endswith(INTEGER_BUFFERS)]
    if bad:
        kinds = ", ".join(sorted({code for _, code in bad}))
        raise ModelError(f"checkpoint {shown(path)} stores {len(bad)} weight(s) as {kinds} (e.g. {shown(bad[0][0])}), "
                         "not as floating-point numbers (fp32, fp16 or bf16); quantised or integer weights would be "
                         "cast into a model whose maps are all zero: save the weights as floats first")

"""How much memory a model and its weights file will take, known before any of it is allocated.

A model card or `--model` names an architecture and a weights file claims tensor sizes in its
header; both are only words until checked. Building a ViT-bigG-14 because a card says so takes
10 GB before the small weights beside it fail to load, and a sparse .safetensors file whose header
claims a 10 GB tensor is read whole by the loader. So the architecture's parameter count comes from
building it on the meta device (shapes only, no storage), the file's tensor bytes from its header
(safetensors) or its zip records (torch files), and the two are compared with each other and with
the memory the machine has before the real build starts.
"""
from __future__ import annotations

import json
import os
import struct
import zipfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from eclip_desktop.core.errors import ModelError
from eclip_desktop.core.io.guards import shown

HEADER_LIMIT = 100_000_000  # the safetensors format's own bound on its JSON header
# A weights file holds the model once (fp16 at least: 2 bytes a parameter; half of that leaves room for
# tied or derived tensors a loader recreates) and at most a training checkpoint's weights + two Adam
# moments in float64 (24 bytes a parameter), plus room for small extra tensors.
MIN_BYTES_PER_PARAMETER = 1
MAX_BYTES_PER_PARAMETER = 24
SLACK_BYTES = 64 << 20
BUILD_BYTES_PER_PARAMETER = 4  # models are built in float32 on the CPU, then cast and moved


def gb(n: float) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} bytes"


def count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(int(n))


@lru_cache(maxsize=64)
def architecture_parameters(architecture: str) -> int | None:
    """Values in the state dict of `architecture` as open_clip builds it (parameters and persistent
    buffers), counted on the meta device: no memory taken, ~0.03 s (tiny) to ~0.8 s (timm towers).
    None when the architecture cannot be built that way (its loader then speaks for itself)."""
    import open_clip
    import torch

    from eclip_desktop.core.model.loading import quiet_open_clip, register_project_configs
    register_project_configs()
    try:
        with quiet_open_clip(), torch.device("meta"):
            model = open_clip.create_model(architecture, pretrained=None, device="meta")
        return int(sum(t.numel() for t in model.state_dict().values()))
    except Exception:  # missing optional packages (transformers), towers that need real data at init
        return None


_SAFETENSORS_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2,
                      "U16": 2, "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}


def stored_tensor_bytes(path: str | os.PathLike) -> int | None:
    """Bytes of tensor data a weights file says it holds, from its header alone: the shapes of a
    .safetensors header, the data records of a torch zip archive (torch.save, TorchScript). None for
    a file that is neither (legacy torch pickles): its loader reports what it is."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if head[:2] == b"PK":
                f.seek(0)
                with zipfile.ZipFile(f) as z:
                    return sum(i.file_size for i in z.infolist() if "/data/" in i.filename or i.filename.startswith("data/"))
            if len(head) < 8:
                return None
            (n,) = struct.unpack("<Q", head)
            if n > HEADER_LIMIT:
                return None
            header = json.loads(f.read(n))
    except (OSError, ValueError, zipfile.BadZipFile, RecursionError, struct.error):
        return None
    if not isinstance(header, dict):
        return None
    total = 0
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            return None
        values = 1
        for d in shape:
            values *= d
        total += values * _SAFETENSORS_BYTES.get(str(info.get("dtype")), 8)
    return total


def _kib_fields(path: str) -> dict[str, int]:
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            parts = value.split()
            if parts and parts[0].isdigit():
                fields[key] = int(parts[0]) * 1024
    return fields


def _system_memory() -> int | None:
    try:
        fields = _kib_fields("/proc/meminfo")
        return fields["MemAvailable"] + fields.get("SwapFree", 0)
    except (OSError, KeyError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def _cgroup_room() -> int | None:
    """What a container's memory limit (cgroup v2) still allows."""
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
    return int(limit) - used if limit.isdigit() else None


def _address_space_room() -> int | None:
    """What `ulimit -v` (RLIMIT_AS) still allows this process to map."""
    try:
        import resource
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        return soft - _kib_fields("/proc/self/status")["VmSize"]
    except (ImportError, OSError, KeyError, ValueError):
        return None


def available_memory() -> int | None:
    """Bytes this process can still take: the least of the machine's available memory (MemAvailable +
    SwapFree), its container's memory limit and its address-space limit; None when none is known."""
    known = [n for n in (_system_memory(), _cgroup_room(), _address_space_room()) if n is not None]
    return max(0, min(known)) if known else None


def weights_mismatch(stored: int | None, parameters: int, architecture: str) -> str | None:
    """Why `stored` bytes of tensors cannot be weights of `architecture` (`parameters` values), else None."""
    if stored is None:
        return None
    low, high = parameters * MIN_BYTES_PER_PARAMETER, parameters * MAX_BYTES_PER_PARAMETER + SLACK_BYTES
    if stored < low:
        return (f"holds {gb(stored)} of tensors, too few for {shown(architecture)} ({count(parameters)} parameters "
                f"need at least {gb(low)}): the model card or --model names another architecture than the weights "
                "were saved from")
    if stored > high:
        return (f"claims {gb(stored)} of tensors in its header, more than {shown(architecture)} ({count(parameters)} "
                f"parameters) can use (at most {gb(high)}): its header does not describe these weights")
    return None


def check_model_sizes(architecture: str, weights: str | os.PathLike | None, *,
                      memory: Callable[[], int | None] = available_memory) -> None:
    """ModelError, before anything is built or read, when the weights file's header cannot hold
    `architecture` (too few bytes: the card or --model names another, larger model), claims far more
    than it could (a header lying about its shapes), or when building the model and reading the file
    would take more memory than the machine has available."""
    parameters = architecture_parameters(architecture)
    if parameters is None:
        return
    stored = stored_tensor_bytes(weights) if weights is not None else None
    why = weights_mismatch(stored, parameters, architecture)
    if why:
        raise ModelError(f"checkpoint {shown(weights)} {why}")
    need = parameters * BUILD_BYTES_PER_PARAMETER + (stored or 0)
    have = memory()
    if have is not None and need > have:
        read = f" and reading its {gb(stored)} of weights" if stored else ""
        raise ModelError(f"building {shown(architecture)} ({count(parameters)} parameters as float32){read} needs "
                         f"{gb(need)} of memory; only {gb(have)} is available to this process: close other "
                         "programs or choose a smaller model")


def check_file_fits(path: str | os.PathLike, fail: Callable[[str], Exception], *,
                    memory: Callable[[], int | None] = available_memory) -> None:
    """`fail(reason)` raised when a checkpoint's tensor data, as its header states it, exceeds the
    memory available: a file that would be read whole (train --resume/--init) is sized first."""
    stored = stored_tensor_bytes(path)
    have = memory()
    if stored is not None and have is not None and stored > have:
        raise fail(f"its header states {gb(stored)} of tensors, more than the {gb(have)} of memory available")

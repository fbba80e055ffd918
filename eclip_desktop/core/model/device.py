"""Device and dtype choice: CUDA, then Apple MPS, then CPU; half precision only on a GPU."""
from __future__ import annotations

import torch

from eclip_desktop.core.errors import DeviceError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
DTYPE_CHOICES = ("auto", "fp32", "fp16", "bf16")
_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def available_devices() -> list[str]:
    """Devices this machine can run on, for pickers ('auto' first)."""
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if mps_available():
        out.append("mps")
    return out


def resolve_device(name: str = "auto") -> torch.device:
    name = (name or "auto").lower()
    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise DeviceError(f"unknown device '{name}': choose one of {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no CUDA GPU is available to torch on this machine; "
                              "use --device cpu (or auto)")
        return torch.device(name)
    if name == "mps" and not mps_available():
        raise DeviceError("Apple MPS was requested but is not available here; use --device cpu (or auto)")
    return torch.device(name)


def resolve_dtype(device: torch.device, name: str = "auto") -> torch.dtype:
    """fp32 on CPU (half is slow and inexact there); fp16 on GPUs, bf16 where the GPU supports it."""
    name = (name or "auto").lower()
    if name not in DTYPE_CHOICES:
        raise DeviceError(f"unknown dtype '{name}': choose one of {', '.join(DTYPE_CHOICES)}")
    if name != "auto":
        if device.type == "cpu" and name != "fp32":
            raise DeviceError(f"{name} is only supported on a GPU; use fp32 on the CPU")
        return _DTYPES[name]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in _DTYPES.items()}[dtype]

"""Device and precision choice: CPU, CUDA or MPS, picked automatically or by name; autocast contexts."""
from __future__ import annotations

import contextlib

import torch

from translate.errors import TranslateError

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; a named device that is not available is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TranslateError(f"--device {name!r}: expected auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TranslateError(f"--device {name}: CUDA is not available on this machine (use --device cpu)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise TranslateError(f"--device {name}: MPS is not available on this machine (use --device cpu)")
    return device


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """``auto`` is fp32 on CPU/MPS and bf16 on CUDA GPUs that support it (fp32 otherwise)."""
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return _DTYPES[precision]


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed-precision context for the forward and loss computations; a no-op at fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)

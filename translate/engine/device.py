"""Device and precision choice (CPU, CUDA or MPS, picked automatically or by name), autocast contexts, and
``torch.compile`` of the networks. docs/benchmarks.md gives the measurements behind each default."""
from __future__ import annotations

import contextlib
import logging

import torch

from translate.errors import TranslateError

log = logging.getLogger(__name__)

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


# Where ``precision: auto`` picks bf16. CUDA GPUs that support it: yes, since bf16 training (with the fp32
# policy of translate.models.precision) scored within fp32's seed spread on the demo task at the new default
# (3 seeds, docs/benchmarks.md "bf16 parity at the new default"). CPUs with bf16 units (cpu_has_native_bf16):
# not yet, because there bf16 buys little (0.71 against 0.76 of the reference's step time on an AVX512-BF16 CPU
# without AMX) while every published CPU figure is fp32; train.precision=bf16 opts in.
AUTO_BF16_CUDA = True
AUTO_BF16_CPU = False


def cpu_bf16_units() -> list[str]:
    """The native bf16 instruction sets this CPU has (``amx_bf16``, ``avx512_bf16``), as torch detects them
    (cpuinfo, the library torch's own kernels dispatch on); [] where none or where torch cannot say."""
    query = getattr(getattr(torch._C, "_cpu", None), "_get_cpu_capability", None)
    if query is None:  # an older or newer torch without the query: do not guess from the model name
        return []
    try:
        caps = query()
    except RuntimeError:
        return []
    return [unit for unit in ("amx_bf16", "avx512_bf16") if caps.get(unit)]


def cpu_has_native_bf16() -> bool:
    """True when bf16 matmuls and convolutions run on bf16 hardware here (AMX or AVX512-BF16), not emulated."""
    return bool(cpu_bf16_units()) and torch.backends.mkldnn.is_available()


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on CUDA GPUs that support it (AUTO_BF16_CUDA), and on CPUs with native bf16 units when
    AUTO_BF16_CPU is on (it is off); fp32 elsewhere."""
    if precision == "auto":
        if AUTO_BF16_CUDA and device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        if AUTO_BF16_CPU and device.type == "cpu" and cpu_has_native_bf16():
            return torch.bfloat16
        return torch.float32
    return _DTYPES[precision]


def autocast(device: torch.device, dtype: torch.dtype):
    """Mixed-precision context for the forward and loss computations; a no-op at fp32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def compile_networks(networks: torch.nn.Module) -> None:
    """``torch.compile`` G, D and F in place (train.compile).

    ``Module.compile`` keeps parameter names, so checkpoints stay loadable without compile. G's ``encode``
    (the NCE queries, a third of G's work per step) is a method rather than ``forward``, so it gets its own
    compiled wrapper, and so does F's ``forward_groups`` (CUT's queries of fake_b and idt_b in one call). The
    first steps are slow while the graphs are compiled (minutes on a CPU).
    """
    for name in ("G", "D", "F"):
        getattr(networks, name).compile()
    G, F = networks.G, networks.F
    G.encode = torch.compile(G.encode)
    if hasattr(F, "forward_groups"):
        F.forward_groups = torch.compile(F.forward_groups)
    log.info("train.compile: G, D and F will be compiled on their first calls (this takes a while)")

"""Inference backends for ``translate apply``, ``translate export`` and the demo: how G's forward runs.

A backend wraps a loaded G into a callable with G's contract, (B, 3, H, W) in [-1, 1] -> same shape, plus
its ``multiple``, so ``translate.apply.translate_tensor`` takes either. Backends:

- ``torch``: G itself, fp32, under ``no_grad`` (the caller's). ``torch.inference_mode`` was measured no
  faster on CPU (G's time is all convolution and instance norm, not autograd bookkeeping), and its
  inference tensors would break the test-time refiner, which needs autograd on G's output.
- ``channels_last``: a copy of G in channels-last (NHWC) memory, fp32; oneDNN's convolutions prefer it.
- ``bf16``: a copy of G with bf16 weights in channels-last memory, fp32 in and out. Within
  ``BF16_TOLERANCE`` of fp32 (tests/test_inference.py); fast only where the CPU has bf16 matrix units
  (``translate.engine.device.cpu_bf16_units``) or on CUDA.
- ``compile``: ``torch.compile(G)``; minutes of compilation on CPU before the first image, and again for
  every new image size.
- ``onnxruntime``: G exported to ONNX (dynamic batch, height and width) and run by ONNX Runtime's CPU
  provider; needs the optional extra ``onnx`` (``pip install -e ".[onnx]"``; translate/extras.py).

``auto`` is the fastest backend measured on each kind of device (docs/benchmarks.md, "Apply backends", from
``benchmarks/inference_paths.py`` and ``benchmarks/vs_reference.py``): ``bf16`` on CPUs with AMX bf16 units,
``channels_last`` on other CPUs, ``torch`` on GPUs (not measured there).
"""
from __future__ import annotations

import copy
import io
import logging
import warnings
from collections.abc import Callable

import torch

from translate.errors import TranslateError
from translate.extras import require

log = logging.getLogger(__name__)

BACKENDS = ("auto", "torch", "channels_last", "bf16", "compile", "onnxruntime")
ONNX_TOLERANCE = 1e-4  # max |ONNX Runtime - PyTorch| per pixel in [-1, 1] (tests/test_inference.py); fp32 both
# bf16 against fp32, per pixel in [-1, 1]: (largest, mean) |difference| on the bundled model's test images
# (tests/test_inference.py). One 8-bit level of a saved image is 2/255 = 0.0078. The bundled SANTA G (one
# downsampling) measures max 0.081, mean 0.0013, 99.9th percentile 0.024 on its 64 test images (the earlier
# bundled G stayed under 0.05): rare single pixels move by up to ~10 levels, the image as a whole by a fifth
# of one.
BF16_TOLERANCE = (0.1, 0.002)


class Backend:
    """A callable with G's contract; ``name`` says which backend it is, ``multiple`` is G's size multiple."""

    def __init__(self, name: str, fn: Callable[[torch.Tensor], torch.Tensor], multiple: int):
        self.name, self._fn, self.multiple = name, fn, multiple

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x)

    def __repr__(self) -> str:
        return f"Backend({self.name!r})"


def resolve_backend(name: str, device: torch.device) -> str:
    """``auto`` -> the measured default for ``device``; any other name is checked and returned."""
    if name not in BACKENDS:
        raise TranslateError(f"--backend {name!r}: expected one of {', '.join(BACKENDS)}")
    if name == "onnxruntime" and device.type != "cpu":
        raise TranslateError(f"--backend onnxruntime runs on the CPU only; use --device cpu or --backend torch "
                             f"(got --device {device})")
    if name != "auto":
        return name
    if device.type != "cpu":
        return "torch"
    from translate.engine.device import cpu_bf16_units

    return "bf16" if "amx_bf16" in cpu_bf16_units() else "channels_last"


def build_backend(G: torch.nn.Module, name: str, device: torch.device) -> Backend | torch.nn.Module:
    """G wrapped for ``name``; ``torch`` returns G itself, so nothing changes for existing callers."""
    name = resolve_backend(name, device)
    G = G.eval()
    multiple = getattr(G, "multiple", 4)
    if name == "torch":
        return G
    if name in ("channels_last", "bf16"):
        dtype = torch.bfloat16 if name == "bf16" else torch.float32
        G_nhwc = copy.deepcopy(G).to(dtype=dtype, memory_format=torch.channels_last)

        def nhwc(x: torch.Tensor) -> torch.Tensor:
            y = G_nhwc(x.to(dtype=dtype, memory_format=torch.channels_last))
            return y.float().contiguous()
        return Backend(name, nhwc, multiple)
    if name == "compile":
        return Backend("compile", torch.compile(G, dynamic=True), multiple)
    return Backend("onnxruntime", onnx_session_fn(export_onnx(G)), multiple)


def export_onnx(G: torch.nn.Module, opset: int = 17) -> bytes:
    """G as an ONNX model (bytes) with dynamic batch, height and width; input ``a``, output ``b``.

    Uses the TorchScript-based exporter, which needs no extra package and handles G's reflection padding
    and blur crops with symbolic sizes; inputs must still be multiples of G's ``multiple``, as for G.
    """
    require("onnx", "onnx", "ONNX export (translate export --format onnx, apply --backend onnxruntime)")
    G = G.eval().cpu()
    x = torch.zeros(1, 3, 64, 64)
    axes = {0: "batch", 2: "height", 3: "width"}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # deprecation of this exporter, instance norm's train flag, slicing
        torch.onnx.export(G, (x,), buf, dynamo=False, input_names=["a"], output_names=["b"],
                          dynamic_axes={"a": axes, "b": axes}, opset_version=opset, do_constant_folding=True)
    return buf.getvalue()


def onnx_session_fn(model: bytes, threads: int | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function running the ONNX ``model`` with ONNX Runtime on the CPU."""
    ort = require("onnxruntime", "onnx", "--backend onnxruntime (or use --backend torch)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.log_severity_level = 3  # errors only: its shape-inference warnings are not the user's business
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> torch.Tensor:
        y = session.run(["b"], {"a": x.detach().cpu().float().contiguous().numpy()})[0]
        return torch.from_numpy(y)
    return run

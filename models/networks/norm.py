"""Instance normalisation without affine parameters or running statistics, as in CUT.

Computed as group norm with one group per channel: the same numbers as ``nn.InstanceNorm2d`` (to float
rounding; tests/test_networks.py), but PyTorch's group-norm kernels take channels-last and bf16 tensors as
they are, where instance norm reshapes into a batch norm and copies its input twice per call. On a CPU with
bf16 units those copies were a third of G's bf16 time (benchmarks/inference_paths.py). No parameters or
buffers, so state dicts are those of ``nn.InstanceNorm2d(affine=False)``.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from translate.models.precision import fp32, wants_fp32


class InstanceNorm(nn.Module):
    """(B, C, H, W) -> same: each image's channels normalised to zero mean, unit variance over H, W."""

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.channels, self.eps = channels, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if wants_fp32("norm") and x.dtype != torch.float32:  # the precision policy (models/precision.py)
            with fp32("norm", x.device.type):
                return F.group_norm(x.float(), self.channels, eps=self.eps)
        return F.group_norm(x, self.channels, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.channels}, eps={self.eps}"

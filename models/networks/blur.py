"""Fixed binomial blur layers for anti-aliased resampling.

Zhang, "Making Convolutional Networks Shift-Invariant Again" (ICML 2019), as used by
CUT (Park et al., ECCV 2020): strided layers are replaced by a stride-1 layer followed
by a low-pass blur with stride 2 (``Downsample``), and upsampling is a transposed
convolution with a fixed binomial kernel (``Upsample``). Neither layer has parameters;
their kernels are buffers so they follow ``.to(device)`` and appear in state dicts.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_PADS = {"reflect": nn.ReflectionPad2d, "replicate": nn.ReplicationPad2d, "zero": nn.ZeroPad2d}


def binomial_kernel(size: int) -> torch.Tensor:
    """Outer product of the binomial row of length ``size`` with itself, summing to 1."""
    if size < 1:
        raise ValueError(f"blur kernel size must be >= 1, got {size}")
    row = torch.tensor([math.comb(size - 1, i) for i in range(size)], dtype=torch.float32)
    kernel = row[:, None] * row[None, :]
    return kernel / kernel.sum()


def _pad_layer(pad_type: str, sizes: list[int]) -> nn.Module:
    if pad_type not in _PADS:
        raise ValueError(f"unknown pad type {pad_type!r}; expected one of {sorted(_PADS)}")
    return _PADS[pad_type](sizes)


class Downsample(nn.Module):
    """Blur then subsample: (B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2)) at the defaults."""

    def __init__(
        self,
        channels: int,  # number of channels; the blur is depthwise (one kernel per channel)
        filt_size: int = 3,  # binomial taps per axis; 3 gives [1,2,1]/4
        stride: int = 2,  # subsampling factor
        pad_type: str = "reflect",  # border handling: reflect | replicate | zero
    ) -> None:
        super().__init__()
        self.stride = stride
        lo, hi = (filt_size - 1) // 2, math.ceil((filt_size - 1) / 2)
        self.pad = _pad_layer(pad_type, [lo, hi, lo, hi])
        kernel = binomial_kernel(filt_size)[None, None].repeat(channels, 1, 1, 1)  # (C, 1, k, k)
        self.register_buffer("filt", kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(self.pad(x), self.filt, stride=self.stride, groups=x.shape[1])


class Upsample(nn.Module):
    """Transposed-conv blur: (B, C, H, W) -> (B, C, 2H, 2W) at the defaults.

    The kernel is scaled by ``stride**2`` because a stride-s transposed conv spreads
    each input value over s*s outputs; the scaling keeps a constant image constant.
    Inputs are first replicate-padded by one pixel so the border outputs see a full
    kernel, and the extra rows/columns are cropped off afterwards.
    """

    def __init__(
        self,
        channels: int,  # number of channels; the blur is depthwise
        filt_size: int = 4,  # binomial taps per axis; 4 gives [1,3,3,1]/8
        stride: int = 2,  # upsampling factor
        pad_type: str = "replicate",  # border handling of the one-pixel pre-pad
    ) -> None:
        super().__init__()
        self.stride = stride
        self.filt_odd = filt_size % 2 == 1
        self.conv_pad = 1 + (filt_size - 1) // 2
        self.pad = _pad_layer(pad_type, [1, 1, 1, 1])
        kernel = binomial_kernel(filt_size) * stride**2
        self.register_buffer("filt", kernel[None, None].repeat(channels, 1, 1, 1))  # (C, 1, k, k)

        # At the defaults (4 taps, stride 2, replicate pre-pad) the layer is exactly bilinear upsampling by 2
        # with half-pixel centres: output 2t is (x[t-1] + 3 x[t]) / 4, output 2t+1 is (3 x[t] + x[t+1]) / 4,
        # the edges clamped as the replicate pad does (tests/test_networks.py). PyTorch's bilinear kernel is
        # several times faster than a depthwise transposed convolution, whose CPU path has no oneDNN kernel
        # (half of G's time in bf16), and its backward needs no replication-pad backward.
        self.bilinear = filt_size == 4 and stride == 2 and pad_type == "replicate"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bilinear:
            return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        return self.transposed(x)

    def transposed(self, x: torch.Tensor) -> torch.Tensor:
        """The layer as its definition: replicate pad, depthwise transposed conv with the kernel, crop."""
        y = F.conv_transpose2d(
            self.pad(x), self.filt, stride=self.stride, padding=self.conv_pad, groups=x.shape[1]
        )[:, :, 1:, 1:]
        # An even kernel leaves one surplus row and column at the far edge.
        return y if self.filt_odd else y[:, :, :-1, :-1]

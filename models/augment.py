"""Differentiable augmentation of the discriminator's inputs: DiffAugment (Zhao, Liu, Lin, Zhu, Han;
"Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020), on the GPU with torch and kornia.

The same policy is applied to every image D sees, real and fake alike, in both the D and the G update
(models/cut.py calls it through ``CUTModel.D_input``); each call draws fresh random parameters per sample.
All ops are differentiable, so G's gradient flows through them. Policy ops (comma-separated):
  color        brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5), per image
  translation  an integer shift of up to 1/8 of the size in each direction, zero (grey) padding
  cutout       a zeroed square of half the size, centred anywhere in the image
Images are NCHW in [-1, 1]; translation and cutout keep that range, colour may leave it (as in DiffAugment:
no clamp, so no gradient is cut off). Off by default: ``model.diffaug: ""``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from translate.config import parse_diffaug

TRANSLATION_RATIO = 0.125  # largest shift, as a fraction of the side
CUTOUT_RATIO = 0.5  # side of the cut-out square, as a fraction of the side


def _rand(x: Tensor, *shape: int) -> Tensor:
    """Per-sample uniform [0, 1) numbers of x's dtype on x's device (from the global torch RNG)."""
    return torch.rand(x.shape[0], *shape, dtype=x.dtype, device=x.device)


def color(x: Tensor) -> Tensor:
    x = x + (_rand(x, 1, 1, 1) - 0.5)  # brightness
    mean_c = x.mean(dim=1, keepdim=True)  # (B, 1, H, W): the grey level of each pixel
    x = (x - mean_c) * (_rand(x, 1, 1, 1) * 2) + mean_c  # saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # (B, 1, 1, 1)
    return (x - mean) * (_rand(x, 1, 1, 1) + 0.5) + mean  # contrast


def translation(x: Tensor, ratio: float = TRANSLATION_RATIO) -> Tensor:
    from kornia.geometry.transform import translate

    b, _, h, w = x.shape
    max_shift = torch.tensor([int(w * ratio + 0.5), int(h * ratio + 0.5)], device=x.device)  # (dx, dy)
    shift = torch.floor(torch.rand(b, 2, device=x.device) * (2 * max_shift + 1)) - max_shift  # (B, 2) integers
    # Nearest sampling at integer shifts copies pixels exactly; outside the image is 0 (grey in [-1, 1]).
    return translate(x, shift.to(x.dtype), mode="nearest", padding_mode="zeros", align_corners=True)


def cutout(x: Tensor, ratio: float = CUTOUT_RATIO) -> Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)  # centre row, anywhere in the image
    cx = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2
    inside = (ys >= top) & (ys < top + ch) & (xs >= left) & (xs < left + cw)  # (B, H, W)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_FUNCS = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment:
    """Callable (B, 3, H, W) -> (B, 3, H, W) applying ``policy``'s ops in order.

    A plain object, not an nn.Module: it has no parameters or state, so checkpoints are unchanged.
    """

    def __init__(self, policy: str):
        self.ops = parse_diffaug(policy)  # e.g. ("color", "translation", "cutout")

    def __call__(self, x: Tensor) -> Tensor:
        for op in self.ops:
            x = _FUNCS[op](x)
        return x

    def __repr__(self) -> str:
        return f"DiffAugment({','.join(self.ops)!r})"


def build_d_augment(policy: str) -> DiffAugment | None:
    """The DiffAugment for ``model.diffaug``, or None when the policy is empty (the default)."""
    return DiffAugment(policy) if parse_diffaug(policy) else None

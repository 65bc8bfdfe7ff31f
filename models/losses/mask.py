"""Edge-aware smoothness of a masked G's mask: the mask may change only where the input image has an edge.

A masked G (model.g_mask) outputs m·content + (1 - m)·x. Left to itself its mask is a smooth blob a pixel or two
wider than the object, so a halo of repainted background rings every translation. This term is the first-order
edge-aware smoothness of monocular depth estimation (Godard, Mac Aodha, Brostow, CVPR 2017), put on the mask:

  mean over neighbouring pixel pairs of |m_i - m_j| · exp(-EDGE_SHARPNESS · |x_i - x_j|)

(|x_i - x_j| the mean over colour channels, x in [-1, 1]). A step of the mask inside a flat region costs nearly
its full size; across an edge of the input it costs almost nothing, so the mask's border should move onto the
object's. On the demo task it did not (docs/experiments/quality.md, "A fifth round"): at every weight tried the
mask evened out over the sky and grass instead, and shape and background got worse.
"""
from __future__ import annotations

import torch
from torch import Tensor

# Weight falls to 1/e at a colour step of 0.1 in [-1, 1] (5 % of the range): the demo scenes' pixel noise
# (σ 0.03 in [-1, 1]) keeps most of it; an object's border (a step of 0.3 or more) keeps under 5 %.
EDGE_SHARPNESS = 10.0


def edge_aware_smoothness(mask: Tensor, image: Tensor, sharpness: float = EDGE_SHARPNESS) -> Tensor:
    """Scalar: (B, 1, H, W) mask in [0, 1] against the (B, C, H, W) image it blends, both at one resolution."""
    if mask.shape[-2:] != image.shape[-2:]:
        raise ValueError(f"mask {tuple(mask.shape)} and image {tuple(image.shape)} differ in size")
    image = image.detach()  # the weights are the input's edges, not something G could move
    terms = []
    for dim in (-1, -2):  # horizontal, then vertical neighbours
        dm = torch.diff(mask, dim=dim).abs()
        dx = torch.diff(image, dim=dim).abs().mean(1, keepdim=True)
        terms.append((dm * torch.exp(-sharpness * dx)).mean())
    return torch.stack(terms).mean()

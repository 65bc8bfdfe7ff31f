"""Shape kept: IoU of the translated object's silhouette with the input's object mask.

On the synthetic demo set (datasets/synthetic.py) every test scene can be rendered without its animals, the
exact background a translator should leave alone. A pixel of a translation belongs to the translated
object's *silhouette* when it differs from that bare background by more than ``threshold`` in some colour
channel. Its IoU with testA_mask (the input animal's mask) drops when legs, tails or outlines are lost (object
pixels that went back to the background) and when the texture bleeds into the sky or grass or the background
turns blotchy (background pixels that no longer match it). The untranslated inputs and the ground truth
score close to 1, which ``shape_iou_gt`` reports for scale.
"""
from __future__ import annotations

import torch

SILHOUETTE_THRESHOLD = 0.15  # [0, 1] intensity: above the scenes' pixel noise (σ 0.015), below coat/ground contrast


def silhouette(images: torch.Tensor, background: torch.Tensor, threshold: float = SILHOUETTE_THRESHOLD) -> torch.Tensor:
    """(N, 3, H, W) images and backgrounds in [-1, 1] -> (N, 1, H, W) bool: where the image is not background."""
    diff = (images.float() - background.float()).abs().amax(1, keepdim=True) / 2.0  # (N, 1, H, W) in [0, 1]
    return diff > threshold


def shape_iou(images: torch.Tensor, background: torch.Tensor, mask: torch.Tensor,
              threshold: float = SILHOUETTE_THRESHOLD) -> torch.Tensor:
    """(N,) IoU of each image's silhouette with its object mask ((N, 1, H, W): > 0 object, as the mask files)."""
    sil, obj = silhouette(images, background, threshold), mask > 0
    inter = (sil & obj).flatten(1).sum(1).float()
    union = (sil | obj).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp_min(1.0), torch.ones_like(union))

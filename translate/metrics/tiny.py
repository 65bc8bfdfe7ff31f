"""The ``tiny`` feature extractor: a fixed, randomly initialised CNN, for FID/KID where Inception is unavailable.

Random convolutional features with mean/std pooling summarise colour and texture statistics at several
scales, which is what separates the domains of most translation tasks; no training and no download is
needed, and the weights come from numpy's PCG64 generator, so they are identical on every machine and torch
version. Its figures are NOT Inception FID: they are labelled ``tiny`` everywhere and only compare with
each other (same dataset, same image size).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as Fn

VERSION = 1  # bump when the architecture or the weights change (invalidates cached reference features)


class TinyFeatures:
    """(N, 3, H, W) in [-1, 1] -> (N, 6 + 2 * sum(widths)) features: per-layer channel means and stds."""

    name = "tiny"

    def __init__(self, device: str | torch.device = "cpu", size: int = 64, widths: tuple[int, ...] = (16, 32, 64, 64),
                 seed: int = 0):
        self.device = torch.device(device)  # where the convolutions run
        self.size = size  # images are resized to size x size first, so any resolution maps to one scale
        self.widths = widths  # channels of the 3x3 conv layers (a 2x average pool follows each but the last)
        rng = np.random.default_rng(seed)
        self.weights: list[torch.Tensor] = []
        c_in = 3
        for c_out in widths:
            std = np.sqrt(2.0 / (9 * c_in))  # He init: activations keep their scale through the ReLUs
            w = rng.normal(0.0, std, (c_out, c_in, 3, 3)).astype(np.float32)
            self.weights.append(torch.from_numpy(w).to(self.device))
            c_in = c_out
        self.cache_id = f"tiny-v{VERSION}-s{size}-w{'_'.join(map(str, widths))}-seed{seed}"

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, torch.float32)
        if x.shape[-2:] != (self.size, self.size):
            x = Fn.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        feats = [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]  # (N, 3) each: global colour statistics
        for i, w in enumerate(self.weights):
            x = Fn.relu(Fn.conv2d(x, w, padding=1))  # (N, C, h, w)
            feats += [x.mean(dim=(2, 3)), x.std(dim=(2, 3))]
            if i < len(self.weights) - 1:
                x = Fn.avg_pool2d(x, 2)
        return torch.cat(feats, dim=1).cpu()  # (N, D)

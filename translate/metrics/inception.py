"""The ``inception`` feature extractor: clean-fid's Inception-v3 in its "clean" mode, on an explicit device.

Clean mode (Parmar et al., "On Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022)
quantises images to 8 bits as a saved PNG would, resizes them to 299x299 with PIL's bicubic filter in
float, and feeds the 2015 TF-Inception graph ported to TorchScript. clean-fid itself would download the
weights into /tmp and pick CUDA by default; we find the file first (failing fast with instructions) and
pass the device explicitly.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import torch

from translate.metrics.weights import ensure_weight_file
from translate.paths import weights_root

log = logging.getLogger(__name__)
FILENAME = "inception-2015-12-05.pt"
URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
CLEANFID_DEFAULT_DIR = Path("/tmp")  # where clean-fid itself saves the file on Linux and macOS


def weights_dir() -> Path:
    """$TRANSLATE_WEIGHTS, else ~/.cache/translate/weights."""
    return weights_root()


def inception_weights() -> Path:
    """The TorchScript Inception file: ours, or one clean-fid already downloaded, or a fresh download.

    clean-fid's own copy in /tmp is only used when $TRANSLATE_WEIGHTS is unset (setting it means "look here").
    """
    ours = weights_dir() / FILENAME
    if not os.environ.get("TRANSLATE_WEIGHTS") and not ours.is_file() and (CLEANFID_DEFAULT_DIR / FILENAME).is_file():
        return CLEANFID_DEFAULT_DIR / FILENAME
    return ensure_weight_file(weights_dir(), FILENAME, URL, "Inception-v3 for FID/KID",
                              "choose the offline extractor with --features tiny (training: --set eval.features=tiny)")


class InceptionFeatures:
    """(N, 3, H, W) in [-1, 1] -> (N, 2048) Inception pool features, computed as clean-fid's clean mode."""

    name = "inception"
    cache_id = "inception-cleanfid-clean-v1"

    def __init__(self, device: str | torch.device = "cpu"):
        from cleanfid.inception_torchscript import InceptionV3W
        from cleanfid.resize import build_resizer

        path = inception_weights()
        self.device = torch.device(device)  # clean-fid would default to CUDA; we never let it choose
        self.model = InceptionV3W(str(path.parent), download=False, resize_inside=False).to(self.device).eval()
        self.resize = build_resizer("clean")  # PIL bicubic to 299x299 on float32 HWC arrays in [0, 255]

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        # Quantise like an 8-bit PNG so generated and real (file) images go through the same path.
        x = ((images.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round()  # (N, 3, H, W) in 0..255
        resized = [self.resize(img.permute(1, 2, 0).numpy()) for img in x]  # (299, 299, 3) float32 each
        batch = torch.from_numpy(np.stack(resized).transpose(0, 3, 1, 2).copy()).to(self.device)  # (N, 3, 299, 299)
        return self.model(batch).float().cpu()  # (N, 2048)

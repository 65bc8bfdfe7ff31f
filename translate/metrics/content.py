"""Content preservation between input and output: LPIPS, and errors against paired ground truth.

LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018)
comes from the lpips package; its linear heads ship with it, but the AlexNet/VGG backbone is a torchvision
download, so that file is checked first and a missing one fails fast with instructions. The synthetic demo
set has paired ground truth (testA_gt/: the same scene re-textured) and object masks (testA_mask/), which
give plain pixel errors, overall and on the background the translator should leave alone.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from translate.metrics.weights import ensure_weight_file

# torchvision backbone files that lpips loads (through torchvision's pretrained=True) for each net.
_BACKBONES = {
    "alex": ("alexnet-owt-7be5be79.pth", "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"),
    "vgg": ("vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth"),
}


def lpips_backbone_file(net: str) -> Path:
    folder = Path(torch.hub.get_dir()) / "checkpoints"  # where torchvision looks ($TORCH_HOME/hub/checkpoints)
    filename, url = _BACKBONES[net]
    return ensure_weight_file(folder, filename, url, f"the {net} backbone of LPIPS",
                              "leave lpips out of --metrics (e.g. --metrics fid,kid,gt)")


class LPIPSDistance:
    """Mean LPIPS distance between two image batches in [-1, 1] (lower = closer)."""

    def __init__(self, net: str = "alex", device: str | torch.device = "cpu"):
        if net not in _BACKBONES:
            raise ValueError(f"LPIPS net must be one of {', '.join(_BACKBONES)}, got {net!r}")
        lpips_backbone_file(net)
        import lpips

        self.device = torch.device(device)  # where the backbone runs
        self.model = lpips.LPIPS(net=net, verbose=False).to(self.device).eval()

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(N,) distances; lpips expects inputs in [-1, 1], as ours are."""
        return self.model(x.to(self.device), y.to(self.device)).flatten().cpu()


def gt_errors(fake: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor | None = None) -> dict[str, float]:
    """Pixel errors of translations against paired ground truth, in [0, 1] intensity units.

    ``gt_l1`` and ``gt_psnr`` cover the whole image. The texture a translator picks may differ from the
    ground truth's mode, so ``gt_bg_l1`` (pixels outside the object mask, where input and ground truth
    agree) is the cleaner measure of how well the background is preserved.
    """
    diff = (fake.float() - gt.float()).abs() / 2.0  # (N, 3, H, W) in [0, 1]
    mse = (diff**2).mean(dim=(1, 2, 3)).clamp_min(1e-10)  # (N,)
    out = {"gt_l1": float(diff.mean()), "gt_psnr": float((10.0 * torch.log10(1.0 / mse)).mean())}
    if mask is not None:
        background = (mask < 0).float().expand_as(diff)  # masks are 0/255 files: -1 background, +1 object
        out["gt_bg_l1"] = float((diff * background).sum() / background.sum().clamp_min(1.0))
    if not math.isfinite(out["gt_psnr"]):
        out["gt_psnr"] = 100.0
    return out

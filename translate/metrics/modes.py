"""Mode coverage on the synthetic ``demo`` dataset (datasets/synthetic.py), whose domain B has ``n_modes``
known texture styles: which style did the translator paint each test animal in?

Each output's object region (testA_mask/) is described by a coarse colour histogram plus its mean horizontal
and vertical gradient magnitude, and assigned to the nearest prototype (L1). One prototype per mode is the
mean descriptor of the ground-truth re-texturings in testA_gt/ (labels.json). The untranslated testA animals
give one ``source`` prototype per variant (their coats differ): an output that kept domain A's coat is not
counted as any mode. Since the input's variant decides the right mode (datasets/synthetic.py), the share of
outputs in exactly that mode is the **mode accuracy**.
Mode coverage for GANs in this spirit: Srivastava et al., "VEEGAN" (NeurIPS 2017), counting modes hit.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as Fn

from translate.datasets.imageio import load_image, pil_to_tensor
from translate.errors import DataError

BINS = 4  # histogram bins per RGB channel (4³ = 64 cells): the styles differ in colour pairs
GRAD_WEIGHT = 0.5  # weight of the two gradient features against the histogram (which sums to 1)
SOURCE = "source"


def _load_folder(folder: Path, names: list[str]) -> torch.Tensor:
    try:
        return torch.stack([pil_to_tensor(load_image(folder / n)) for n in names])
    except (OSError, DataError) as e:
        raise DataError(f"{folder}: cannot read the synthetic test images for mode coverage ({e}); "
                        "regenerate the demo dataset") from None


def describe(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [-1, 1] and (N, 1, H, W) in {0, 1} -> (N, BINS³ + 2) object descriptors."""
    x = (images.float().clamp(-1, 1) + 1) / 2  # (N, 3, H, W) in [0, 1]
    q = (x * BINS).long().clamp_(max=BINS - 1)
    cell = (q[:, 0] * BINS + q[:, 1]) * BINS + q[:, 2]  # (N, H, W)
    m = masks[:, 0].float()
    area = m.flatten(1).sum(1).clamp_min(1.0)  # (N,)
    hist = torch.zeros(x.shape[0], BINS**3).scatter_add_(1, cell.flatten(1), m.flatten(1)) / area[:, None]
    lum = x.mean(1)  # (N, H, W)
    both_x, both_y = m[:, :, 1:] * m[:, :, :-1], m[:, 1:] * m[:, :-1]  # pairs inside the object
    gx = ((lum[:, :, 1:] - lum[:, :, :-1]).abs() * both_x).flatten(1).sum(1) / both_x.flatten(1).sum(1).clamp_min(1)
    gy = ((lum[:, 1:] - lum[:, :-1]).abs() * both_y).flatten(1).sum(1) / both_y.flatten(1).sum(1).clamp_min(1)
    return torch.cat([hist, GRAD_WEIGHT * torch.stack([gx, gy], 1)], 1)


class ModeClassifier:
    """Nearest-prototype classifier of the synthetic set's texture modes (plus ``source``)."""

    def __init__(self, root: str | Path, split: str = "test"):
        root = Path(root)
        labels_path = root / "labels.json"
        if split != "test" or not labels_path.is_file():
            raise DataError(f"{root}: mode coverage needs the synthetic dataset's labels.json and its test split "
                            "(testA_gt/, testA_mask/); it is only defined for the demo dataset")
        meta = json.loads(labels_path.read_text())
        self.modes: list[str] = list(meta["modes"])
        self.names = sorted(meta["testA_gt"])  # the testA files, in the order outputs are expected
        self.masks = (_load_folder(root / "testA_mask", self.names)[:, :1] > 0).float()  # (N, 1, H, W)
        gt = describe(_load_folder(root / "testA_gt", self.names), self.masks)
        src = describe(_load_folder(root / "testA", self.names), self.masks)
        self.gt_modes = torch.tensor([meta["testA_gt"][n] for n in self.names])  # the mode each input calls for
        protos = [gt[self.gt_modes == k].mean(0) for k in range(len(self.modes)) if (self.gt_modes == k).any()]
        if len(protos) < len(self.modes):
            raise DataError(f"{root}: the test split has no animal of some variant; generate more test images "
                            "(data.synthetic.n_test)")
        sources = [src[self.gt_modes == k].mean(0) for k in range(len(self.modes))]
        self.prototypes = torch.stack(protos + sources)  # (2 * n_modes, D): modes, then each variant's coat
        self.labels = self.modes + [SOURCE] * len(sources)

    def classify(self, images: torch.Tensor, masks: torch.Tensor | None = None) -> list[str]:
        """Mode name (or ``source``) of each image; masks default to testA_mask, resized as needed."""
        masks = self.masks[: images.shape[0]] if masks is None else masks  # the first N testA files
        if images.shape[0] != masks.shape[0]:
            raise DataError(f"mode coverage: got {images.shape[0]} images for {masks.shape[0]} masks; pass the "
                            "translations of the testA images, in sorted file order")
        if masks.shape[-2:] != images.shape[-2:]:
            masks = (Fn.interpolate(masks, size=images.shape[-2:], mode="nearest") > 0.5).float()
        dist = torch.cdist(describe(images, masks), self.prototypes, p=1)  # (N, 2 * n_modes)
        return [self.labels[i] for i in dist.argmin(1).tolist()]


def mode_coverage(images: torch.Tensor, root: str | Path, split: str = "test", min_share: float = 0.05) -> dict:
    """Shares of each domain-B mode among translations of testA (N, 3, H, W in [-1, 1], sorted file order).

    Returns ``mode_shares`` (mode -> share of all outputs), ``source_share`` (outputs still looking like
    domain A), ``modes_covered`` (modes with share >= min_share), ``n_modes``, ``mode_coverage``
    (modes_covered / n_modes), ``mode_entropy`` (entropy of the shares among mode-classified outputs,
    divided by log n_modes: 1 = perfectly balanced) and ``mode_accuracy`` (the share of outputs in the mode
    their input's variant calls for), with ``mode_accuracy_by_mode`` (mode -> accuracy among the inputs that
    call for it) and ``mode_accuracy_min`` (the worst of those).
    """
    clf = ModeClassifier(root, split)
    predicted = clf.classify(images)
    n = len(predicted)
    wanted = [clf.modes[k] for k in clf.gt_modes[:n].tolist()]
    accuracy = sum(p == w for p, w in zip(predicted, wanted)) / n
    # Per mode, among the inputs that call for it: a missed mode cannot hide in the mean.
    by_mode = {m: sum(p == w for p, w in zip(predicted, wanted) if w == m) / wanted.count(m)
               for m in clf.modes if m in wanted}
    shares = {m: sum(p == m for p in predicted) / n for m in clf.modes}
    in_modes = sum(shares.values())
    entropy = 0.0
    if in_modes > 0 and len(clf.modes) > 1:
        probs = [s / in_modes for s in shares.values() if s > 0]
        entropy = -sum(p * math.log(p) for p in probs) / math.log(len(clf.modes))
    covered = sum(s >= min_share for s in shares.values())
    return {"mode_shares": shares, "source_share": 1.0 - in_modes, "modes_covered": covered,
            "n_modes": len(clf.modes), "mode_coverage": covered / len(clf.modes), "mode_entropy": entropy,
            "mode_accuracy": accuracy, "mode_accuracy_by_mode": by_mode,
            "mode_accuracy_min": min(by_mode.values()) if by_mode else 0.0}

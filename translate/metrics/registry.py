"""The metric registry, importable without torch: each metric once, with how it is computed and shown.

A *metric* is what ``--metrics`` and ``eval.metrics`` name (fid, kid, lpips, gt, modes); it is computed by
one Evaluator method (translate/metrics/evaluate.py, ``compute``) and writes one or more *figures*
(gt writes gt_l1, gt_bg_l1 and gt_psnr). Each figure has a label, a display scale and format, and a
direction (lower or higher is better), read by the tables, the run report and best-checkpoint tracking.
Adding a metric: an entry in METRICS, its figures in FIGURES, and the Evaluator method it names.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """One reported number."""

    label: str  # what tables call it
    lower_is_better: bool  # direction, for best checkpoints and "best" rows
    scale: float = 1.0  # shown as value * scale (KID x 10^3, as in most papers)
    fmt: str = "{:.4f}"


@dataclass(frozen=True)
class Metric:
    """One thing an evaluation can be asked to compute."""

    name: str  # as given to --metrics / eval.metrics
    compute: str  # the Evaluator method that adds its figures to the result
    figures: tuple[str, ...]  # the keys it writes (keys of FIGURES)
    default: bool = True  # part of the default set (lpips needs a pretrained backbone: asked for explicitly)


FIGURES: dict[str, Figure] = {
    "fid": Figure("FID", True, fmt="{:.2f}"),
    "kid": Figure("KID x 10^3", True, scale=1e3, fmt="{:.2f}"),
    "lpips": Figure("LPIPS(input, output)", True),
    "gt_l1": Figure("L1 to ground truth", True),
    "gt_bg_l1": Figure("L1 to ground truth, background", True),
    "gt_psnr": Figure("PSNR to ground truth (dB)", False, fmt="{:.2f}"),
    "shape_iou": Figure("shape kept (IoU of the output's silhouette with the input's mask)", False, fmt="{:.3f}"),
    "shape_iou_gt": Figure("shape kept by the ground truth itself (top of the scale)", False, fmt="{:.3f}"),
    "mode_coverage": Figure("mode coverage (share of B's modes produced)", False, fmt="{:.3f}"),
    "mode_entropy": Figure("mode balance (normalised entropy)", False, fmt="{:.3f}"),
    "mode_accuracy": Figure("mode accuracy (outputs in the mode their input calls for)", False, fmt="{:.3f}"),
    "mode_accuracy_min": Figure("mode accuracy of the worst mode", False, fmt="{:.3f}"),
    "source_share": Figure("outputs still in domain A's style", True, fmt="{:.3f}"),
}

METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("fid", "score_fid", ("fid",)),
    Metric("kid", "score_kid", ("kid",)),
    Metric("lpips", "score_lpips", ("lpips",), default=False),
    Metric("gt", "score_gt", ("gt_l1", "gt_bg_l1", "gt_psnr", "shape_iou", "shape_iou_gt")),  # skipped where the dataset has no ground truth
    Metric("modes", "score_modes", ("mode_coverage", "mode_entropy", "mode_accuracy", "mode_accuracy_min",
                                         "source_share")),  # labels
)}

ALL_METRICS = tuple(METRICS)
DEFAULT_METRICS = tuple(name for name, m in METRICS.items() if m.default)


def lower_is_better(figure: str) -> bool:
    f = FIGURES.get(figure)
    return True if f is None else f.lower_is_better

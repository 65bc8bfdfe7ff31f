"""The metric registry, importable without torch: each metric once, as its function and its figures.

A *metric* is what ``--metrics`` and ``eval.metrics`` name (fid, kid, lpips, gt, modes). It is one function
``compute(ev, fake) -> dict`` that scores translations ``fake`` (N, 3, S, S) against what the Evaluator
(translate/metrics/evaluate.py) loaded once, and returns its *figures* (gt returns gt_l1, gt_bg_l1 and
gt_psnr) and any companions (kid_std, the modes breakdown). Each figure has a label, a display scale and format,
and a direction (lower or higher is better), read by the tables, the run report and best-checkpoint tracking.
The functions import torch and the metric code when called, so the CLI can list the names without torch.
Adding a metric: a function here and its entry in METRICS, with its figures in FIGURES.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


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
    compute: Callable  # (evaluator, fake) -> {figure: value, ...}; may leave its figures out (no ground truth)
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

# -- the metrics: each returns its figures for translations ``fake`` scored by evaluator ``ev`` ----------------

def fid(ev, fake) -> dict:
    from translate.metrics.fid import fid_from_features

    return {"fid": fid_from_features(ev.fake_features, ev.real_b)}


def kid(ev, fake) -> dict:
    from translate.metrics.fid import kid_from_features

    value, std = kid_from_features(ev.fake_features, ev.real_b)
    return {"kid": value, "kid_std": std}


def lpips(ev, fake) -> dict:
    if ev.lpips is None:  # skipped (weights missing, lenient)
        return {}
    return {"lpips": float(ev.lpips(ev.real_a, fake).mean())}


def gt(ev, fake) -> dict:
    if ev.gt is None:  # the split has no paired ground truth
        return {}
    from translate.metrics.content import gt_errors

    out = gt_errors(fake, ev.gt, ev.mask)
    if ev.background is not None:  # the synthetic scenes: is the animal's silhouette kept?
        from translate.metrics.shape import shape_iou

        out.update(shape_iou=float(shape_iou(fake, ev.background, ev.mask).mean()), shape_iou_gt=ev.shape_iou_gt)
    return out


def modes(ev, fake) -> dict:
    if ev.mode_coverage is None:  # the dataset has no mode labels
        return {}
    from translate.errors import TranslateError

    try:
        found = ev.mode_coverage(fake, ev.root, split=ev.split)
    except TranslateError as e:  # e.g. a split without the labelled ground truth
        log.warning("mode figures skipped: %s", e)
        ev.skipped["modes"] = str(e)
        return {}
    out = {"modes": json.loads(json.dumps(found, default=float))}  # JSON-safe copy of the whole breakdown
    out.update({k: float(found[k]) for k in METRICS["modes"].figures if isinstance(found.get(k), (int, float))})
    return out


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("fid", fid, ("fid",)),
    Metric("kid", kid, ("kid",)),
    Metric("lpips", lpips, ("lpips",), default=False),
    Metric("gt", gt, ("gt_l1", "gt_bg_l1", "gt_psnr", "shape_iou", "shape_iou_gt")),  # where there is ground truth
    Metric("modes", modes, ("mode_coverage", "mode_entropy", "mode_accuracy", "mode_accuracy_min",
                            "source_share")),  # where the dataset has mode labels
)}

ALL_METRICS = tuple(METRICS)
DEFAULT_METRICS = tuple(name for name, m in METRICS.items() if m.default)


def lower_is_better(figure: str) -> bool:
    f = FIGURES.get(figure)
    return True if f is None else f.lower_is_better

"""The bundled demo checkpoint's figures on the demo test split, and the floors it is held to.

Five figures, all offline: KID on the ``tiny`` features (distribution match with test B), ``mode_accuracy``
(translate/metrics/modes.py: outputs in the texture their input's variant calls for), ``gt_l1`` and
``gt_bg_l1`` (L1 to the paired ground truth, whole image and background) and ``shape_iou``
(translate/metrics/shape.py: the output's silhouette against the input's mask), the two the README quotes
for what is still wrong with the model. benchmarks/make_demo_checkpoint.py scores the checkpoint when it makes it and
writes the figures with floors set just below them (``floors_for``) into translate/assets/demo.json;
tests/test_bundled_demo.py scores the shipped file again and checks it still meets them. The margins
absorb float differences between machines and torch versions, not a worse model: one image of 64 moves
mode accuracy by 0.016.
"""
from __future__ import annotations

from pathlib import Path

FEATURES = "tiny"  # offline and deterministic; not Inception FID
SPLIT = "test"
METRICS = ("kid", "gt", "modes")
# figure -> (direction, relative margin, absolute margin): a floor sits that far on the worse side
MARGINS = {"kid": ("max", 0.10, 5e-4), "gt_l1": ("max", 0.05, 2e-3), "mode_accuracy": ("min", 0.0, 0.05),
           "gt_bg_l1": ("max", 0.05, 2e-3), "shape_iou": ("min", 0.0, 0.02)}


def score_checkpoint(path: str | Path, device: str = "cpu") -> dict:
    """The figures of the checkpoint at ``path`` (loaded with weights_only=True) on its demo test split."""
    from translate.datasets.synthetic import ensure_synthetic
    from translate.errors import CheckpointError
    from translate.metrics.evaluate import Evaluator
    from translate.runfolder.translator import load_translator

    translator = load_translator(path, device=device)
    cfg = translator.cfg
    if cfg.dataset != "demo":
        raise CheckpointError(f"{path}: trained on '{cfg.dataset}', not on the synthetic demo task")
    root = ensure_synthetic(cfg.data.synthetic)
    result, _ = Evaluator(root, SPLIT, FEATURES, device, metrics=METRICS).run(translator.G)
    return {"kid": result["kid"], "kid_input": result["kid_input"], "gt_l1": result["gt_l1"],
            "gt_bg_l1": result["gt_bg_l1"], "shape_iou": result["shape_iou"],
            "mode_accuracy": result["mode_accuracy"], "mode_coverage": result["mode_coverage"],
            "n_images": result["n_images"], "features": FEATURES, "split": SPLIT}


def floors_for(scored: dict) -> dict:
    """``{"kid_max": ..., "gt_l1_max": ..., "mode_accuracy_min": ..., ...}``: just below what was scored."""
    floors = {}
    for figure, (side, rel, absolute) in MARGINS.items():
        value = float(scored[figure])
        margin = max(rel * abs(value), absolute)
        floors[f"{figure}_{side}"] = value + margin if side == "max" else max(0.0, value - margin)
    return floors


def below_floors(scored: dict, floors: dict) -> list[str]:
    """One line per figure of ``scored`` that misses its floor (empty: all met)."""
    failures = []
    for figure, (side, _, _) in MARGINS.items():
        if f"{figure}_{side}" not in floors:  # a record made before the figure had a floor
            continue
        bound, value = floors[f"{figure}_{side}"], float(scored[figure])
        if (side == "max" and value > bound) or (side == "min" and value < bound):
            failures.append(f"{figure} = {value:.4g}, {'above' if side == 'max' else 'below'} its floor {bound:.4g}")
    return failures

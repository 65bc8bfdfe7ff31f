"""What an evaluation leaves behind: a JSON file, a short Markdown table, and a grid of input/output pairs.

Every table names the feature extractor next to FID/KID and the checkpoint step the figures belong to, so
an offline ("tiny") figure is never read as Inception FID and a best-step figure never as the last one.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from translate.datasets.imageio import save_image, tile_images
from translate.metrics.registry import FIGURES
from translate.atomic import write_text

# figure -> (label, scale, format, lower is better), a view of the registry (translate/metrics/registry.py).
METRICS = {k: (f.label, f.scale, f.fmt, f.lower_is_better) for k, f in FIGURES.items()}


def metric_label(metric: str, features: str | None) -> str:
    label = METRICS.get(metric, (metric,))[0]
    return f"{label} [{features} features]" if metric in ("fid", "kid") and features else label


def format_value(metric: str, result: dict) -> str:
    _, scale, fmt, _ = METRICS.get(metric, (metric, 1.0, "{:.4g}", True))
    value = result.get(metric)
    if value is None or not math.isfinite(value):
        return "n/a"
    text = fmt.format(value * scale)
    # With N <= the subset size every KID subset is the whole set and the spread is 0: not worth showing.
    if metric == "kid" and result.get("kid_std") is not None and result["kid_std"] * scale > 1e-9:
        text += " ± " + fmt.format(result["kid_std"] * scale)
    return text


def markdown_table(result: dict) -> str:
    """A short table of the figures in ``result``, headed by what was evaluated."""
    lines = []
    if result.get("checkpoint"):
        lines.append(f"Checkpoint `{result['checkpoint']}` (step {result.get('step', '?')}, "
                     f"{result.get('generator', 'G')}), {result['n_images']} {result['split']} images "
                     f"at {result['image_size']} px.")
    if result.get("features"):
        lines.append(f"Features: **{result['features']}**: {result.get('features_note', '')} "
                     f"({result.get('n_reference', '?')} reference images).")
    lines += ["", "| metric | value |", "|---|---|"]
    for metric in METRICS:
        if metric in result:
            lines.append(f"| {metric_label(metric, result.get('features'))} | {format_value(metric, result)} |")
        if metric == "mode_accuracy":  # each mode's own accuracy, so a missed mode shows
            for mode, value in (result.get("modes") or {}).get("mode_accuracy_by_mode", {}).items():
                lines.append(f"| mode accuracy, inputs calling for {mode} | {value:.3f} |")
        if f"{metric}_input" in result:  # the same figure for the untranslated inputs, for scale
            baseline = format_value(metric, {metric: result[f"{metric}_input"]})
            lines.append(f"| {metric_label(metric, result.get('features'))}, inputs untranslated | {baseline} |")
    for metric, why in (result.get("skipped") or {}).items():
        lines.append(f"| {metric} | skipped: {why.split(';')[0]} |")
    return "\n".join(lines) + "\n"


def write_json(result: dict, path: Path) -> Path:
    return write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", path)


def pair_grid(inputs: torch.Tensor, outputs: torch.Tensor, path: Path, n: int = 8, seed: int = 0,
              pairs_per_row: int = 4) -> Path:
    """PNG of ``n`` random (input, output) pairs side by side, ``pairs_per_row`` pairs per row."""
    rng = np.random.default_rng(seed)
    idx = sorted(rng.choice(inputs.shape[0], min(n, inputs.shape[0]), replace=False).tolist())
    tiles = torch.stack([t for i in idx for t in (inputs[i], outputs[i])])  # (2n, 3, H, W): in, out, in, out ...
    grid = tile_images(tiles.float(), nrow=2 * min(pairs_per_row, len(idx)))
    return save_image(grid, path)

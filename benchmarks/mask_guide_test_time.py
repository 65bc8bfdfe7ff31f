"""A masked G's figures with its mask guided-filtered at test time only (model.g_mask_guide), radius by radius.

    python benchmarks/mask_guide_test_time.py runs/edge/sd_late750_s?/ckpt/latest.pt --radius 0 8

Each checkpoint of a masked-G run on the synthetic demo task (``demo`` for the bundled model) translates the
first ``--n`` testA scenes with its mask filtered at each radius (0: as trained; a checkpoint trained with
model.g_mask_guide is filtered at the radius given here instead of its own), and prints shape_iou, gt_bg_l1,
gt_l1, mode_accuracy, the share of inputs left untranslated, and the time G takes to translate them against
the first radius's (the best of 3 passes each, in the same run). It answers whether the filter helps a G that
never saw it; docs/experiments/quality.md ("A sixth round") quotes it beside the runs trained with it.
With ``--grid PNG`` (never overwritten) the first checkpoint's first 6 scenes are drawn, one per row: input,
then output and mask at the first and at the last radius, then the ground truth (4× nearest-neighbour).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager

import torch

import torch.nn.functional as Fn

from translate.datasets.imageio import save_image, tile_images
from translate.datasets.synthetic import ensure_synthetic
from translate.errors import TranslateError
from translate.metrics.evaluate import Evaluator
from translate.runfolder.bundled import resolve_checkpoint
from translate.runfolder.translator import load_translator

FIGURES = ("shape_iou", "gt_bg_l1", "gt_l1", "mode_accuracy", "source_share")


@contextmanager
def guide_radius(G: torch.nn.Module, radius: int) -> Iterator[torch.nn.Module]:
    """G with its mask filtered at ``radius`` px for the ``with`` block; its own radius is restored after."""
    if not getattr(G, "mask", False):
        raise TranslateError("this checkpoint's G has no mask (model.g_mask is false): there is no mask to filter")
    if radius < 0:
        raise TranslateError(f"--radius {radius}: expected 0 (no filter) or more px")
    own = G.mask_guide
    G.mask_guide = radius
    try:
        yield G
    finally:
        G.mask_guide = own


@torch.no_grad()
def grid(ckpt: str, radii: tuple[int, int], path: Path, scenes: int = 6, zoom: int = 4) -> Path:
    """PNG of ``scenes`` test scenes, one per row: input | output, mask at radii[0] | the same at radii[1] |
    ground truth."""
    translator = load_translator(resolve_checkpoint(ckpt))
    ev = Evaluator(ensure_synthetic(translator.cfg.data.synthetic), metrics=("gt",), max_images=scenes)
    x, columns = ev.real_a, [ev.real_a]
    for radius in radii:
        with guide_radius(translator.G.eval(), radius) as G:
            columns += [G(x), (G.translation_mask(x) * 2 - 1).expand(-1, 3, -1, -1)]
    columns.append(ev.gt)
    tiles = torch.stack([col[i] for i in range(len(x)) for col in columns])
    tiles = Fn.interpolate(tiles, scale_factor=zoom, mode="nearest")
    return save_image(tile_images(tiles, nrow=len(columns)), path)


def figures(ckpt: str, radii: list[int], n: int) -> list[dict]:
    """One dict of FIGURES (and ``radius``) per radius, for the checkpoint ``ckpt``."""
    translator = load_translator(resolve_checkpoint(ckpt))
    cfg = translator.cfg
    if cfg.dataset != "demo":
        raise TranslateError(f"'{ckpt}': not a run on the synthetic demo task (its ground truth is needed)")
    ev = Evaluator(ensure_synthetic(cfg.data.synthetic), metrics=("gt", "modes"), max_images=n)
    rows = []
    for radius in radii:
        with guide_radius(translator.G, radius) as G:
            scores, _ = ev.run(G)
            seconds = min(_timed(ev, G) for _ in range(3))
        rows.append({"radius": radius, **{k: scores[k] for k in FIGURES}, "seconds": seconds})
    for row in rows:
        row["time"] = row["seconds"] / rows[0]["seconds"]
    return rows


@torch.no_grad()
def _timed(ev: Evaluator, G: torch.nn.Module) -> float:
    t0 = time.perf_counter()
    ev.translate(G.eval())
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ckpt", nargs="+", help="checkpoints (.pt, or demo) of masked-G runs on the demo task")
    p.add_argument("--radius", type=int, nargs="+", default=[0, 8],
                   help="filter radii in px (default 0 8, santa_demo's)")
    p.add_argument("--n", type=int, default=64, help="testA scenes to score (default 64, the ablation's)")
    p.add_argument("--grid", type=Path, help="also draw the first checkpoint's scenes at the first and last radius")
    args = p.parse_args(argv)
    if args.grid and args.grid.exists():
        print(f"error: {args.grid} exists; give another --grid (nothing is overwritten)", file=sys.stderr)
        return 2
    print("| checkpoint | radius | " + " | ".join(FIGURES) + " | time to translate |")
    print("|---|---|" + "---|" * (len(FIGURES) + 1))
    try:
        for ckpt in args.ckpt:
            for row in figures(ckpt, args.radius, args.n):
                print(f"| {ckpt} | {row['radius']} | " + " | ".join(f"{row[k]:.4f}" for k in FIGURES)
                      + f" | {row['time']:.2f}x |")
        if args.grid:
            print(f"grid: {grid(args.ckpt[0], (args.radius[0], args.radius[-1]), args.grid)}")
    except TranslateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where a masked G (model.g_mask) keeps its mask open: the mean mask over the objects and over the background.

    python benchmarks/mask_stats.py runs/mask/sd_maskm01_s0/ckpt/latest.pt runs/mask/sd_mask_s0/ckpt/latest.pt

For each checkpoint of a synthetic demo run, G translates the first ``--n`` testA scenes of its own dataset
(generated offline when not cached) and the mask m of its output, m·tanh(content) + (1 - m)·x, is averaged over
the object pixels (testA_mask) and the background pixels; ``open_bg`` is the share of background pixels with
m > 0.5. A mask shut everywhere means the output is the input; one open over the background means the background
is repainted. The *halo* figures read the ring of background pixels next to the object (within ``--ring`` px,
default 1): the mean mask there, and the share of those pixels the output's silhouette claims (they differ from
the bare background by more than translate/metrics/shape.py's threshold, so they cost ``shape_iou``); the
untranslated input and the ground truth give that share's floor on the same scenes. ``lost`` is the share of
the objects' pixels the silhouette misses (legs or outlines gone back to the background; the input's share
beside it); ``claimed`` counts, per scene, the background pixels the silhouette takes, and how many of them lie
in the ring. docs/experiments/quality.md ("A fourth round", "A fifth round") quotes these figures.
"""
from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as Fn

from translate.datasets.synthetic import ensure_synthetic
from translate.errors import TranslateError
from translate.metrics.evaluate import Evaluator
from translate.metrics.shape import silhouette
from translate.runfolder.translator import load_translator


@torch.no_grad()
def mask_of(G, x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) mask of a masked G's translation of ``x`` (CUT's G or SANTA's, at d = 1)."""
    if not getattr(G, "mask", False):
        raise TranslateError("this checkpoint's G has no mask (model.g_mask is false): nothing to measure")
    return G.translation_mask(x)


def ring(objects: torch.Tensor, width: int) -> torch.Tensor:
    """(N, 1, H, W) bool: the background pixels within ``width`` px (chessboard distance) of an object pixel."""
    grown = Fn.max_pool2d(objects.float(), 2 * width + 1, stride=1, padding=width) > 0.5
    return grown & ~objects


def halo_share(images: torch.Tensor, background: torch.Tensor, where: torch.Tensor) -> float:
    """Share of the pixels ``where`` that ``images`` claim for the silhouette (differ from the bare background)."""
    return share(silhouette(images, background), where)


def share(claimed: torch.Tensor, where: torch.Tensor) -> float:
    """Share of the pixels ``where`` that are set in the bool map ``claimed``."""
    return float(claimed[where].float().mean())


def stats(ckpt: str, n: int, width: int = 1) -> dict:
    translator = load_translator(ckpt)
    cfg = translator.cfg
    root = ensure_synthetic(cfg.data.synthetic)
    if cfg.dataset != "demo" or not (root / "testA_mask").is_dir():
        raise TranslateError(f"'{ckpt}': not a run on the synthetic demo task (its test masks are needed)")
    ev = Evaluator(root, metrics=("gt",), max_images=n)
    x, objects = ev.real_a, ev.mask > 0
    G = translator.G.eval()
    m = mask_of(G, x)
    with torch.no_grad():
        y = G(x)
    halo = ring(objects, width)
    sil_y, sil_x = silhouette(y, ev.background), silhouette(x, ev.background)  # each computed once
    return {"object": float(m[objects].mean()), "background": float(m[~objects].mean()),
            "open_bg": float((m[~objects] > 0.5).float().mean()), "images": len(x),
            "halo_m": float(m[halo].mean()), "halo": share(sil_y, halo),
            "halo_input": share(sil_x, halo), "halo_gt": halo_share(ev.gt, ev.background, halo),
            "lost": 1 - share(sil_y, objects), "lost_input": 1 - share(sil_x, objects),
            "claimed": float((sil_y & ~objects).sum()) / len(x), "claimed_ring": float((sil_y & halo).sum()) / len(x),
            "object_px": float(objects.sum()) / len(x)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ckpt", nargs="+", help="checkpoints (.pt) of masked-G runs on the demo task")
    p.add_argument("--n", type=int, default=32, help="testA scenes to average over (default 32)")
    p.add_argument("--ring", type=int, default=1, help="halo width in px around the objects (default 1)")
    args = p.parse_args(argv)
    print("| checkpoint | scenes | mean m, objects | mean m, background | background with m > 0.5 | mean m, halo "
          "| halo repainted (input, ground truth) | object lost (input) "
          "| background px claimed per scene (in the ring) | object px per scene |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    try:
        for ckpt in args.ckpt:
            s = stats(ckpt, args.n, args.ring)
            print(f"| {ckpt} | {s['images']} | {s['object']:.3f} | {s['background']:.3f} | {s['open_bg']:.3f} "
                  f"| {s['halo_m']:.3f} | {s['halo']:.3f} ({s['halo_input']:.3f}, {s['halo_gt']:.3f}) "
                  f"| {s['lost']:.3f} ({s['lost_input']:.3f}) | {s['claimed']:.1f} ({s['claimed_ring']:.1f}) "
                  f"| {s['object_px']:.1f} |")
    except TranslateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

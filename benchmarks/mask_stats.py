"""Where a masked G (model.g_mask) keeps its mask open: the mean mask over the objects and over the background.

    python benchmarks/mask_stats.py runs/mask/sd_maskm01_s0/ckpt/latest.pt runs/mask/sd_mask_s0/ckpt/latest.pt

For each checkpoint of a synthetic demo run, G translates the first ``--n`` testA scenes of its own dataset
(generated offline when not cached) and the mask m of its output, m·tanh(content) + (1 - m)·x, is averaged over
the object pixels (testA_mask) and the background pixels; ``open_bg`` is the share of background pixels with
m > 0.5. A mask shut everywhere means the output is the input; one open over the background means the background
is repainted. docs/experiments/quality.md ("A fourth round") quotes these figures.
"""
from __future__ import annotations

import argparse
import sys

import torch

from translate.datasets.imageio import load_image, pil_to_tensor
from translate.datasets.synthetic import ensure_synthetic
from translate.errors import TranslateError
from translate.runfolder.translator import load_translator


@torch.no_grad()
def mask_of(G, x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) mask of a masked G's translation of ``x`` (CUT's G or SANTA's, at d = 1)."""
    if not getattr(G, "mask", False):
        raise TranslateError("this checkpoint's G has no mask (model.g_mask is false): nothing to measure")
    return G.translation_mask(x)


def stats(ckpt: str, n: int) -> dict:
    translator = load_translator(ckpt)
    cfg = translator.cfg
    root = ensure_synthetic(cfg.data.synthetic)
    if cfg.dataset != "demo" or not (root / "testA_mask").is_dir():
        raise TranslateError(f"'{ckpt}': not a run on the synthetic demo task (its test masks are needed)")
    names = sorted(p.name for p in (root / "testA").glob("*.png"))[:n]
    x = torch.stack([pil_to_tensor(load_image(root / "testA" / name)) for name in names])
    objects = torch.stack([pil_to_tensor(load_image(root / "testA_mask" / name))[:1] > 0 for name in names])
    m = mask_of(translator.G.eval(), x)
    return {"object": float(m[objects].mean()), "background": float(m[~objects].mean()),
            "open_bg": float((m[~objects] > 0.5).float().mean()), "images": len(names)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ckpt", nargs="+", help="checkpoints (.pt) of masked-G runs on the demo task")
    p.add_argument("--n", type=int, default=32, help="testA scenes to average over (default 32)")
    args = p.parse_args(argv)
    print("| checkpoint | scenes | mean m, objects | mean m, background | background with m > 0.5 |")
    print("|---|---|---|---|---|")
    try:
        for ckpt in args.ckpt:
            s = stats(ckpt, args.n)
            print(f"| {ckpt} | {s['images']} | {s['object']:.3f} | {s['background']:.3f} | {s['open_bg']:.3f} |")
    except TranslateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

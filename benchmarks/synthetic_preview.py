"""A picture of the demo dataset's scenes with each background kind (data.synthetic.background).

    python benchmarks/synthetic_preview.py --out docs/synthetic_backgrounds.png

One row per kind (smooth, textured), for the first ``--scenes`` training scenes: domain A, its ground truth,
its bare background (what the shape figure compares against) and domain B's scene of the same index.
Rendered in memory (nothing is cached); pixels are enlarged without smoothing. Writes atomically.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from translate.atomic import atomic_open
from translate.config import Background, SyntheticConfig, choices
from translate.datasets.synthetic import _scene, render_a_background, render_a_pair, render_scene


def row(cfg: SyntheticConfig, n: int, pad: int = 2) -> np.ndarray:
    tiles = []
    for i in range(n):
        a, gt, _, _ = render_a_pair(cfg, "train", i)
        scene_b = _scene(cfg, "B", "train", i)
        tiles += [a, gt, render_a_background(cfg, "train", i), render_scene(scene_b, cfg.size, scene_b["variant"])[0]]
    return np.concatenate([np.pad(t, ((pad, pad), (pad, pad), (0, 0)), constant_values=255) for t in tiles], 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--scenes", type=int, default=4, help="scenes per row (each: A, ground truth, bare, B)")
    p.add_argument("--size", type=int, default=64, help="data.synthetic.size")
    p.add_argument("--zoom", type=int, default=3)
    args = p.parse_args()
    base = SyntheticConfig(size=args.size)
    grid = np.concatenate([row(dataclasses.replace(base, background=kind), args.scenes) for kind in choices(Background)])
    img = Image.fromarray(grid)
    img = img.resize((img.width * args.zoom, img.height * args.zoom), Image.NEAREST)
    with atomic_open(args.out) as fh:
        img.save(fh, format="PNG")
    print(f"wrote {args.out}: rows {', '.join(choices(Background))}; per scene A | ground truth | bare | B")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The pictures of the README and docs/: input | output of demo checkpoints on demo test images of every variant.

    python benchmarks/demo_figure.py --ckpt demo --out docs/demo_bundled.png
    python benchmarks/demo_figure.py --ckpt CUT=runs/cut_s0 --ckpt CoopInit+CUT=runs/coop_s0 \
        --ckpt reference=runs/reference_s0/ref/latest_net_G.pth --out docs/compare_s0.png

Columns are testA images taken in turn from each variant (so every mode the model covers is visible);
the top row is the input, then one row per checkpoint (``LABEL=PATH``; a ``.pth`` file is the CUT reference
code's saved G, read by benchmarks/parity_reference.py into our network, with the first checkpoint's
architecture). Each output is labelled with the mode its input calls for and the mode
translate/metrics/modes.py reads in it (``source``: it kept domain A's coat), so the picture states its own
misses. Pixels are enlarged without smoothing. Refuses to replace --out unless --overwrite; writes atomically.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from translate.apply import translate_tensor
from translate.datasets.imageio import load_image, pil_to_tensor
from translate.errors import TranslateError
from translate.metrics.modes import ModeClassifier
from translate.runfolder.bundled import demo_test_images, resolve_checkpoint
from translate.runfolder.translator import load_translator

LABEL_H = 16  # pixels of caption under each row
MARGIN = 96  # pixels left of the rows for the checkpoints' labels, when there are several
SHORT = {"zebra_stripes": "stripes", "red_yellow_checker": "checker", "blue_dots_on_white": "dots"}  # fit a cell


def _to_pil(x: torch.Tensor, scale: int) -> Image.Image:
    """(3, H, W) in [-1, 1] -> an RGB image enlarged ``scale`` times (nearest neighbour)."""
    arr = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    img = Image.fromarray(arr)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def _load(spec: str, cfg) -> tuple[str, torch.nn.Module, object]:
    """(label, G, config) of ``LABEL=PATH`` or ``PATH``; a ``.pth`` file is the reference's G, in ``cfg``'s shape."""
    label, _, path = spec.rpartition("=")
    if path.endswith(".pth"):
        if cfg is None:
            raise TranslateError(f"{spec}: give one of this project's checkpoints first (its architecture is used)")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from parity_reference import load_reference_generator

        m = cfg.model
        return label or "reference", load_reference_generator(Path(path), m.ngf, m.n_blocks, m.antialias_up), cfg
    t = load_translator(resolve_checkpoint(path))
    G, cfg = t.G, t.cfg
    return label or Path(path).name, G, cfg


def figure(specs: list[str], n: int, scale: int) -> Image.Image:
    cfg, rows = None, []
    for spec in specs:
        label, G, loaded = _load(spec, cfg)
        cfg = cfg or loaded
        rows.append((label, G))
    files = demo_test_images(cfg, n)
    if not files:
        raise TranslateError(f"{specs[0]}: no demo test images for this checkpoint")
    root = files[0].parent.parent
    labels = json.loads((root / "labels.json").read_text())
    real_a = torch.stack([pil_to_tensor(load_image(f)) for f in files])  # (N, 3, H, W)
    masks = torch.stack([pil_to_tensor(load_image(root / "testA_mask" / f.name))[:1] for f in files]) > 0
    wanted = [labels["modes"][labels["testA"][f.name]] for f in files]
    side, gap = real_a.shape[-1] * scale, 4
    left = MARGIN if len(rows) > 1 else 0
    canvas = Image.new("RGB", (left + len(files) * (side + gap) - gap, (1 + len(rows)) * (side + LABEL_H)), "white")
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default()
    for i, a in enumerate(real_a):
        canvas.paste(_to_pil(a, scale), (left + i * (side + gap), 0))
        draw.text((left + i * (side + gap) + 2, side + 2), f"in: {SHORT.get(wanted[i], wanted[i])}", fill="black",
                  font=font)
    for r, (label, G) in enumerate(rows, start=1):
        fake_b = torch.cat([translate_tensor(G, real_a[i:i + 1], "cpu") for i in range(len(files))])
        seen = ModeClassifier(root).classify(fake_b, masks.float())
        y = r * (side + LABEL_H)
        if left:
            draw.text((4, y + side // 2), label, fill="black", font=font)
        for i, b in enumerate(fake_b):
            x = left + i * (side + gap)
            canvas.paste(_to_pil(b, scale), (x, y))
            mark = "ok" if seen[i] == wanted[i] else "miss"
            draw.text((x + 2, y + side + 2), f"out: {SHORT.get(seen[i], seen[i])} ({mark})", fill="black", font=font)
    return canvas


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ckpt", action="append", metavar="[LABEL=]PATH", help="checkpoint ('demo' = the bundled "
                   "one), run folder, or the reference's *_net_G.pth; repeat for one row each (default: demo)")
    p.add_argument("--out", default="docs/demo_bundled.png", help="PNG to write")
    p.add_argument("--n", type=int, default=6, help="test images (columns), taken in turn from each variant")
    p.add_argument("--scale", type=int, default=3, help="pixel enlargement")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    args = p.parse_args(argv)
    out = Path(args.out)
    try:
        if out.exists() and not args.overwrite:
            raise TranslateError(f"{out} exists; pass --overwrite to replace it")
        img = figure(args.ckpt or ["demo"], max(1, args.n), max(1, args.scale))
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".png", dir=out.parent)
        os.close(fd)
        img.save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except TranslateError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({img.width}x{img.height})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

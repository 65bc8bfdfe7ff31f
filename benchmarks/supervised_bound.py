"""Can the demo preset's G paint every mode at all? A supervised upper bound for the demo task.

    python benchmarks/supervised_bound.py --seed 0 --json runs/supervised_s0.json

Trains the demo preset's generator (same architecture, steps, batch size, LR and schedule) with L1
regression onto paired ground truth (with --lambda-gan, plus an adversarial term, as pix2pix): each
training A image re-rendered with its animals in the mode their variant calls for
(translate.datasets.synthetic.render_a_pair; the training set on disk has no such pairs, unpaired
translators never see them). It is then scored exactly as benchmarks/coopinit_ablation.py scores CUT and
CoopInit+CUT (tiny features, ground-truth errors, mode figures). If this G reaches every mode, a
mode the unpaired methods miss is the objective's doing, not the network's capacity. Random horizontal
flips (the same for input and target) are the only augmentation. ``read_as`` in the output tells, per mode
called for, what mode was read in the outputs. Refuses to replace --json or --grid unless --overwrite;
writes them atomically.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as Fn

from translate.atomic import write_text
from translate.config import load_config
from translate.datasets.sources import resolve_source
from translate.datasets.synthetic import render_a_pair
from translate.engine.optim import lr_factor
from translate.metrics.evaluate import Evaluator
from translate.metrics.modes import ModeClassifier
from translate.metrics.summary import pair_grid
from translate.models.cut import build_discriminator, build_generator
from translate.models.losses import gan_loss


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="demo", help="preset whose data, G and schedule are used")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override, e.g. train.steps=300")
    p.add_argument("--seed", type=int, default=0, help="seed of G's initialisation and the batch order")
    p.add_argument("--lambda-gan", type=float, default=0.0, help="weight of an LSGAN term under a PatchGAN D, "
                   "against L1's 1 (0 = L1 only; 0.01 is pix2pix's 1:100)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--grid", type=Path, help="also write input | output pairs of 8 test images here (PNG)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json")
    return p.parse_args(argv)


def paired_training_set(synthetic) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, ground truth) of every training image, (N, 3, H, W) in [-1, 1]."""
    a, gt = [], []
    for i in range(synthetic.n_train):
        img, target, _, _ = render_a_pair(synthetic, "train", i)
        a.append(img)
        gt.append(target)
    to_tensor = lambda x: torch.from_numpy(np.stack(x)).permute(0, 3, 1, 2).float() / 127.5 - 1.0  # noqa: E731
    return to_tensor(a), to_tensor(gt)


def train(cfg, a: torch.Tensor, gt: torch.Tensor, seed: int, lambda_gan: float) -> tuple[torch.nn.Module, float]:
    """G trained by L1 on the pairs (plus λ_GAN times an LSGAN loss under the preset's PatchGAN D when
    lambda_gan > 0, as in pix2pix); returns G and the wall time."""
    torch.manual_seed(seed)
    G = build_generator(cfg.model)
    D = build_discriminator(cfg.model) if lambda_gan > 0 else None
    t = cfg.train
    opts = [torch.optim.Adam(net.parameters(), lr=t.lr, betas=(t.beta1, t.beta2)) for net in (G, D) if net]
    draw = torch.Generator().manual_seed(seed)
    batch, t0 = cfg.data.batch_size, time.perf_counter()
    for step in range(t.steps):
        for opt in opts:
            for group in opt.param_groups:
                group["lr"] = t.lr * lr_factor(step, t.steps, t.decay_steps)
        idx = torch.randint(0, a.shape[0], (batch,), generator=draw)
        x, y = a[idx], gt[idx]
        flip = torch.rand(batch, generator=draw) < 0.5
        x[flip], y[flip] = x[flip].flip(3), y[flip].flip(3)
        fake = G(x)
        loss = Fn.l1_loss(fake, y)
        if D is not None:
            d_loss = 0.5 * (gan_loss(D(fake.detach()), False, "lsgan") + gan_loss(D(y), True, "lsgan"))
            opts[1].zero_grad(set_to_none=True)
            d_loss.backward()
            opts[1].step()
            D.requires_grad_(False)
            loss = loss + lambda_gan * gan_loss(D(fake), True, "lsgan", for_discriminator=False)
            D.requires_grad_(True)
        opts[0].zero_grad(set_to_none=True)
        loss.backward()
        opts[0].step()
        if (step + 1) % 50 == 0 or step + 1 == t.steps:
            rate = (step + 1) / (time.perf_counter() - t0)
            print(f"\rstep {step + 1}/{t.steps}  G loss {float(loss.detach()):.4f}  {rate:.1f} steps/s  "
                  f"{(t.steps - step - 1) / rate / 60:.1f} min left", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return G.eval(), time.perf_counter() - t0


def read_as(root: Path, fake: torch.Tensor) -> dict[str, dict[str, int]]:
    """Mode each input calls for -> {mode read in its output (or source): count}, over the test outputs."""
    clf = ModeClassifier(root)
    table: dict[str, dict[str, int]] = {}
    for wanted, got in zip(clf.gt_modes.tolist(), clf.classify(fake)):
        row = table.setdefault(clf.modes[wanted], {})
        row[got] = row.get(got, 0) + 1
    return table


def main(argv=None) -> int:
    args = parse_args(argv)
    for path, flag in ((args.json, "--json"), (args.grid, "--grid")):
        if path and path.exists() and not args.overwrite:
            print(f"error: {path} exists; give another {flag} or --overwrite", file=sys.stderr)
            return 2
    torch.set_num_threads(args.threads)
    cfg = resolve_source(load_config(args.config, ["dataset=demo", *args.overrides]))
    a, gt = paired_training_set(cfg.data.synthetic)
    G, wall = train(cfg, a, gt, args.seed, args.lambda_gan)
    evaluator = Evaluator(Path(cfg.data.root), "test", features="tiny", metrics=("kid", "fid", "gt", "modes"))
    with torch.no_grad():
        figures, fake = evaluator.run(G)
    row = {"method": "supervised" + ("_gan" if args.lambda_gan > 0 else ""), "seed": args.seed, "train_s": round(wall, 1),
           **{k: round(v, 4) for k, v in figures.items() if isinstance(v, float)},
           "read_as": read_as(Path(cfg.data.root), fake)}
    if args.grid:
        pair_grid(evaluator.real_a, fake, args.grid)
    print(json.dumps(row))
    if args.json:
        write_text(json.dumps({"argv": sys.argv[1:], "runs": [row]}, indent=1), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CoopInit (Zhao, Xie, Li; AAAI 2023) on the standard mode-dropping testbed: 2-D mixtures of Gaussians.

    python benchmarks/coopinit_toy2d.py --json runs/toy2d.json                      # ring + grid, 10 seeds
    python benchmarks/coopinit_toy2d.py --datasets ring --seeds 0 --steps 200 --json /tmp/t.json   # seconds
    python benchmarks/coopinit_toy2d.py --cell coop_ref:normalize=0,step_size=0.002,noise=1,sigma=0.016 ...

Data, as in Unrolled GAN (Metz et al., ICLR 2017), VEEGAN (Srivastava et al., NeurIPS 2017) and PacGAN
(Lin et al., NeurIPS 2018): ``ring``, 8 Gaussians on a circle of radius 2, σ = 0.02; ``grid``, 25 Gaussians
at {-4, -2, 0, 2, 4}², σ = 0.05. An MLP G(z) (z ~ N(0, I₂)) and an MLP D(x) are trained at equal total steps:

  gan      LSGAN, the project's default GAN loss (models/losses/gan.py)
  ns       the non-saturating GAN loss
  coop     the cooperative stage for ``--coop_steps`` steps, then the ``gan`` training (optimisers reset)
  coop_ns  the same stage, then ``ns``

The cooperative stage is the project's own code: Langevin revision of G(z) under D's energy
(models/sampling/langevin.py with models/coop.py's patch_energy), the EBM loss ``ebm_ml_loss`` and the teaching
loss ``teach_loss`` (models/losses/energy.py). The toy's analogue of an image's [-1, 1] is the data's box
(±(max |mean| + 3σ)): revisions are clamped to it and, with ``units=range``, δ and σ are given in units of its
half-width, so the translation stage's numbers (δ = 0.01, σ = 0.016, ...) mean the same here. Both stages use
Adam (β1 0.5) and CUT's schedule (lr constant, then linear to 0 over the last ``decay`` share of the steps).
``--cell NAME:KEY=VAL,...`` adds a variant of a method (the method is the longest one NAME starts with); KEYs
are the fields of ``Settings``. The seeds train batched (``SeedMLP``), about 150 seed-steps/s on a busy core.

Metrics (VEEGAN §5.1, PacGAN §5): 2,500 samples of G; a sample is high quality when it lies within 3σ of its
nearest mode; a mode is covered when at least ``--min_count`` high-quality samples fall on it (1 in both
papers' code); kl is KL(q ‖ uniform) of the high-quality samples' mode histogram q (log K when there are none).
They are taken at the switch (after ``--coop_steps`` steps, for every method) and at the end. Each finished
(dataset, method, seed) is written to ``--json`` at once (atomically); a rerun with the same settings skips it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from coopinit_toy2d_report import draw, summary  # noqa: E402
from translate.atomic import write_text  # noqa: E402
from translate.models.coop import patch_energy, patch_mean  # noqa: E402
from translate.models.losses.energy import ebm_ml_loss, teach_loss  # noqa: E402
from translate.models.losses.gan import gan_loss  # noqa: E402
from translate.models.sampling.langevin import langevin_revise  # noqa: E402

METHODS = {"gan": (False, "lsgan"), "ns": (False, "nonsaturating"), "coop": (True, "lsgan"),
           "coop_ns": (True, "nonsaturating")}  # name -> (cooperative stage first?, GAN loss)
N_EVAL = 2500  # samples per evaluation, as VEEGAN and PacGAN


@dataclass
class Settings:
    """One run's settings; the stage's keys mirror CoopConfig (translate/config.py)."""

    steps: int = 2000  # total steps, both stages
    coop_steps: int = 400  # the cooperative stage's steps (coop methods); metrics are also taken here
    batch: int = 128
    lr: float = 1e-3  # Adam lr of G, and of D in the GAN stage
    decay: float = 0.5  # share of the steps at the end over which lr falls linearly to 0, as CUT's schedule
    beta1: float = 0.5
    hidden: int = 64  # MLP width (3 hidden layers each)
    langevin_steps: int = 15  # coop.langevin_steps
    step_size: float = 0.01  # coop.step_size
    noise: float = 0.0  # coop.noise
    sigma: float | None = None  # coop.sigma (None: no reference term)
    normalize: bool = True  # coop.normalize_step
    lambda_teach: float = 10.0  # coop.lambda_teach
    alpha: float = 0.1  # coop.alpha
    ebm_lr_ratio: float = 1.0  # the EBM's Adam lr in the stage, as a multiple of lr (CoopNets: 70)
    clamp: bool = True  # clamp revisions to the data's box, as images are clamped to [-1, 1]; False: unbounded
    units: str = "range"  # range: step_size and sigma in units of the box's half-width, as in [-1, 1] images; data


def mixture(name: str) -> tuple[Tensor, float]:
    """(means (K, 2), σ) of the ``ring`` or ``grid`` mixture."""
    if name == "ring":
        angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return (2.0 * torch.stack([angles.cos(), angles.sin()], 1)).float(), 0.02
    if name == "grid":
        axis = torch.arange(-4.0, 5.0, 2.0)
        return torch.cartesian_prod(axis, axis), 0.05
    raise ValueError(f"unknown dataset {name!r}; expected ring or grid")


def data_box(means: Tensor, sigma: float) -> tuple[float, float]:
    """The square around every mode's 3σ disc: the toy's analogue of the image range [-1, 1]."""
    lim = float(means.abs().max()) + 3 * sigma
    return -lim, lim


def sample_mixture(means: Tensor, sigma: float, n: int, generator: torch.Generator) -> Tensor:
    """n points of the equal-weight mixture."""
    which = torch.randint(len(means), (n,), generator=generator)
    return means[which] + sigma * torch.randn(n, 2, generator=generator)


def mode_metrics(x: Tensor, means: Tensor, sigma: float, min_count: int = 1) -> dict:
    """modes covered, high-quality share and KL(mode histogram ‖ uniform) of samples ``x`` (N, 2)."""
    dist = torch.cdist(x.double(), means.double())
    nearest_d, nearest = dist.min(1)
    hq = nearest_d < 3 * sigma
    counts = torch.bincount(nearest[hq], minlength=len(means))
    k = len(means)
    if int(counts.sum()) == 0:
        kl = math.log(k)
    else:
        q = counts.double() / counts.sum()
        kl = float((q[q > 0] * (q[q > 0] * k).log()).sum())
    return {"modes": int((counts >= min_count).sum()), "hq": float(hq.double().mean()), "kl": kl,
            "counts": counts.tolist()}


class SeedMLP(nn.Module):
    """S independent ReLU MLPs (3 hidden layers) evaluated at once: (S, B, d_in) -> (S, B, d_out).

    Seed s gets exactly the weights nn.Linear would draw after torch.manual_seed(s); Adam is elementwise and
    the losses below are sums of per-seed means, so the S networks train as S separate runs would.
    """

    def __init__(self, seeds: list[int], d_in: int, d_out: int, hidden: int, salt: int):
        super().__init__()
        nets = []
        for seed in seeds:
            torch.manual_seed(seed * 2 + salt)  # G and D of one seed draw from different streams
            nets.append([nn.Linear(a, b) for a, b in [(d_in, hidden), (hidden, hidden), (hidden, hidden),
                                                      (hidden, d_out)]])
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([layers[i].weight.detach().t() for layers in nets])) for i in range(4))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([layers[i].bias.detach()[None] for layers in nets])) for i in range(4))

    def forward(self, x: Tensor) -> Tensor:
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < 3:
                x = x.relu()
        return x


def adam(params, lr: float, s: Settings) -> torch.optim.Adam:
    opt = torch.optim.Adam(params, lr=lr, betas=(s.beta1, 0.999))
    for group in opt.param_groups:
        group["initial_lr"] = lr  # the schedule scales this
    return opt


def coop_step(G, D, opt_g, opt_d, real: Tensor, z: Tensor, s: Settings, bounds: tuple[float, float]) -> float:
    """One cooperative step: revise G(z) under D's energy, D by maximum likelihood, G by MCMC teaching.

    Points travel flattened, (S·B, 2), so the Langevin normalisation and every mean are per point; the losses
    are multiplied by S, making each seed's gradient that of its own run. ``bounds`` is the data's box; with
    units=range, δ and σ are scaled by its half-width (δ·w and σ·w in data units are δ and σ on the box mapped
    to [-1, 1]: the drift, the noise and the reference term all scale alike). Returns the mean Langevin move.
    """
    scale = bounds[1] if s.units == "range" else 1.0
    n_seeds, batch = z.shape[:2]
    fake = G(z)

    def scores(y: Tensor) -> Tensor:  # (S·B, 2) -> (S·B, 1), D as the EBM f
        return D(y.view(n_seeds, -1, 2)).view(-1, 1)

    D.requires_grad_(False)
    step_size, sigma = s.step_size * scale, None if s.sigma is None else s.sigma * scale
    result = langevin_revise(patch_energy(scores), fake.detach().view(-1, 2), s.langevin_steps, step_size,
                             noise=s.noise, sigma=sigma, normalize=s.normalize, bounds=bounds if s.clamp else None)
    D.requires_grad_(True)
    ml, reg = ebm_ml_loss(patch_mean(scores, real.view(-1, 2)), patch_mean(scores, result.revised), s.alpha)
    opt_d.zero_grad(set_to_none=True)
    (n_seeds * (ml + reg)).backward()
    opt_d.step()
    loss_g = n_seeds * teach_loss(fake, result.revised.view(n_seeds, batch, 2), s.lambda_teach)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    return result.diagnostics["pixel_change"]


def gan_step(G, D, opt_g, opt_d, real: Tensor, z: Tensor, mode: str) -> None:
    """One GAN step as CUT takes it: D on (real, G(z)) with halved losses, then G (losses × S, as above)."""
    n_seeds = z.shape[0]
    fake = G(z)
    loss_d = 0.5 * n_seeds * (gan_loss(D(real), True, mode) + gan_loss(D(fake.detach()), False, mode))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    D.requires_grad_(False)
    loss_g = n_seeds * gan_loss(D(fake), True, mode, for_discriminator=False)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    D.requires_grad_(True)


def train(dataset: str, method: str, seeds: list[int], s: Settings, min_count: int = 1,
          snapshots: tuple = ()) -> list[dict]:
    """Train one (dataset, method) on all ``seeds`` at once; per seed, the metrics at the switch and the end.

    Each seed has its own initialisation, data and z streams, so its run does not depend on the other seeds,
    except through the Langevin noise (global RNG, seeded by the first seed) when noise > 0, and through
    rounding: the batched matmul may round differently for another number of seeds, and over thousands of GAN
    steps that can change a seed's outcome (compare distributions over seeds, not one seed across batchings).
    """
    cooperative, mode = METHODS[method]
    means, sigma = mixture(dataset)
    G, D = SeedMLP(seeds, 2, 2, s.hidden, salt=0), SeedMLP(seeds, 2, 1, s.hidden, salt=1)
    torch.manual_seed(seeds[0])
    data_rngs = [torch.Generator().manual_seed(10_000 + seed) for seed in seeds]
    z_rngs = [torch.Generator().manual_seed(30_000 + seed) for seed in seeds]
    z_eval = torch.stack([torch.randn(N_EVAL, 2, generator=torch.Generator().manual_seed(20_000 + seed))
                          for seed in seeds])
    opt_g = adam(G.parameters(), s.lr, s)
    opt_d = adam(D.parameters(), s.lr * (s.ebm_lr_ratio if cooperative else 1.0), s)

    def evaluate() -> list[dict]:
        with torch.no_grad():
            x = G(z_eval)
        return [mode_metrics(x[i], means, sigma, min_count) for i in range(len(seeds))]

    switch, shots, moves = None, {}, []
    start = time.perf_counter()
    for step in range(s.steps + 1):
        if step == s.coop_steps:
            switch = evaluate()
            if cooperative:  # the project's switch: same networks, fresh optimiser states
                opt_g, opt_d = adam(G.parameters(), s.lr, s), adam(D.parameters(), s.lr, s)
        if step in snapshots:
            with torch.no_grad():
                shots[step] = G(z_eval[:1, :1000])[0].tolist()
        if step == s.steps:
            break
        real = torch.stack([sample_mixture(means, sigma, s.batch, g) for g in data_rngs])
        z = torch.stack([torch.randn(s.batch, 2, generator=g) for g in z_rngs])
        factor = min(1.0, (s.steps - step) / max(1.0, s.decay * s.steps))
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = group["initial_lr"] * factor
        if cooperative and step < s.coop_steps:
            moves.append(coop_step(G, D, opt_g, opt_d, real, z, s, data_box(means, sigma)))
        else:
            gan_step(G, D, opt_g, opt_d, real, z, mode)
    seconds = (time.perf_counter() - start) / len(seeds)
    end = evaluate()
    move = statistics.mean(moves) if moves else None
    return [{"dataset": dataset, "method": method, "seed": seed, "switch": switch[i], "end": end[i],
             "seconds": seconds, "langevin_move": move, **({"snapshots": shots} if snapshots and i == 0 else {})}
            for i, seed in enumerate(seeds)]


def parse_cells(cells: list[str]) -> dict[str, tuple[str, dict]]:
    """--cell NAME:KEY=VAL,... -> {NAME: (base method, overrides)}; bad input -> SystemExit naming the option."""
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    parsed = {}
    for cell in cells:
        name, _, body = cell.partition(":")
        base = max((m for m in METHODS if name.startswith(m)), key=len, default=None)
        if base is None:
            raise SystemExit(f"--cell {cell!r}: the name must start with one of {', '.join(METHODS)}")
        overrides = {}
        for item in filter(None, body.split(",")):
            key, _, value = item.partition("=")
            if key not in fields:
                raise SystemExit(f"--cell {cell!r}: unknown key {key!r}; expected one of {', '.join(fields)}")
            if value.lower() in ("none", "null"):
                overrides[key] = None
            elif key == "units":
                if value not in ("range", "data"):
                    raise SystemExit(f"--cell {cell!r}: units must be range or data")
                overrides[key] = value
            elif key in ("normalize", "clamp"):
                overrides[key] = value.lower() in ("1", "true", "yes")
            else:
                overrides[key] = (int if key in ("steps", "coop_steps", "batch", "hidden", "langevin_steps")
                                  else float)(value)
        parsed[name] = (base, overrides)
    return parsed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="ring,grid", help="comma list of ring, grid")
    p.add_argument("--methods", default="gan,ns,coop", help=f"comma list of {', '.join(METHODS)}")
    p.add_argument("--cell", action="append", default=[], help="NAME:KEY=VAL,... a variant (repeatable)")
    p.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9", help="comma list of seeds")
    p.add_argument("--min_count", type=int, default=1, help="HQ samples for a mode to count as covered")
    p.add_argument("--json", type=Path, help="results file, written after every run; finished runs are skipped")
    p.add_argument("--picture", type=Path, help="PNG of samples over training (first dataset and seed only)")
    kinds = {"int": int, "float": float, "str": str, "bool": lambda v: v.lower() in ("1", "true", "yes"),
             "float | None": lambda v: None if v.lower() in ("none", "null") else float(v)}
    for f in dataclasses.fields(Settings):
        p.add_argument(f"--{f.name}", type=kinds[str(f.type)], default=f.default, help=f"(default {f.default})",
                       choices=("range", "data") if f.name == "units" else None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    base = Settings(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Settings)})
    variants = {m: (m, {}) for m in filter(None, args.methods.split(","))} | parse_cells(args.cell)
    for name, (method, _) in variants.items():
        if method not in METHODS:
            raise SystemExit(f"--methods: unknown method {name!r}; expected one of {', '.join(METHODS)}")
    datasets = [d for d in args.datasets.split(",") if d]
    for d in datasets:
        if d not in ("ring", "grid"):
            raise SystemExit(f"--datasets: unknown dataset {d!r}; expected ring or grid")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    header = {"settings": dataclasses.asdict(base), "min_count": args.min_count, "cells": args.cell}
    runs = []
    if args.json and args.json.exists():
        try:
            old = json.loads(args.json.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SystemExit(f"--json {args.json}: not readable as JSON ({e}); remove it or pass another path") from None
        if {k: old.get(k) for k in header} == header:
            runs = old["runs"]
    done = {(r["dataset"], r["method"], r["seed"]) for r in runs}
    todo = [(d, n, [s for s in seeds if (d, n, s) not in done]) for d in datasets for n in variants]
    todo = [(d, n, ss) for d, n, ss in todo if ss]
    start, total_steps, steps_done = time.perf_counter(), sum(len(ss) for *_, ss in todo) * base.steps, 0
    for i, (dataset, name, todo_seeds) in enumerate(todo):
        method, overrides = variants[name]
        results = train(dataset, method, todo_seeds, dataclasses.replace(base, **overrides), args.min_count)
        runs += [{**r, "method": name, "base_method": method, "overrides": overrides} for r in results]
        if args.json:
            write_text(json.dumps({**header, "runs": runs}, indent=1), args.json)
        steps_done += len(todo_seeds) * base.steps
        rate = steps_done / (time.perf_counter() - start)
        modes = [r["end"]["modes"] for r in results]
        print(f"\r[{i + 1}/{len(todo)}] {dataset} {name}: modes {modes} | {rate:.0f} seed-steps/s, "
              f"{(total_steps - steps_done) / rate / 60:.1f} min left   ", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    if args.picture:
        snaps = sorted({0, base.coop_steps // 2, base.coop_steps, (base.coop_steps + base.steps) // 2, base.steps})
        shots = {name: train(datasets[0], variants[name][0], seeds[:1], dataclasses.replace(base, **variants[name][1]),
                             args.min_count, tuple(snaps))[0]["snapshots"] for name in variants}
        means, _ = mixture(datasets[0])
        draw(shots, means.tolist(), args.picture, half=3.0 if datasets[0] == "ring" else 5.5)
    chosen = [r for r in runs if r["dataset"] in datasets and r["method"] in variants and r["seed"] in seeds]
    print(summary(chosen, {d: len(mixture(d)[0]) for d in datasets}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

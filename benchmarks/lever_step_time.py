"""Time per training step of option cells relative to the preset's default, measured interleaved in one process.

    python benchmarks/lever_step_time.py --cell skip:model.g_skip=concat --cell r1:model.lambda_r1=1 --rounds 6

Each cell is ``NAME:KEY=VALUE,KEY=VALUE`` (the ablation script's form) applied on top of ``--config`` (default
demo). Every cell gets its own Trainer on the same random batch; the rounds visit the cells in turn, so a load
change on a shared machine touches all of them alike. The table gives the median seconds per step and the ratio
to the ``default`` cell (the preset unchanged), which is always timed.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import torch
from coopinit_ablation import split_overrides  # the ablation's --cell form (run from benchmarks/)


def build_trainer(config: str, overrides: list[str], device: str, threads: int):
    from translate.config import load_config
    from translate.datasets.sources import resolve_source
    from translate.engine.run import build_run
    from translate.engine.trainer import Trainer

    cfg = load_config(config, ["dataset=demo", f"train.device={device}", "train.steps=1000", f"train.threads={threads}",
                               "data.synthetic.n_train=8", "data.synthetic.n_test=4", "train.precision=fp32",
                               *overrides])
    with tempfile.TemporaryDirectory() as tmp:
        return Trainer(build_run(resolve_source(cfg), tmp))


def parse_cell(spec: str) -> tuple[str, list[str]]:
    name, _, sets = spec.partition(":")
    if not name or not sets:
        sys.exit(f"--cell {spec!r}: expected NAME:KEY=VALUE[,KEY=VALUE...]")
    return name, split_overrides(sets)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="demo")
    p.add_argument("--cell", action="append", default=[], metavar="NAME:KEY=V,KEY=V")
    p.add_argument("--rounds", type=int, default=5, help="timed steps per cell (after one untimed step)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    cells = dict([("default", [])] + [parse_cell(c) for c in args.cell])
    trainers = {name: build_trainer(args.config, sets, args.device, args.threads) for name, sets in cells.items()}
    first = next(iter(trainers.values()))
    size, b = first.cfg.data.crop_size, first.cfg.data.batch_size
    torch.manual_seed(0)
    batch = {"a": torch.rand(b, 3, size, size) * 2 - 1, "b": torch.rand(b, 3, size, size) * 2 - 1}
    times: dict[str, list[float]] = {name: [] for name in trainers}
    for r in range(args.rounds + 1):
        for name, trainer in trainers.items():
            t = time.perf_counter()
            trainer.train_step(batch)
            if trainer.device.type == "cuda":
                torch.cuda.synchronize()
            if r > 0:  # the first round is the warm-up
                times[name].append(time.perf_counter() - t)
    print(f"{args.config}, batch {b} x {size} px, {args.device}, {args.threads} thread(s), {args.rounds} rounds")
    print(ratio_table({name: statistics.median(ts) for name, ts in times.items()}, cells))
    return 0


def ratio_table(medians: dict[str, float], cells: dict[str, list[str]]) -> str:
    """Markdown rows: each cell's median seconds per step and its ratio to the default cell's."""
    rows = [f"| {name} | {','.join(cells[name]) or '-'} | {m:.3f} | {m / medians['default']:.2f}x |"
            for name, m in medians.items()]
    return "\n".join(["| cell | overrides | median s/step | vs default |", "|---|---|---|---|", *rows])


if __name__ == "__main__":
    sys.exit(main())

"""CUT versus CoopInit+CUT (Zhao, Xie, Li; AAAI 2023) at the same total steps, seeds and data.

    python benchmarks/coopinit_ablation.py --seeds 0,1,2 --json coop_ablation.json
    python benchmarks/coopinit_ablation.py --dataset ~/data/horse2zebra --set data.crop_size=128 ...

Each method trains from scratch per seed through the real Trainer, then is scored on the test split:
KID and FID with the offline ``tiny`` features (translate/metrics), content preservation against the
synthetic ground truth (gt_l1: mean |G(a) - gt| on the object, gt_bg_l1 on the background), and mode
coverage of domain B's texture styles (translate/metrics/modes.py). Wall time is split by stage; the
cooperative stage's overhead is its extra time over the CUT steps it replaces, as a share of the run.
The default config is small (32 px, tiny networks) so 3 seeds x 2 methods finish in minutes on a CPU.
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from translate.config import load_config
from translate.datasets.sources import resolve_source
from translate.engine.hooks import Hook, ProgressHook
from translate.engine.trainer import Trainer
from translate.metrics.evaluate import Evaluator

log = logging.getLogger("coopinit_ablation")

# The small task: 32 px synthetic scenes with 3 texture modes in domain B, networks a quarter of demo.yaml's.
BASE = ["data.synthetic.size=32", "data.synthetic.n_train=200", "data.synthetic.n_test=48", "data.load_size=36",
        "data.crop_size=32", "data.batch_size=4", "model.ngf=16", "model.ndf=16", "model.n_blocks=3",
        "model.nce_layers=[input,down1,down2,block1,block3]", "model.num_patches=64", "model.netf_nc=64",
        "train.lr=0.0005", "train.steps=600", "train.decay_steps=200", "train.log_every=10",
        "train.sample_every=0", "train.ckpt_every=0", "train.n_samples=6", "train.device=cpu"]
COOP = ["coop.enabled=true", "coop.fraction=0.05"]  # the rest of coop.* from the config defaults or --coop-set
METRICS = ("kid", "fid", "gt_l1", "gt_bg_l1", "mode_coverage", "mode_entropy", "source_share",
           "train_s", "coop_s", "overhead_pct")


class StageTimer(Hook):
    """Wall time of every step, by the stage that ran it."""

    def __init__(self):
        self.times: dict[str, list[float]] = {}
        self.t = time.perf_counter()

    def after_step(self, trainer, logs):
        now = time.perf_counter()
        self.times.setdefault(trainer.stage.name, []).append(now - self.t)
        self.t = now


def train_and_score(cfg, evaluator: Evaluator, run_dir: Path) -> dict:
    trainer = Trainer(cfg, run_dir)
    timer = StageTimer()
    trainer.hooks = [h for h in trainer.hooks if not isinstance(h, ProgressHook)] + [timer]
    t0 = time.perf_counter()
    timer.t = t0
    trainer.fit()
    total = time.perf_counter() - t0
    scores, _ = evaluator.run(trainer.G_ema if trainer.G_ema is not None else trainer.networks.G)
    modes = scores.get("modes", {})
    result = {k: scores[k] for k in ("kid", "kid_std", "fid", "gt_l1", "gt_psnr", "gt_bg_l1") if k in scores}
    result.update({k: modes[k] for k in ("mode_coverage", "mode_entropy", "source_share", "mode_shares")
                   if k in modes})
    result["train_s"] = total
    result["stage_s"] = {name: sum(ts) for name, ts in timer.times.items()}
    coop = timer.times.get("coop", [])
    other = [t for name, ts in timer.times.items() if name != "coop" for t in ts]
    result["coop_s"] = sum(coop)
    # Extra time of the cooperative steps over as many CUT steps, as a share of the whole run. Medians of
    # the per-step times, so that load spikes from other processes on a shared machine do not dominate.
    extra = len(coop) * (statistics.median(coop) - statistics.median(other)) if coop else 0.0
    result["overhead_pct"] = 100.0 * extra / total
    return result


def summarise(runs: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        rows = [r for r in runs if r["method"] == method]
        table[method] = {"runs": (len(rows), 0.0)}
        for key in METRICS:
            values = [r[key] for r in rows if key in r]
            if values:
                table[method][key] = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
    return table


def markdown(table: dict) -> str:
    keys = [k for k in METRICS if any(k in row for row in table.values())]
    lines = ["| method (mean ± std over runs) | runs | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for method, row in table.items():
        cells = []
        for k in keys:
            mean, std = row.get(k, (float("nan"), 0.0))
            digits = 4 if k in ("kid", "gt_l1", "gt_bg_l1") else 2 if k != "train_s" else 0
            cells.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
        lines.append(f"| {method} | {row['runs'][0]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="demo", help="demo (synthetic, with ground truth and modes) or a folder")
    p.add_argument("--config", default="demo", help="preset the small task starts from")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    p.add_argument("--methods", default="cut,coop", help="cut and/or coop")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override for all runs")
    p.add_argument("--coop-set", action="append", default=[], help="config override for the coop runs only")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: the machine is shared; more oversubscribes)")
    p.add_argument("--json", help="write every run and the summary here")
    p.add_argument("--keep", help="keep the run folders (samples, logs, checkpoints) under this folder")
    p.add_argument("--merge", nargs="+", metavar="JSON", help="only print the table of earlier --json files")
    p.add_argument("--refine", nargs="+", metavar="RUN", help="only score kept runs (RUN/ckpt/latest.pt) without "
                   "and with test-time Langevin refinement under their D")
    p.add_argument("--refine-steps", type=int, default=10, help="Langevin steps for --refine")
    p.add_argument("--refine-step-size", type=float, default=0.01, help="RMS pixel move per step for --refine")
    return p.parse_args(argv)


def refine_rows(args, evaluator: Evaluator) -> list[dict]:
    """Each kept run scored as trained and after test-time refinement (translate apply --refine-steps)."""
    from translate.checkpoint import load_translator
    from translate.models.coop import build_refiner

    runs = []
    for run in args.refine:
        G, cfg, D = load_translator(Path(run) / "ckpt" / "latest.pt", with_discriminator=True)
        scores, fake = evaluator.run(G)
        refine = build_refiner(D, args.refine_steps, args.refine_step_size)
        refined = torch.cat([refine(fake[i:i + 16]) for i in range(0, fake.shape[0], 16)])
        for name, s in (("plain", scores), (f"refined T={args.refine_steps}", evaluator.score(refined))):
            row = {k: s[k] for k in ("kid", "fid", "gt_l1", "gt_bg_l1") if k in s}
            row.update({k: s.get("modes", {})[k] for k in ("mode_coverage", "mode_entropy", "source_share")
                        if k in s.get("modes", {})})
            runs.append({"method": f"{'coop' if cfg.coop.enabled else 'cut'}, {name}", "run": run, **row})
    return runs


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.merge:
        runs = [r for path in args.merge for r in json.loads(Path(path).read_text())["runs"]]
        print(markdown(summarise(runs)))
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    common = [f"dataset={args.dataset}", *BASE, f"train.threads={args.threads}", *args.overrides]
    root = Path(resolve_source(load_config(args.config, common)).data.root)  # the evaluator scores this folder
    evaluator = Evaluator(root, "test", features="tiny", metrics=("kid", "fid", "gt", "modes"))
    runs = refine_rows(args, evaluator) if args.refine else []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep or tmp
        for seed in seeds if not args.refine else []:
            for method in methods:
                extra = COOP + args.coop_set if method == "coop" else []
                cfg = load_config(args.config, [*common, f"train.seed={seed}", *extra])
                result = train_and_score(cfg, evaluator, Path(tmp) / f"{method}_{seed}")
                result.update(method=method, seed=seed)
                runs.append(result)
                log.info("%s seed %d: %s", method, seed, {k: round(v, 4) for k, v in result.items()
                                                          if isinstance(v, float)})
    table = summarise(runs)
    text = markdown(table)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"argv": sys.argv[1:], "runs": runs, "summary": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

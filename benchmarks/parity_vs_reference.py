"""Training parity: this project's CUT trainer against the CUT reference code, same task, config and seeds.

    python benchmarks/parity_vs_reference.py --reference-repo ~/src/contrastive-unpaired-translation \\
        --reference-python ~/venvs/cut/bin/python --seeds 0,1,2 --out runs/parity

Both trainers train from scratch on the demo preset's synthetic dataset (configs/demo.yaml; override with
--set), each in its own process under ``nice -n 10`` with one torch thread, at most --jobs at a time, logging
to files. A run whose folder holds DONE is not rerun. Then both final generators are scored by the
project's own evaluation (translate.metrics.evaluate_translator, tiny features) after the reference's
weights are loaded into our ResnetGenerator and checked to translate an image exactly as the reference's
own G does. Out: results.json, curves.png (losses on the reference's scale, mean over seeds) and table.md.
The reference must be a checkout of taesungp/contrastive-unpaired-translation; nothing of it is copied.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from parity_plot import save_curves  # noqa: E402
from parity_reference import (FORWARD_CHECK, LAUNCHER, load_reference_generator,  # noqa: E402
                              read_reference_log, reference_args)

LOSSES = ("D_real", "D_fake", "G_GAN", "NCE", "NCE_Y")  # the reference's names, its scale
METRICS = ("kid", "fid", "gt_l1", "gt_bg_l1", "mode_coverage", "mode_entropy", "mode_accuracy", "source_share")
TRAINERS = ("project", "reference")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference-repo", required=True, type=Path, help="checkout of the CUT reference code")
    p.add_argument("--reference-python", default=sys.executable, help="Python with torch, torchvision, dominate")
    p.add_argument("--out", type=Path, default=Path("runs/parity"))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--jobs", type=int, default=2, help="trainings at a time")
    p.add_argument("--config", default="demo")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override, both trainers")
    p.add_argument("--project-set", action="append", default=[], help="override for the project only")
    p.add_argument("--project-name", default="project", help="label of the project runs (e.g. a variant)")
    p.add_argument("--skip-train", action="store_true", help="only score and report finished runs")
    return p.parse_args(argv)


def build_jobs(args, cfg, root: Path) -> list[tuple[Path, list[str], dict]]:
    """(run folder, command, environment) of every training still to do."""
    jobs, env = [], {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    (args.out / "ref_launch.py").write_text(LAUNCHER)
    for seed in args.seeds:
        run = args.out / f"{args.project_name}_s{seed}"
        sets = [*args.overrides, *args.project_set, f"train.seed={seed}", "train.threads=1", "train.device=cpu",
                f"train.keep_every={cfg.train.ckpt_every}"]
        cmd = [sys.executable, "-m", "translate", "train", str(root), "--config", args.config, "--out", str(run)]
        jobs.append((run, cmd + [a for s in sets for a in ("--set", s)], env))
        run = args.out / f"reference_s{seed}"
        cmd = [args.reference_python, str((args.out / "ref_launch.py").resolve()),
               *reference_args(cfg, root, "ref", run.resolve())]
        jobs.append((run, cmd, {**env, "PARITY_SEED": str(seed), "PARITY_REF": str(args.reference_repo.resolve())}))
    return [j for j in jobs if not (j[0] / "DONE").exists()]


def run_jobs(jobs, n_parallel: int) -> None:
    """Each job as ``nice -n 10 CMD > RUN/train.log``; a folder left by an interrupted job is set aside."""
    pending, running = list(jobs), []
    while pending or running:
        while pending and len(running) < n_parallel:
            run, cmd, env = pending.pop(0)
            if run.exists():
                run.rename(run.with_name(f"{run.name}.incomplete-{int(time.time())}"))
            run.mkdir(parents=True)
            log = (run.parent / f"{run.name}.train.log").open("w")
            running.append((run, subprocess.Popen(["nice", "-n", "10", *cmd], stdout=log, stderr=subprocess.STDOUT,
                                                  env=env, cwd=env.get("PARITY_REF")), time.time()))
            print(f"started {run.name}", flush=True)
        for item in list(running):
            run, proc, t0 = item
            if proc.poll() is not None:
                running.remove(item)
                if proc.returncode:
                    sys.exit(f"{run.name} failed (exit {proc.returncode}); see {run.parent / run.name}.train.log")
                (run / "DONE").write_text(json.dumps({"wall_s": round(time.time() - t0, 1)}))
                print(f"finished {run.name} in {time.time() - t0:.0f} s", flush=True)
        time.sleep(5)


def window_means(rows: list[dict], every: int) -> dict[str, list[tuple[int, float]]]:
    """Per loss, (last step of window, mean over the window's steps): the project's log.jsonl convention."""
    out: dict[str, list[tuple[int, float]]] = {k: [] for k in LOSSES}
    for end in range(every, max(r["step"] for r in rows) + 1, every):
        chunk = [r for r in rows if end - every < r["step"] <= end]
        for k in LOSSES:
            vals = [r[k] for r in chunk if k in r]
            if vals:
                out[k].append((end, sum(vals) / len(vals)))
    return out


def project_curves(run: Path) -> dict[str, list[tuple[int, float]]]:
    """log.jsonl on the reference's scale: our D/* and NCE terms are logged already halved."""
    names = {"D/real": "D_real", "D/fake": "D_fake", "G/gan": "G_GAN", "G/nce": "NCE", "G/nce_idt": "NCE_Y"}
    scale = {"D_real": 2.0, "D_fake": 2.0, "G_GAN": 1.0, "NCE": 2.0, "NCE_Y": 2.0}
    out: dict[str, list[tuple[int, float]]] = {k: [] for k in LOSSES}
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        for ours, theirs in names.items():
            if ours in rec:
                out[theirs].append((rec["step"], rec[ours] * scale[theirs]))
    return out


def forward_check(args, weights: Path, G, image: torch.Tensor, ngf: int, n_blocks: int, antialias_up: bool) -> float:
    """Max |our G - the reference's own G| on one image, the reference's G built by its code."""
    x_path, y_path = args.out / "check_x.pt", args.out / "check_y.pt"
    torch.save(image, x_path)
    subprocess.run([args.reference_python, "-c", FORWARD_CHECK, str(args.reference_repo.resolve()), str(weights),
                    str(ngf), str(n_blocks), str(x_path), str(y_path), str(int(not antialias_up))], check=True, cwd=args.reference_repo)
    with torch.no_grad():
        return float((G(image) - torch.load(y_path, weights_only=True)).abs().max())


def score(args, cfg, root: Path) -> dict:
    from translate.runfolder.translator import load_translator
    from translate.datasets.folder import fixed_images, resolve_layout
    from translate.metrics import evaluate_translator

    image = fixed_images(resolve_layout(root, split="test")[0], 1, cfg.data.crop_size)
    runs = {}
    for seed in args.seeds:
        for trainer in TRAINERS:
            name = f"{args.project_name if trainer == 'project' else trainer}_s{seed}"
            run = args.out / name
            if not (run / "DONE").exists():
                continue
            if trainer == "project":
                G = load_translator(run / "ckpt" / "latest.pt").G
                curves, check = project_curves(run), None
            else:
                weights = run / "ref" / "latest_net_G.pth"
                m = cfg.model
                G = load_reference_generator(weights, m.ngf, m.n_blocks, m.antialias_up)
                check = forward_check(args, weights, G, image, m.ngf, m.n_blocks, m.antialias_up)
                per_epoch = cfg.data.synthetic.n_train // cfg.data.batch_size
                rows = read_reference_log(run / "ref" / "loss_log.txt", cfg.data.batch_size, per_epoch)
                curves = window_means(rows, cfg.train.log_every)
            figures = evaluate_translator(G, root, split="test", features="tiny", device="cpu")
            figures.update(figures.pop("modes", None) or {})
            runs[name] = {"trainer": trainer, "seed": seed, "forward_max_abs_diff": check, "curves": curves,
                          "wall_s": json.loads((run / "DONE").read_text())["wall_s"],
                          **{k: figures[k] for k in METRICS if isinstance(figures.get(k), (int, float))}}
            print(f"{name}: " + ", ".join(f"{k} {runs[name][k]:.4g}" for k in METRICS if k in runs[name]), flush=True)
    return runs


def summarise(runs: dict, project_name: str) -> tuple[dict, dict]:
    """mean ± std per trainer, and per-seed paired differences (reference - project) with their mean ± std."""
    table, paired = {}, {}
    by = {t: {r["seed"]: r for r in runs.values() if r["trainer"] == t} for t in TRAINERS}
    for t in TRAINERS:
        table[t] = {}
        for k in METRICS + ("wall_s",):
            vals = [r[k] for r in by[t].values() if k in r]
            if vals:
                table[t][k] = (statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0)
    seeds = sorted(set(by["project"]) & set(by["reference"]))
    for k in METRICS + ("wall_s",):
        diffs = [by["reference"][s][k] - by["project"][s][k] for s in seeds
                 if k in by["reference"][s] and k in by["project"][s]]
        if diffs:
            paired[k] = {"per_seed": dict(zip(map(str, seeds), diffs)), "mean": statistics.fmean(diffs),
                         "std": statistics.stdev(diffs) if len(diffs) > 1 else 0.0}
    return table, paired


def markdown(table: dict, paired: dict, project_name: str) -> str:
    keys = [k for k in METRICS + ("wall_s",) if k in table.get("project", {}) or k in table.get("reference", {})]
    lines = [f"| figure | project ({project_name}) | reference | reference - project, per seed | mean ± std |",
             "|---|---|---|---|---|"]
    for k in keys:
        cells = [f"{table[t][k][0]:.4g} ± {table[t][k][1]:.2g}" if k in table[t] else "-" for t in TRAINERS]
        d = paired.get(k)
        per = ", ".join(f"{v:+.3g}" for v in d["per_seed"].values()) if d else "-"
        lines.append(f"| {k} | {cells[0]} | {cells[1]} | {per} | "
                     + (f"{d['mean']:+.3g} ± {d['std']:.2g} |" if d else "- |"))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    args = parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    from translate.atomic import write_text
    from translate.config import load_config
    from translate.datasets.synthetic import ensure_synthetic

    cfg = load_config(args.config, args.overrides)
    root = ensure_synthetic(cfg.data.synthetic)
    args.out.mkdir(parents=True, exist_ok=True)
    cfg = _with_steps(cfg)
    print(f"dataset: {root}", flush=True)
    if not args.skip_train:
        run_jobs(build_jobs(args, cfg, root), args.jobs)
    runs = score(args, cfg, root)
    table, paired = summarise(runs, args.project_name)
    result = {"dataset": str(root), "config": args.config, "overrides": args.overrides,
              "project_overrides": args.project_set, "runs": runs, "table": table, "paired": paired}
    write_text(json.dumps(result, indent=1), args.out / "results.json")
    save_curves(runs, args.out / "curves.png", args.project_name, cfg.train.steps - cfg.train.decay_steps)
    write_text(markdown(table, paired, args.project_name), args.out / "table.md")
    print(markdown(table, paired, args.project_name))
    return 0


def _with_steps(cfg):
    """The resolved step counts, derived as the Trainer derives them."""
    import dataclasses

    from translate.engine.run import resolve_schedule

    total, decay = resolve_schedule(cfg.train, cfg.data.synthetic.n_train, cfg.data.batch_size)
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=total, decay_steps=decay))


if __name__ == "__main__":
    sys.exit(main())

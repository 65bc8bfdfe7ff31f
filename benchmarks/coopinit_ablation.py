"""CUT versus CoopInit+CUT (Zhao, Xie, Li; AAAI 2023) at the same total steps, seeds and data.

    python benchmarks/coopinit_ablation.py --seeds 0,1,2,3,4 --out runs/ablation      # the demo preset, 64 px
    python benchmarks/coopinit_ablation.py --cell coop_t30:coop.langevin_steps=30 --seeds 0 --out runs/sweep
    python benchmarks/coopinit_ablation.py --tiny --seeds 0 --out /tmp/abl              # seconds (CI)

Cells: ``--methods`` (cut, coop) and each ``--cell NAME:KEY=VALUE,KEY=VALUE`` (a coop cell when its name starts
with ``coop``, else a CUT one). A cell x seed is one run; its result is written to ``OUT/NAME_sSEED.json`` when it
finishes, and cells already there are not rerun, so the command resumes where it stopped.

Each method trains from scratch per seed through the real Trainer, then is scored on the test split:
KID and FID with the offline ``tiny`` features (translate/metrics), content preservation against the
synthetic ground truth (gt_l1: mean |G(a) - gt| on the object, gt_bg_l1 on the background), and mode
coverage of domain B's texture styles (translate/metrics/modes.py). Wall time is split by stage; the
cooperative stage's overhead is its extra time over the CUT steps it replaces, as a share of the run.
The default task is the demo preset (configs/demo.yaml, 64 px); ``--tiny`` is a 32 px toy for CI.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from translate.atomic import write_text
from translate.config import load_config
from translate.datasets.sources import resolve_source
from translate.commands.train import build_trainer
from translate.events import Hook
from translate.metrics.evaluate import Evaluator

log = logging.getLogger("coopinit_ablation")

BASE = ["train.log_every=25", "train.sample_every=0", "train.ckpt_every=0", "train.device=cpu"]
# --tiny: 32 px scenes and networks a quarter of demo.yaml's, a few dozen steps: checks that the script runs.
TINY = ["data.synthetic.size=32", "data.synthetic.n_train=16", "data.synthetic.n_test=12", "data.load_size=36",
        "data.crop_size=32", "model.ngf=8", "model.ndf=8", "model.n_blocks=2",
        "model.nce_layers=[input,down1,down2,block1,block2]", "model.num_patches=16", "model.netf_nc=16",
        "train.steps=24", "train.decay_steps=8", "train.log_every=4"]
METRICS = ("kid", "fid", "gt_l1", "gt_bg_l1", "shape_iou", "mode_accuracy", "mode_accuracy_min", "mode_coverage",
           "mode_entropy", "source_share", "train_s", "coop_s", "overhead_pct")
SCORES = ("kid", "kid_std", "fid", "gt_l1", "gt_psnr", "gt_bg_l1", "shape_iou", "shape_iou_gt")
MODE_FIGURES = ("mode_accuracy", "mode_accuracy_min", "mode_accuracy_by_mode", "mode_coverage", "mode_entropy",
                "source_share", "mode_shares", "modes_covered")
COLLAPSED = "collapsed"  # a run whose outputs cover at most one of B's modes


class StageTimer(Hook):
    """Wall time of every step, by the stage that ran it."""

    def __init__(self):
        self.times: dict[str, list[float]] = {}
        self.t = time.perf_counter()

    def after_step(self, ctx, logs):
        now = time.perf_counter()
        self.times.setdefault(ctx.stage, []).append(now - self.t)
        self.t = now


def train_and_score(cfg, evaluator: Evaluator, run_dir: Path) -> dict:
    trainer = build_trainer(resolve_source(cfg), run_dir, progress=False)  # as `translate train`, without the line
    timer = StageTimer()
    trainer.hooks.append(timer)
    t0 = time.perf_counter()
    timer.t = t0
    if not trainer.fit():  # Ctrl-C or SIGTERM: an unfinished run must not be scored as a finished cell
        raise KeyboardInterrupt
    total = time.perf_counter() - t0
    result = scored(evaluator, trainer.G_ema if trainer.G_ema is not None else trainer.networks.G)
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


def scored(evaluator: Evaluator, G: torch.nn.Module) -> dict:
    """The figures this script tabulates, for generator G on the evaluator's test split."""
    scores, _ = evaluator.run(G)
    modes = scores.get("modes", {})
    result = {k: scores[k] for k in SCORES if k in scores}
    result.update({k: modes[k] for k in MODE_FIGURES if k in modes})
    result[COLLAPSED] = modes.get("modes_covered", 0) <= 1
    return result


def rescore(out: Path, evaluator: Evaluator) -> int:
    """Score every kept run of ``out`` (NAME_sSEED/ckpt/latest.pt beside NAME_sSEED.json) again with today's
    figures, keeping the JSON's other fields (wall times, overrides): figures added since the run was trained
    (shape_iou, per-mode accuracy) then cover old runs too. Returns the number of runs rescored."""
    from translate.runfolder.translator import load_translator

    n = 0
    for result_path in sorted(out.glob("*_s*.json")):
        ckpt = out / result_path.stem / "ckpt" / "latest.pt"
        if not ckpt.is_file():
            log.warning("%s: no kept checkpoint (%s); left as it is", result_path.name, ckpt)
            continue
        G = load_translator(ckpt).G
        result = {**json.loads(result_path.read_text()), **scored(evaluator, G)}
        write_text(json.dumps(result, indent=1), result_path)
        log.info("rescored %s: shape_iou %.3f, mode_accuracy %.3f", result_path.stem, result.get("shape_iou", -1),
                 result.get("mode_accuracy", -1))
        n += 1
    return n


# A run that diverged: its translations have lost the scene, background included. On the demo task a working run
# keeps gt_bg_l1 at 0.03-0.11 and the diverged 4x-lr runs sit at 0.30-0.43 (shape_iou 0.06: the whole frame
# differs from the bare background), so 0.2 lies in a wide gap. Mode figures alone miss these runs: noise can
# still read as the right texture.
DIVERGED_BG_L1 = 0.2


def diverged(run: dict) -> bool:
    return run.get("gt_bg_l1", 0.0) >= DIVERGED_BG_L1


def failed(run: dict) -> bool:
    """A failed run: collapsed (at most one mode), most inputs left untranslated (source_share ≥ 0.5), or
    diverged (gt_bg_l1 ≥ 0.2: the scene is gone)."""
    return bool(run.get(COLLAPSED)) or run.get("source_share", 0.0) >= 0.5 or diverged(run)


def flat_figures(run: dict) -> dict:
    """The run with its per-mode accuracies as columns (acc:MODE) and all_modes = 1 where every mode is
    produced by at least 5 % of the outputs (mode_coverage 1)."""
    extra = {f"acc:{m}": v for m, v in run.get("mode_accuracy_by_mode", {}).items()}
    if "mode_coverage" in run:
        extra["all_modes"] = float(run["mode_coverage"] >= 1.0)
    return {**run, **extra}


def summarise(runs: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    table: dict[str, dict[str, tuple[float, float]]] = {}
    runs = [flat_figures(r) for r in runs]
    per_mode = sorted({k for r in runs for k in r if k.startswith("acc:")})
    for method in dict.fromkeys(r["method"] for r in runs):
        rows = [r for r in runs if r["method"] == method]
        table[method] = {"runs": (len(rows), 0.0), COLLAPSED: (sum(bool(r.get(COLLAPSED)) for r in rows), 0.0),
                         "failed": (sum(failed(r) for r in rows), 0.0)}
        for key in (*METRICS, "all_modes", *per_mode):
            values = [r[key] for r in rows if key in r]
            if values:
                table[method][key] = (statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0)
    return table


def markdown(table: dict) -> str:
    columns = dict.fromkeys(k for row in table.values() for k in row if k not in ("runs", COLLAPSED, "failed"))
    keys = [k for k in (*METRICS, "all_modes") if k in columns] + sorted(k for k in columns if k.startswith("acc:"))
    lines = ["| method (mean ± std over runs) | runs | collapsed | failed | " + " | ".join(keys) + " |",
             "|---" * (len(keys) + 4) + "|"]
    for method, row in table.items():
        cells = []
        for k in keys:
            if k not in row:  # e.g. wall times, in a table merged with runs that did not record them
                cells.append("-")
                continue
            mean, std = row[k]
            digits = 4 if k in ("kid", "gt_l1", "gt_bg_l1") else 3 if k == "shape_iou" else 2 if k != "train_s" else 0
            cells.append(f"{mean:.{digits}f} ± {std:.{digits}f}")
        lines.append(f"| {method} | {row['runs'][0]} | {row[COLLAPSED][0]} | {row['failed'][0]} | "
                     + " | ".join(cells) + " |")
    legend = ("\ncollapsed: at most one mode produced; failed: collapsed, or source_share ≥ 0.5 (most inputs left "
              f"untranslated), or gt_bg_l1 ≥ {DIVERGED_BG_L1} (diverged: the scene is gone); all_modes: the share of "
              "runs producing every mode; acc:MODE: mode accuracy among the inputs that call for MODE.")
    return "\n".join(lines) + "\n" + legend


def paired(runs: list[dict], base: str) -> str:
    """Per-seed differences of every other method against ``base`` (same seed), as a markdown table."""
    keys = ("kid", "gt_l1", "gt_bg_l1", "shape_iou", "mode_accuracy", "mode_accuracy_min", "mode_coverage")
    by = {(r["method"], r["seed"]): r for r in runs}
    lines = ["| method − " + base + " | seed | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for method in dict.fromkeys(r["method"] for r in runs):
        if method == base:
            continue
        for seed in sorted({r["seed"] for r in runs if r["method"] == method}):
            a, b = by.get((method, seed)), by.get((base, seed))
            if a and b:
                diffs = [f"{a[k] - b[k]:+.4f}" if k in a and k in b else "" for k in keys]
                lines.append(f"| {method} | {seed} | " + " | ".join(diffs) + " |")
    return "\n".join(lines)


def merged_runs(result: dict) -> list[dict]:
    """The runs of one --json file, or of benchmarks/parity_vs_reference.py's results.json (a dict of runs named
    NAME_sSEED, whose plain CUT runs are called ``project``): both as rows of this script."""
    if isinstance(result["runs"], list):
        return result["runs"]
    rows = []
    for name, run in result["runs"].items():
        method = name.rsplit("_s", 1)[0]
        row = {k: v for k, v in run.items() if k not in ("curves", "trainer")}
        covered = round(run.get("mode_coverage", 0.0) * 3)  # the parity script runs the demo task: 3 modes
        rows.append({**row, "method": "cut" if method == "project" else method, COLLAPSED: covered <= 1})
    return rows


def read_runs(path: Path) -> list[dict]:
    """The runs of a --json file, of parity_vs_reference.py's results.json, of an --out folder (NAME_sSEED.json),
    or one run's own OUT/NAME_sSEED.json."""
    if path.is_dir():
        return [json.loads(p.read_text()) for p in sorted(path.glob("*_s*.json"))]
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"--merge {path}: cannot read it as JSON ({e}); give a --json file, an --out folder "
                         "or one of its NAME_sSEED.json files") from None
    if isinstance(result, dict) and "method" in result and "runs" not in result:
        return [result]  # one finished cell
    if not isinstance(result, dict) or "runs" not in result:
        raise SystemExit(f"--merge {path}: no runs in it; give a --json file, an --out folder or one of its "
                         "NAME_sSEED.json files")
    return merged_runs(result)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="demo", help="demo (synthetic, with ground truth and modes) or a folder")
    p.add_argument("--config", default="demo", help="preset of the CUT cells")
    p.add_argument("--coop-config", default="coop_demo", help="preset of the coop cells (its coop block included)")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    p.add_argument("--methods", default="cut,coop", help="cut and/or coop (empty: only the --cell cells)")
    p.add_argument("--cell", action="append", default=[], metavar="NAME:KEY=V,KEY=V",
                   help="an extra cell: a coop run if NAME starts with 'coop', else a CUT run, with these overrides")
    p.add_argument("--out", help="folder for per-run results (OUT/NAME_sSEED.json) and run folders; finished "
                   "runs there are not rerun")
    p.add_argument("--tiny", action="store_true", help="a 32 px toy task, seconds per run (checks the script)")
    p.add_argument("--eval-every", type=int, default=0, help="also evaluate every N steps into RUN/metrics.jsonl "
                   "(tiny features, mode figures): the curves after the switch")
    p.add_argument("--set", dest="overrides", action="append", default=[], help="config override for all runs")
    p.add_argument("--coop-set", action="append", default=[], help="config override for the coop runs only")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: the machine is shared; more oversubscribes)")
    p.add_argument("--base", default="cut", help="the method the per-seed paired differences are taken against")
    p.add_argument("--json", help="write every run and the summary here")
    p.add_argument("--merge", nargs="+", metavar="JSON|OUT", help="only print the table of earlier --json files "
                   "(or of parity_vs_reference.py's results.json), or of every finished run in --out folders")
    p.add_argument("--refine", nargs="+", metavar="RUN", help="only score kept runs (RUN/ckpt/latest.pt) without "
                   "and with test-time Langevin refinement under their D")
    p.add_argument("--rescore", metavar="OUT", help="only score every kept run in OUT again (today's figures, e.g. "
                   "shape_iou and per-mode accuracy), update its JSON, and print the table")
    p.add_argument("--refine-steps", default="10", help="Langevin steps for --refine (comma-separated: several)")
    p.add_argument("--refine-step-size", type=float, default=0.01, help="RMS pixel move per step for --refine")
    return p.parse_args(argv)


def refine_rows(args, evaluator: Evaluator) -> list[dict]:
    """Each kept run scored as trained and after test-time refinement (translate apply --refine-steps)."""
    from translate.runfolder.translator import load_translator
    from translate.models.coop import build_refiner

    runs = []
    for run in args.refine:
        t = load_translator(Path(run) / "ckpt" / "latest.pt", with_discriminator=True)
        G, cfg, D = t.G, t.cfg, t.D
        scores, fake = evaluator.run(G)
        rows = [("plain", scores)]
        for steps in (int(t) for t in str(args.refine_steps).split(",")):
            refine = build_refiner(D, steps, args.refine_step_size)
            refined = torch.cat([refine(fake[i:i + 16]) for i in range(0, fake.shape[0], 16)])
            rows.append((f"refined T={steps}", evaluator.score(refined)))
        for name, s in rows:
            row = {k: s[k] for k in ("kid", "fid", "gt_l1", "gt_bg_l1") if k in s}
            row.update({k: s.get("modes", {})[k] for k in ("mode_accuracy", "mode_coverage", "mode_entropy",
                                                           "source_share") if k in s.get("modes", {})})
            runs.append({"method": f"{'coop' if cfg.coop.enabled else 'cut'}, {name}", "run": run, **row,
                         "seed": cfg.train.seed})
    return runs


def split_overrides(sets: str) -> list[str]:
    """"a.b=1,c.d=[x,y]" -> ["a.b=1", "c.d=[x,y]"]: a comma starts a new override only before a KEY=, so a list
    value (e.g. model.nce_layers=[input,down1,block1]) stays whole."""
    return [x for x in re.split(r",(?=\s*[A-Za-z_][\w.]*=)", sets) if x]


def parse_cells(args) -> dict[str, tuple[str, list[str]]]:
    """Cell name -> (preset, config overrides): coop cells start from --coop-config, the others from --config."""
    cells = {}
    for method in filter(None, args.methods.split(",")):
        cells[method] = (args.coop_config, list(args.coop_set)) if method == "coop" else (args.config, [])
    for spec in args.cell:
        name, _, sets = spec.partition(":")
        if not name or name in cells:
            raise SystemExit(f"--cell {spec!r}: give a new NAME before the colon, e.g. coop_t30:coop.langevin_steps=30")
        overrides = split_overrides(sets)
        cells[name] = (args.coop_config, [*args.coop_set, *overrides]) if name.startswith("coop") else \
            (args.config, overrides)
    return cells


def run_cells(args, common: list[str], evaluator: Evaluator, out: Path) -> list[dict]:
    """Every cell x seed, resumable: a finished run's JSON in ``out`` is read back instead of rerun."""
    cells, seeds = parse_cells(args), [int(s) for s in args.seeds.split(",")]
    todo = [(name, seed) for seed in seeds for name in cells]
    runs, spent = [], []
    for i, (name, seed) in enumerate(todo, 1):
        result_path = out / f"{name}_s{seed}.json"
        if result_path.is_file():
            runs.append(json.loads(result_path.read_text()))
            continue
        left = sum(not (out / f"{n}_s{s}.json").is_file() for n, s in todo[i - 1:])
        eta = f", about {statistics.fmean(spent) * left / 60:.0f} min left" if spent else ""
        log.info("[%d/%d] %s seed %d: training (%d run(s) to go%s)", i, len(todo), name, seed, left, eta)
        run_dir = out / f"{name}_s{seed}"
        if run_dir.exists():
            shutil.rmtree(run_dir)  # an unfinished run of this script (its result file is missing): start it again
        extra = [f"train.eval_every={args.eval_every}", "eval.features=tiny", "eval.metrics=[kid,gt,modes]",
                 "eval.best=[]"] if args.eval_every else []
        preset, overrides = cells[name]
        cfg = load_config(preset, [*common, f"train.seed={seed}", *overrides, *extra])
        t0 = time.perf_counter()
        result = train_and_score(cfg, evaluator, run_dir)
        spent.append(time.perf_counter() - t0)
        result.update(method=name, seed=seed, preset=preset, overrides=overrides)
        write_text(json.dumps(result, indent=1), result_path)
        runs.append(result)
        log.info("%s seed %d: %s", name, seed, {k: round(v, 4) for k, v in result.items() if isinstance(v, float)})
    return runs


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.merge:
        rows = [r for path in args.merge for r in read_runs(Path(path))]
        runs = list({(r["method"], r["seed"]): r for r in rows}.values())  # a run in two files counts once
        text = markdown(summarise(runs))
        if any(r["method"] == args.base for r in runs) and len({r["method"] for r in runs}) > 1:
            text += "\n\nPer-seed paired differences:\n\n" + paired(runs, args.base)
        print(text)
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    torch.set_num_threads(args.threads)
    common = [f"dataset={args.dataset}", *BASE, *(TINY if args.tiny else []), f"train.threads={args.threads}",
              *args.overrides]
    root = Path(resolve_source(load_config(args.config, common)).data.root)  # the evaluator scores this folder
    evaluator = Evaluator(root, "test", features="tiny", metrics=("kid", "fid", "gt", "modes"))
    if args.rescore:
        rescore(Path(args.rescore), evaluator)
        runs = [json.loads(p.read_text()) for p in sorted(Path(args.rescore).glob("*_s*.json"))]
    elif args.refine:
        runs = refine_rows(args, evaluator)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(args.out or tmp)
            out.mkdir(parents=True, exist_ok=True)
            try:
                runs = run_cells(args, common, evaluator, out)
            except KeyboardInterrupt:
                print(f"interrupted: finished cells are kept in {out}; run the same command to resume",
                      file=sys.stderr)
                return 130
    table = summarise(runs)
    text = markdown(table)
    base = args.base if any(r["method"] == args.base for r in runs) else None
    if base and not args.refine and len(table) > 1:
        text += "\n\nPer-seed paired differences:\n\n" + paired(runs, base)
    print(text)
    if args.json:
        write_text(json.dumps({"argv": sys.argv[1:], "runs": runs, "summary": table}, indent=1), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

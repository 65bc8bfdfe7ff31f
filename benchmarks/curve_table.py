"""The figures against steps: mean ± std over runs of each step's evaluation, as a markdown table.

    python benchmarks/curve_table.py runs/curve/santa_demo4k5_s*          # the runs' RUN/metrics.jsonl
    python benchmarks/curve_table.py runs/curve/santa_demo4k5_s* --per-run  # also one row per run and step

Each RUN is a training run folder that evaluated every N steps (``train.eval_every``, or the ablation script's
``--eval-every``), so RUN/metrics.jsonl holds one record per evaluation. Steps missing from some runs are
averaged over the runs that have them (the ``runs`` column says how many).
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from translate.records import read_jsonl

FIGURES = ("kid", "gt_l1", "gt_bg_l1", "shape_iou", "mode_accuracy", "mode_accuracy_min", "source_share")
DIGITS = {"shape_iou": 3, "mode_accuracy": 2, "mode_accuracy_min": 2, "source_share": 2}


def read_curves(runs: list[Path]) -> dict[str, dict[int, dict]]:
    """{run name: {step: its evaluation record}}; a run without metrics.jsonl is an error naming it."""
    curves = {}
    for run in runs:
        path = Path(run) / "metrics.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no evaluations in this run folder (train with train.eval_every=N)")
        curves[Path(run).name] = {int(r["step"]): r for r in read_jsonl(path) if "step" in r}
    return curves


def _cell(values: list[float], figure: str) -> str:
    d = DIGITS.get(figure, 4)
    if len(values) == 1:
        return f"{values[0]:.{d}f}"
    return f"{statistics.fmean(values):.{d}f} ± {statistics.stdev(values):.{d}f}"


def table(curves: dict[str, dict[int, dict]], per_run: bool = False) -> str:
    steps = sorted({s for curve in curves.values() for s in curve})
    lead = ["run"] if per_run else []
    rows = ["| " + " | ".join(lead + ["step", "runs", *FIGURES]) + " |",
            "|" + "---|" * (len(lead) + 2 + len(FIGURES))]
    for step in steps:
        records = [c[step] for c in curves.values() if step in c]
        cells = [_cell([r[f] for r in records if f in r], f) if any(f in r for r in records) else "" for f in FIGURES]
        rows.append("| " + " | ".join(([""] if per_run else []) + [str(step), str(len(records)), *cells]) + " |")
        if per_run:
            for name, curve in curves.items():
                if step in curve:
                    rows.append("| " + " | ".join([name, str(step), "1", *(
                        _cell([curve[step][f]], f) if f in curve[step] else "" for f in FIGURES)]) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path, help="training run folders, each with metrics.jsonl")
    p.add_argument("--per-run", action="store_true", help="also a row per run under each step's mean")
    args = p.parse_args(argv)
    try:
        curves = read_curves(args.runs)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table(curves, args.per_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The report of a run folder: loss curves (log.jsonl), evaluation figures (metrics.jsonl), best and last.

Writes ``losses.png``, ``metrics.png`` and ``report.md`` whose table gives, for every evaluated metric, the
last figure and the best one, each with the step it comes from and the checkpoint file that holds it.
"""
from __future__ import annotations

import math
from pathlib import Path

from translate.errors import TranslateError
from translate.metrics.hook import read_metrics
from translate.metrics.plots import Panel, save_panels
from translate.metrics.registry import lower_is_better
from translate.metrics.summary import METRICS, format_value, metric_label
from translate.records import read_step_records

LOG_FIELDS = frozenset({"lr", "steps_per_s"})  # besides the losses (keys with a "/"), the numbers of log.jsonl


def read_log(path: Path) -> list[dict]:
    """log.jsonl records by step; a resumed run's later record for a step replaces the earlier one.

    Bad lines and non-numeric figures are skipped with a warning (see :func:`translate.records.read_step_records`).
    """
    return read_step_records(path, LOG_FIELDS)


def loss_panels(records: list[dict]) -> list[Panel]:
    keys = sorted({k for r in records for k in r if "/" in k and not k.startswith("time")})
    panels = [Panel(k, [(r["step"], r[k]) for r in records if isinstance(r.get(k), (int, float))]) for k in keys]
    if any("lr" in r for r in records):
        panels.append(Panel("learning rate", [(r["step"], r["lr"]) for r in records
                                              if isinstance(r.get("lr"), (int, float))]))
    return panels


def best_and_last(records: list[dict]) -> list[dict]:
    """Per metric: {metric, features, last, last_step, best, best_step}, from the evaluation records."""
    rows = []
    for metric in METRICS:
        points = [r for r in records if isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])]
        if not points:
            continue
        pick = min if lower_is_better(metric) else max
        best = pick(points, key=lambda r: r[metric])
        last = points[-1]
        rows.append({"metric": metric, "features": last.get("features"), "last": last[metric],
                     "last_step": last["step"], "best": best[metric], "best_step": best["step"],
                     "last_std": last.get("kid_std") if metric == "kid" else None,
                     "best_std": best.get("kid_std") if metric == "kid" else None})
    return rows


def metric_panels(records: list[dict]) -> list[Panel]:
    panels = []
    for row in best_and_last(records):
        m, scale = row["metric"], METRICS[row["metric"]][1]
        points = [(r["step"], r[m] * scale) for r in records if isinstance(r.get(m), (int, float))]
        panels.append(Panel(metric_label(m, row["features"]), points, (row["best_step"], row["best"] * scale)))
    return panels


def _table(rows: list[dict], ckpt_dir: Path) -> list[str]:
    lines = ["| metric | last | step | best | step | best checkpoint |", "|---|---|---|---|---|---|"]
    for row in rows:
        m = row["metric"]
        best_file = ckpt_dir / f"best_{m}.pt"
        kept = f"`ckpt/{best_file.name}`" if best_file.is_file() else "(not kept: add it to eval.best)"
        last = format_value(m, {m: row["last"], "kid_std": row["last_std"]})
        best = format_value(m, {m: row["best"], "kid_std": row["best_std"]})
        lines.append(f"| {metric_label(m, row['features'])} | {last} | {row['last_step']} | {best} | "
                     f"{row['best_step']} | {kept} |")
    return lines


def write_report(run_dir: str | Path, out: str | Path | None = None) -> tuple[str, list[Path]]:
    """(Markdown text, files written) for ``run_dir``; plots go to ``out`` (default: the run folder)."""
    run_dir = Path(run_dir)
    log_records = read_log(run_dir / "log.jsonl")
    eval_records = read_metrics(run_dir / "metrics.jsonl")
    if not log_records and not eval_records:
        raise TranslateError(f"{run_dir}: no log.jsonl or metrics.jsonl found; give a run folder made by "
                             "`translate train` (evaluations need --set train.eval_every=N)")
    out = Path(out) if out else run_dir
    written: list[Path] = []
    lines = [f"# Run report: {run_dir}", ""]
    if log_records:
        written.append(save_panels(loss_panels(log_records), out / "losses.png",
                                   title=f"losses, {run_dir.name} (averaged over each log interval)"))
        lines.append(f"Trained to step {log_records[-1]['step']}. Loss curves: `{written[-1].name}`.")
    if eval_records:
        features = sorted({str(r.get("features")) for r in eval_records if r.get("features")})
        written.append(save_panels(metric_panels(eval_records), out / "metrics.png",
                                   title=f"evaluation, {run_dir.name} ({', '.join(features) or 'no'} features)"))
        lines += [f"{len(eval_records)} evaluations ({eval_records[-1].get('n_images', '?')} test images each, "
                  f"{eval_records[-1].get('generator', 'G')}). Figures over steps: `{written[-1].name}`.", ""]
        lines += _table(best_and_last(eval_records), run_dir / "ckpt")
        if "tiny" in features:
            lines += ["", "FID/KID with `tiny` features come from a fixed random CNN, not Inception: compare them "
                          "only with other `tiny` figures."]
    else:
        lines.append("No evaluations: train with `--set train.eval_every=N` to track FID/KID over steps.")
    text = "\n".join(lines) + "\n"
    (out / "report.md").write_text(text)
    written.append(out / "report.md")
    return text, written

"""Why does CoopInit+CUT translate later than CUT? Curves of two runs at the same steps, side by side.

    python benchmarks/coopinit_diagnosis.py CUT_RUN COOP_RUN --out docs/coopinit_diagnosis.png

Both runs need log.jsonl (losses and log-only diagnostics, every train.log_every steps) and metrics.jsonl (from
train.eval_every with the mode metric, e.g. ``coopinit_ablation.py --eval-every 100``). Panels:
- D's mean patch score on real and on fake images against LSGAN's targets (1 and 0). In the cooperative stage
  the same network's scores are the EBM's f(real_b) and f(ỹ) (per-patch means), so the curve is continuous
  across the switch;
- G's distance from its input, mean |G(a) - a|: how much the translator changes the image;
- the EBM's energy gap f(real_b) - f(ỹ) and the pixel change per Langevin step (cooperative stage only);
- the share of test outputs still in domain A's style (untranslated) and the mode accuracy, over steps.
It prints the same figures as a table at a few steps after the switch.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from translate.metrics.plots import Panel, save_panels


def read_jsonl(path: Path) -> list[dict]:
    """Records of a JSONL file; unreadable lines are skipped (a run may still be writing its last line)."""
    records = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "step" in record:
            records.append(record)
    return records


def series(records: list[dict], *keys: str, scale: float = 1.0) -> list[tuple[float, float]]:
    """(step, value) of the first of ``keys`` each record has."""
    out = []
    for r in records:
        for k in keys:
            if isinstance(r.get(k), (int, float)):
                out.append((float(r["step"]), scale * float(r[k])))
                break
    return out


def switch_step(run: Path) -> int | None:
    """The step where a run's cooperative stage ends (from its config.yaml), or None for a CUT-only run."""
    from translate.config import load_config
    from translate.config import coop_steps

    cfg = load_config(run / "config.yaml")
    return coop_steps(cfg.coop, cfg.train.steps) if cfg.coop.enabled else None


def panels(runs: dict[str, tuple[list[dict], list[dict]]], langevin_steps: int) -> list[Panel]:
    (name0, (log0, met0)), *rest = runs.items()

    def compare(title, make, **kw):
        return Panel(title, make(log0, met0), label=name0, others=[(n, make(lg, mt)) for n, (lg, mt) in rest], **kw)

    return [
        compare("D score on real (coop stage: f(real_b))", lambda lg, mt: series(lg, "D/score_real", "E/f_real"),
                hlines=(0.0, 1.0)),
        compare("D score on fake (coop stage: f(revised))",
                lambda lg, mt: series(lg, "D/score_fake", "E/f_revised"), hlines=(0.0, 1.0)),
        compare("G's change of its input, mean |G(a) - a|", lambda lg, mt: series(lg, "G/change")),
        compare("energy gap f(real_b) - f(revised)", lambda lg, mt: series(lg, "E/energy_gap")),
        compare("pixel change per Langevin step", lambda lg, mt: series(lg, "E/pixel_change", scale=1 / langevin_steps)),
        compare("share of outputs untranslated", lambda lg, mt: series(mt, "source_share")),
        compare("mode accuracy", lambda lg, mt: series(mt, "mode_accuracy")),
        compare("KID [tiny features]", lambda lg, mt: series(mt, "kid")),
        compare("G/nce", lambda lg, mt: series(lg, "G/nce")),
    ]


def value_at(points: list[tuple[float, float]], step: float) -> float | None:
    """The value at the last point at or before ``step``."""
    before = [v for s, v in points if s <= step]
    return before[-1] if before else None


def table(runs: dict[str, tuple[list[dict], list[dict]]], steps: list[int]) -> str:
    rows = ["| run | step | D real | D fake | G change | untranslated | mode accuracy |", "|---|---|---|---|---|---|---|"]
    for name, (lg, mt) in runs.items():
        for step in steps:
            cells = [value_at(series(lg, "D/score_real", "E/f_real"), step),
                     value_at(series(lg, "D/score_fake", "E/f_revised"), step), value_at(series(lg, "G/change"), step),
                     value_at(series(mt, "source_share"), step), value_at(series(mt, "mode_accuracy"), step)]
            rows.append(f"| {name} | {step} | " + " | ".join("" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(rows)


def side_by_side(runs: list[Path], names: list[str], out: Path) -> Path:
    """The last sample grid of each run (input | output columns), side by side under the run's name."""
    from PIL import Image, ImageDraw

    from translate.metrics.plots import TEXT, _font

    grids = []
    for run in runs:
        files = sorted((run / "samples").glob("step_*.png"), key=lambda f: int(f.stem.split("_")[1]))
        if not files:
            raise SystemExit(f"{run}/samples: no sample grid; train with train.sample_every >= 0")
        grids.append(Image.open(files[-1]).convert("RGB"))
    gap, head = 12, 24
    sheet = Image.new("RGB", (sum(g.width for g in grids) + gap * (len(grids) - 1), max(g.height for g in grids) + head),
                      "white")
    x = 0
    for grid, name in zip(grids, names):
        sheet.paste(grid, (x, head))
        ImageDraw.Draw(sheet).text((x + 4, 4), name, fill=TEXT, font=_font(14))
        x += grid.width + gap
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (the first is drawn in blue)")
    p.add_argument("--names", help="comma-separated names of the runs (default: folder names)")
    p.add_argument("--langevin-steps", type=int, default=15, help="T of the coop runs (pixel change per step)")
    p.add_argument("--at", default="", help="steps for the table (default: the switch and 100, 200, 400 after)")
    p.add_argument("--out", default="coopinit_diagnosis.png", help="PNG to write")
    p.add_argument("--samples", metavar="PNG", help="also put the runs' last sample grids side by side here")
    args = p.parse_args(argv)
    names = args.names.split(",") if args.names else [Path(r).name for r in args.runs]
    runs = {n: (read_jsonl(Path(r) / "log.jsonl"), read_jsonl(Path(r) / "metrics.jsonl")) for n, r in zip(names, args.runs)}
    if not any(lg for lg, _ in runs.values()):
        print(f"no log.jsonl records in {', '.join(args.runs)}", file=sys.stderr)
        return 2
    switch = next((s for r in args.runs if (s := switch_step(Path(r))) is not None), 0)
    steps = [int(s) for s in args.at.split(",") if s] or [switch, switch + 100, switch + 200, switch + 400]
    out = save_panels(panels(runs, args.langevin_steps), Path(args.out), columns=3,
                      title=f"{' vs '.join(names)}; the cooperative stage ends at step {switch}")
    print(table(runs, steps))
    print(f"wrote {out}")
    if args.samples:
        print(f"wrote {side_by_side([Path(r) for r in args.runs], names, Path(args.samples))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

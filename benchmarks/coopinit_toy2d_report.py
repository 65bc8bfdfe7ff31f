"""Tables and the picture of benchmarks/coopinit_toy2d.py (markdown from its runs; a PNG drawn with PIL)."""
from __future__ import annotations

import statistics
from pathlib import Path


def mean_std(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {sd:.2f}"


def summary(runs: list[dict], n_modes: dict[str, int]) -> str:
    """Markdown tables: per (dataset, method) mean ± std over seeds at the switch and at the end; per seed."""
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in runs):
        k = n_modes[dataset]
        rows = [r for r in runs if r["dataset"] == dataset]
        lines += [f"\n### {dataset} ({k} modes)\n", "| method | seeds | modes (switch) | modes (end) | all modes "
                  "(end) | HQ share (end) | KL (end) | s/run |", "|---|---|---|---|---|---|---|---|"]
        methods = list(dict.fromkeys(r["method"] for r in rows))
        for m in methods:
            rs = sorted((r for r in rows if r["method"] == m), key=lambda r: r["seed"])
            end = [r["end"] for r in rs]
            lines.append(f"| {m} | {len(rs)} | {mean_std([r['switch']['modes'] for r in rs])} | "
                         f"{mean_std([e['modes'] for e in end])} | {sum(e['modes'] == k for e in end)}/{len(rs)} | "
                         f"{mean_std([e['hq'] for e in end])} | {mean_std([e['kl'] for e in end])} | "
                         f"{statistics.mean(r['seconds'] for r in rs):.1f} |")
        seeds = sorted({r["seed"] for r in rows})
        lines += ["", "Modes covered at the end, per seed (HQ share in brackets):", "",
                  "| method | " + " | ".join(f"s{s}" for s in seeds) + " |", "|---|" + "---|" * len(seeds)]
        for m in methods:
            by_seed = {r["seed"]: r["end"] for r in rows if r["method"] == m}
            lines.append(f"| {m} | " + " | ".join(f"{by_seed[s]['modes']} ({by_seed[s]['hq']:.2f})" if s in by_seed
                                                  else "" for s in seeds) + " |")
    return "\n".join(lines)


def draw(snapshots: dict[str, dict[int, list]], means: list[list[float]], path: Path, half: float,
         panel: int = 150) -> None:
    """PNG of G's samples over training: one row per method, one column per snapshot step (PIL, no matplotlib).

    ``means`` are the modes (drawn as rings), ``half`` the half-width of the plotted square in data units.
    """
    from PIL import Image, ImageDraw

    names = list(snapshots)
    steps = sorted(next(iter(snapshots.values())))
    label_w, head = 64, 16
    img = Image.new("RGB", (label_w + panel * len(steps), head + panel * len(names)), "white")
    pen = ImageDraw.Draw(img)

    def to_px(x: float, y: float, col: int, row: int) -> tuple[float, float]:
        return (label_w + col * panel + (x + half) / (2 * half) * panel,
                head + row * panel + (half - y) / (2 * half) * panel)

    for col, step in enumerate(steps):
        pen.text((label_w + col * panel + 4, 2), f"step {step}", fill="black")
    for row, name in enumerate(names):
        pen.text((4, head + row * panel + panel // 2), name, fill="black")
        for col, step in enumerate(steps):
            x0, y0 = label_w + col * panel, head + row * panel
            pen.rectangle([x0, y0, x0 + panel - 1, y0 + panel - 1], outline=(200, 200, 200))
            for mx, my in means:
                px, py = to_px(mx, my, col, row)
                pen.ellipse([px - 4, py - 4, px + 4, py + 4], outline=(230, 120, 0))
            for x, y in snapshots[name][step]:
                if abs(x) < half and abs(y) < half:
                    px, py = to_px(x, y, col, row)
                    pen.point((px, py), fill=(20, 40, 160))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)

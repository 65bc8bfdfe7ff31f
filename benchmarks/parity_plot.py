"""The loss-curve sheet of benchmarks/parity_vs_reference.py: one panel per loss, project and reference
overlaid (thin lines: single seeds; thick: the mean over seeds), drawn with PIL like translate/metrics/plots.py."""
from __future__ import annotations

import statistics
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from translate.metrics.plots import nice_ticks

W, H, L, R, T, B = 460, 270, 60, 12, 30, 34
COLOURS = {"project": ((31, 119, 180), (170, 200, 230)), "reference": ((230, 110, 20), (245, 200, 160))}
LOSSES = ("D_real", "D_fake", "G_GAN", "NCE", "NCE_Y")


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def _mean_curve(curves: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    steps = sorted(set.intersection(*(set(s for s, _ in c) for c in curves))) if curves else []
    maps = [dict(c) for c in curves]
    return [(s, statistics.fmean(m[s] for m in maps)) for s in steps]


def _panel(title: str, series: dict[str, list[list[tuple[int, float]]]], decay_start: int | None) -> Image.Image:
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    d.text((L, 8), title, fill=(30, 30, 30), font=_font(14))
    pts = [p for runs in series.values() for c in runs for p in c]
    if not pts:
        return img
    yt, xt = nice_ticks(min(p[1] for p in pts), max(p[1] for p in pts)), nice_ticks(0, max(p[0] for p in pts))
    x0, y0, x1, y1 = L, T, W - R, H - B

    def px(x, y):
        return (x0 + (x - xt[0]) / (xt[-1] - xt[0]) * (x1 - x0), y1 - (y - yt[0]) / (yt[-1] - yt[0]) * (y1 - y0))

    for t in yt:
        d.line([(x0, px(0, t)[1]), (x1, px(0, t)[1])], fill=(225, 225, 225))
        d.text((x0 - 5, px(0, t)[1]), f"{t:.3g}", fill=(30, 30, 30), font=_font(11), anchor="rm")
    for t in xt:
        d.text((px(t, yt[0])[0], y1 + 5), f"{t:.0f}", fill=(30, 30, 30), font=_font(11), anchor="ma")
    if decay_start:
        d.line([px(decay_start, yt[0]), px(decay_start, yt[-1])], fill=(160, 160, 160), width=1)
    d.rectangle([x0, y0, x1, y1], outline=(120, 120, 120))
    for trainer, runs in series.items():
        strong, light = COLOURS[trainer]
        for c in runs:
            if len(c) > 1:
                d.line([px(*p) for p in c], fill=light, width=1)
        mean = _mean_curve(runs)
        if len(mean) > 1:
            d.line([px(*p) for p in mean], fill=strong, width=2)
    return img


def save_curves(runs: dict, path: Path, project_name: str, decay_start: int | None = None, cols: int = 3) -> Path:
    panels = []
    for loss in LOSSES:
        series = {t: [r["curves"][loss] for r in runs.values() if r["trainer"] == t and r["curves"].get(loss)]
                  for t in COLOURS}
        panels.append(_panel(loss, series, decay_start))
    rows = -(-len(panels) // cols)
    sheet = Image.new("RGB", (cols * W, rows * H + 30), "white")
    d = ImageDraw.Draw(sheet)
    d.text((10, 7), f"losses (25-step means, reference's scale); blue: project ({project_name}), orange: "
                    f"reference; thick: mean over seeds; grey line: LR decay starts", fill=(30, 30, 30), font=_font(14))
    for i, p in enumerate(panels):
        sheet.paste(p, ((i % cols) * W, 30 + (i // cols) * H))
    tmp = path.with_suffix(".tmp.png")
    sheet.save(tmp)
    tmp.replace(path)
    return path

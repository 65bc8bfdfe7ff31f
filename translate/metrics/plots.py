"""Line charts drawn with PIL (matplotlib is not a dependency): loss curves and evaluation figures over steps.

A chart is a grid of small panels, one per series, each with its own y range, so a loss near 0.01 is not
flattened by one near 5. A panel can mark one point (the best evaluation) with a ring and its step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

PANEL_W, PANEL_H = 420, 250  # pixels per panel
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 62, 14, 30, 34  # plot area inside a panel
LINE, MARK, GRID, TEXT = (31, 119, 180), (214, 39, 40), (225, 225, 225), (30, 30, 30)
SERIES = (LINE, (255, 127, 14), (44, 160, 44), (148, 103, 189))  # colours of a panel's series, in order


@dataclass
class Panel:
    title: str  # shown above the plot, e.g. "G/nce" or "FID [tiny features]"
    points: list[tuple[float, float]]  # (step, value), sorted by step; non-finite values are dropped
    mark: tuple[float, float] | None = None  # a point to ring and label (the best evaluation)
    label: str = ""  # legend entry of ``points`` when the panel has ``others``
    others: list[tuple[str, list[tuple[float, float]]]] | None = None  # more (label, points) series to compare
    hlines: tuple[float, ...] = ()  # reference levels drawn dashed (e.g. the GAN targets)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # scalable with FreeType (Pillow >= 10.1)
    except TypeError:
        return ImageFont.load_default()


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi, lo = lo + 0.5 * (abs(lo) or 1.0), lo - 0.5 * (abs(lo) or 1.0)
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.1e}"


def draw_panel(panel: Panel) -> Image.Image:
    img = Image.new("RGB", (PANEL_W, PANEL_H), "white")
    d = ImageDraw.Draw(img)
    small, big = _font(11), _font(14)
    d.text((MARGIN_L, 8), panel.title, fill=TEXT, font=big)
    series = [(panel.label, panel.points), *(panel.others or [])]
    series = [(name, [(x, y) for x, y in points if math.isfinite(x) and math.isfinite(y)]) for name, points in series]
    pts = [p for _, points in series for p in points]
    x0, y0, x1, y1 = MARGIN_L, MARGIN_T, PANEL_W - MARGIN_R, PANEL_H - MARGIN_B
    if not pts:
        d.text((x0 + 10, (y0 + y1) // 2), "no data", fill=TEXT, font=small)
        return img
    xs, ys = [p[0] for p in pts], [p[1] for p in pts] + list(panel.hlines)
    yt = nice_ticks(min(ys), max(ys))
    xt = nice_ticks(min(xs), max(xs))
    ylo, yhi, xlo, xhi = yt[0], yt[-1], xt[0], xt[-1]

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (x0 + (x - xlo) / (xhi - xlo) * (x1 - x0), y1 - (y - ylo) / (yhi - ylo) * (y1 - y0))

    for t in yt:
        py = to_px(xlo, t)[1]
        d.line([(x0, py), (x1, py)], fill=GRID)
        d.text((x0 - 6, py), _fmt(t), fill=TEXT, font=small, anchor="rm")
    for t in xt:
        px = to_px(t, ylo)[0]
        d.line([(px, y0), (px, y1)], fill=GRID)
        d.text((px, y1 + 5), _fmt(t), fill=TEXT, font=small, anchor="ma")
    d.text(((x0 + x1) / 2, PANEL_H - 4), "step", fill=TEXT, font=small, anchor="md")
    d.rectangle([x0, y0, x1, y1], outline=(120, 120, 120))
    for level in panel.hlines:
        py = to_px(xlo, level)[1]
        for px in range(int(x0), int(x1), 8):
            d.line([(px, py), (min(px + 4, x1), py)], fill=(110, 110, 110))
    for i, (name, points) in enumerate(series):
        colour = SERIES[i % len(SERIES)]
        px_points = [to_px(x, y) for x, y in points]
        if len(px_points) > 1:
            d.line(px_points, fill=colour, width=2)
        for px, py in px_points if len(px_points) <= 40 else []:
            d.ellipse([px - 2.5, py - 2.5, px + 2.5, py + 2.5], fill=colour)
        if len(series) > 1 and name:
            d.text((x1 - 6, y0 + 6 + 13 * i), name, fill=colour, font=small, anchor="ra")
    if panel.mark is not None:
        mx, my = to_px(*panel.mark)
        d.ellipse([mx - 6, my - 6, mx + 6, my + 6], outline=MARK, width=2)
        label = f"best {_fmt(panel.mark[1])} @ {int(panel.mark[0])}"
        d.text((min(max(mx, x0 + 60), x1 - 60), my - 9), label, fill=MARK, font=small, anchor="md")
    return img


def save_panels(panels: list[Panel], path: Path, columns: int = 3, title: str = "") -> Path:
    """All panels in a grid, with an optional title line on top, as one PNG."""
    cols = max(1, min(columns, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    head = 28 if title else 0
    sheet = Image.new("RGB", (cols * PANEL_W, rows * PANEL_H + head), "white")
    if title:
        ImageDraw.Draw(sheet).text((10, 6), title, fill=TEXT, font=_font(15))
    for i, panel in enumerate(panels):
        sheet.paste(draw_panel(panel), ((i % cols) * PANEL_W, head + (i // cols) * PANEL_H))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)
    return path

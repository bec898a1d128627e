"""Small plots drawn with Pillow (no matplotlib): per-group histogram panels and a coloured scatter."""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND, INK, GRID = (255, 255, 255), (30, 30, 30), (225, 225, 225)


def palette(n: int) -> list[tuple[int, int, int]]:
    """n distinct colours: hues evenly around the circle, neighbours differing in lightness too."""
    out = []
    for i in range(n):
        r, g, b = colorsys.hls_to_rgb(i / max(n, 1), (0.35, 0.5, 0.65)[i % 3], 0.8)
        out.append((int(255 * r), int(255 * g), int(255 * b)))
    return out


def _font():
    return ImageFont.load_default()


def _range(v: np.ndarray) -> tuple[float, float]:
    """An axis range for values v: from 0 when the values are near it, never empty."""
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return lo, lo + 1.0
    return (0.0 if 0 <= lo < hi - lo else lo), hi


def _ticks(lo: float, hi: float) -> list[float]:
    return [lo + (hi - lo) * k / 4 for k in range(5)]


def _frame(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    x: tuple[float, float],
    y: tuple[float, float] | None,
    xlabel: str,
    ylabel: str,
) -> None:
    """Axes box with 5 ticks on x (and y when given) and labels."""
    x0, y0, x1, y1 = box
    font = _font()
    draw.rectangle(box, outline=INK)
    for t in _ticks(*x):
        px = x0 + (t - x[0]) / max(x[1] - x[0], 1e-12) * (x1 - x0)
        draw.line((px, y1, px, y1 + 3), fill=INK)
        draw.text((px - 12, y1 + 5), f"{t:.3g}", fill=INK, font=font)
    if y is not None:
        for t in _ticks(*y):
            py = y1 - (t - y[0]) / max(y[1] - y[0], 1e-12) * (y1 - y0)
            draw.line((x0, py, x1, py), fill=GRID)
            draw.line((x0 - 3, py, x0, py), fill=INK)
            draw.text((x0 - 34, py - 5), f"{t:.3g}", fill=INK, font=font)
    draw.text(((x0 + x1) // 2 - 3 * len(xlabel), y1 + 18), xlabel, fill=INK, font=font)
    if ylabel:
        draw.text((x0, y0 - 14), ylabel, fill=INK, font=font)


def histogram_panels(
    values: dict[str, np.ndarray], title: str, bins: int = 30, panel: tuple[int, int] = (260, 120)
) -> Image.Image:
    """One histogram per group (rows of 3 panels) on a shared x range: values {group: (n,)}."""
    groups = list(values)
    every = np.concatenate([np.asarray(v, dtype=np.float64) for v in values.values()])
    lo, hi = _range(every)
    edges = np.linspace(lo, hi, bins + 1)
    cols = 3
    rows = -(-len(groups) // cols)
    pw, ph = panel
    margin_l, margin_t, gap_x, gap_y = 20, 40, 30, 50
    img = Image.new("RGB", (margin_l + cols * (pw + gap_x), margin_t + rows * (ph + gap_y)), BACKGROUND)
    draw = ImageDraw.Draw(img)
    draw.text((margin_l, 10), title, fill=INK, font=_font())
    colours = palette(len(groups))
    for g, name in enumerate(groups):
        x0 = margin_l + (g % cols) * (pw + gap_x)
        y0 = margin_t + (g // cols) * (ph + gap_y) + 12
        box = (x0, y0, x0 + pw, y0 + ph)
        counts, _ = np.histogram(values[name], bins=edges)
        share = counts / max(counts.sum(), 1)
        top = max(float(share.max()), 1e-9)
        bw = pw / bins
        for b, s in enumerate(share):
            if s > 0:
                draw.rectangle(
                    (x0 + b * bw, y0 + ph - s / top * (ph - 4), x0 + (b + 1) * bw - 1, y0 + ph), fill=colours[g]
                )
        _frame(draw, box, (lo, hi), None, "", f"{name} (n={len(values[name])}, peak {top:.0%})")
    return img


def scatter(
    points: dict[str, tuple[np.ndarray, np.ndarray]],
    xlabel: str,
    ylabel: str,
    title: str,
    size: tuple[int, int] = (720, 520),
) -> Image.Image:
    """A scatter coloured by group, with a legend: points {group: (x (n,), y (n,))}."""
    groups = list(points)
    xs = np.concatenate([np.asarray(p[0], dtype=np.float64) for p in points.values()])
    ys = np.concatenate([np.asarray(p[1], dtype=np.float64) for p in points.values()])
    xr, yr = _range(xs), _range(ys)
    legend_w = 170
    w, h = size
    img = Image.new("RGB", (w + legend_w, h), BACKGROUND)
    draw = ImageDraw.Draw(img)
    box = (60, 40, w - 20, h - 50)
    draw.text((60, 10), title, fill=INK, font=_font())
    _frame(draw, box, xr, yr, xlabel, ylabel)
    colours = palette(len(groups))
    x0, y0, x1, y1 = box
    for g, name in enumerate(groups):
        px = x0 + (np.asarray(points[name][0]) - xr[0]) / (xr[1] - xr[0]) * (x1 - x0)
        py = y1 - (np.asarray(points[name][1]) - yr[0]) / (yr[1] - yr[0]) * (y1 - y0)
        for a, b in zip(px, py):
            draw.ellipse((a - 2, b - 2, a + 2, b + 2), fill=colours[g])
        ly = 40 + 16 * g
        draw.rectangle((w + 5, ly + 2, w + 13, ly + 10), fill=colours[g])
        draw.text((w + 18, ly), name, fill=INK, font=_font())
    return img

"""Accuracy per fold and condition as a PNG (Pillow, no matplotlib): one column per condition, a dot
per fold, the mean as a bar and ± one standard deviation as a whisker. The same picture draws paired
gains (`span` below zero, reference lines in `marks`)."""

from __future__ import annotations

import io
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from synpat.core.errors import UserError
from synpat.core.files import write_atomic

COLOURS = [(120, 120, 120), (200, 90, 40), (31, 90, 170), (150, 150, 60), (90, 150, 200), (140, 60, 160)]


def render_scores(
    conditions: Sequence[tuple[str, Sequence[float]]],
    title: str,
    chance: float | None = None,
    metric: str = "accuracy",
    span: tuple[float, float] = (0.0, 1.0),
    marks: Sequence[tuple[float, str]] = (),
) -> Image.Image:
    """conditions: (name, per-fold values in `span`) -> RGB image; bars rise from 0 (or span's low end);
    `chance` and each (value, label) of `marks` a labelled horizontal line."""
    lo, hi = span
    font, small, big = ImageFont.load_default(size=14), ImageFont.load_default(size=12), ImageFont.load_default(size=17)
    height, left, right, top, bottom = 460, 70, 30, 56, 96
    width = max(220 + 150 * len(conditions), left + int(big.getlength(title)) + right)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((left, 16), title, fill="black", font=big)
    plot_h = height - top - bottom

    def y_of(v: float) -> float:
        return top + (hi - min(hi, max(lo, v))) / (hi - lo) * plot_h

    step = 0.2 if lo >= 0 else (0.05 if hi - lo <= 0.5 else 0.1)  # gains: round steps through zero
    while (hi - lo) / step > 25:  # a wide span (a large --target): ten times longer steps, not a line per pixel
        step *= 10
    for tick in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1):
        v = tick * step
        draw.line([(left, y_of(v)), (width - right, y_of(v))], fill=(225, 225, 225))
        draw.text((left - 8, y_of(v)), f"{v:.2f}" if lo < 0 else f"{v:.1f}", fill="black", font=small, anchor="rm")
    label = Image.new("RGB", (int(font.getlength(metric)) + 4, 18), "white")
    ImageDraw.Draw(label).text((2, 1), metric, fill="black", font=font)
    rotated = label.rotate(90, expand=True)
    img.paste(rotated, (12, int(top + plot_h / 2 - rotated.height / 2)))
    for value, name in ([(chance, "chance")] if chance is not None else []) + list(marks):
        draw.line([(left, y_of(value)), (width - right, y_of(value))], fill=(200, 60, 60), width=1)
        draw.text((width - right, y_of(value) - 2), name, fill=(200, 60, 60), font=small, anchor="rb")
    step = (width - left - right) / max(len(conditions), 1)
    for i, (name, scores) in enumerate(conditions):
        x = left + step * (i + 0.5)
        colour = COLOURS[i % len(COLOURS)]
        if scores:
            mean = statistics.fmean(scores)
            std = statistics.stdev(scores) if len(scores) > 1 else 0.0
            base = y_of(max(lo, 0.0))
            draw.rectangle(
                [x - 28, min(y_of(mean), base), x + 28, max(y_of(mean), base)],
                fill=tuple(255 - (255 - c) // 4 for c in colour),
            )
            draw.line([(x, y_of(mean + std)), (x, y_of(mean - std))], fill="black", width=2)
            for end in (mean + std, mean - std):
                draw.line([(x - 10, y_of(end)), (x + 10, y_of(end))], fill="black", width=2)
            for j, s in enumerate(scores):
                dx = (j - (len(scores) - 1) / 2) * 7
                draw.ellipse([x + dx - 4, y_of(s) - 4, x + dx + 4, y_of(s) + 4], fill=colour, outline="black")
            label = f"{mean:+.3f} ± {std:.3f}" if lo < 0 else f"{mean:.3f} ± {std:.3f}"
        else:
            label = "not run"
        draw.text((x, height - bottom + 12), name, fill="black", font=font, anchor="mt")
        draw.text((x, height - bottom + 32), label, fill="black", font=small, anchor="mt")
        count = f"{len(scores)} folds" if lo >= 0 else f"{len(scores)} paired folds, {sum(v > 0 for v in scores)} > 0"
        draw.text((x, height - bottom + 50), count, fill=(90, 90, 90), font=small, anchor="mt")
    return img


def check_png_name(out: str) -> None:
    """A picture's --out (empty: none) must be named .png: the bytes written are a PNG. UserError otherwise."""
    if out and Path(out).suffix.lower() != ".png":
        raise UserError(f"--out {out}: expected a .png file name (the picture is a PNG)")


def write_png(path: str | Path, img: Image.Image) -> None:
    """Write `img` (render_scores') as a PNG, atomically."""
    buf = io.BytesIO()
    img.save(buf, "PNG")
    write_atomic(Path(path), buf.getvalue())

"""Accuracy per fold and condition as a PNG (Pillow, no matplotlib): one column per condition, a dot
per fold, the mean as a bar and ± one standard deviation as a whisker."""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from synpat.core.files import write_atomic

COLOURS = [(120, 120, 120), (200, 90, 40), (31, 90, 170), (150, 150, 60), (90, 150, 200), (140, 60, 160)]


def render_scores(
    conditions: Sequence[tuple[str, Sequence[float]]], title: str, chance: float | None = None, metric: str = "accuracy"
) -> Image.Image:
    """conditions: (name, per-fold scores in [0, 1]) -> RGB image."""
    width, height, left, right, top, bottom = 220 + 150 * len(conditions), 460, 70, 30, 56, 96
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font, small, big = ImageFont.load_default(size=14), ImageFont.load_default(size=12), ImageFont.load_default(size=17)
    draw.text((left, 16), title, fill="black", font=big)
    plot_h = height - top - bottom

    def y_of(v: float) -> float:
        return top + (1 - v) * plot_h

    for tick in range(0, 11, 2):
        v = tick / 10
        draw.line([(left, y_of(v)), (width - right, y_of(v))], fill=(225, 225, 225))
        draw.text((left - 8, y_of(v)), f"{v:.1f}", fill="black", font=small, anchor="rm")
    label = Image.new("RGB", (int(font.getlength(metric)) + 4, 18), "white")
    ImageDraw.Draw(label).text((2, 1), metric, fill="black", font=font)
    rotated = label.rotate(90, expand=True)
    img.paste(rotated, (12, int(top + plot_h / 2 - rotated.height / 2)))
    if chance is not None:
        draw.line([(left, y_of(chance)), (width - right, y_of(chance))], fill=(200, 60, 60), width=1)
        draw.text((width - right, y_of(chance) - 2), "chance", fill=(200, 60, 60), font=small, anchor="rb")
    step = (width - left - right) / max(len(conditions), 1)
    for i, (name, scores) in enumerate(conditions):
        x = left + step * (i + 0.5)
        colour = COLOURS[i % len(COLOURS)]
        if scores:
            mean = statistics.fmean(scores)
            std = statistics.stdev(scores) if len(scores) > 1 else 0.0
            draw.rectangle([x - 28, y_of(mean), x + 28, y_of(0)], fill=tuple(255 - (255 - c) // 4 for c in colour))
            draw.line([(x, y_of(min(1.0, mean + std))), (x, y_of(max(0.0, mean - std)))], fill="black", width=2)
            for end in (min(1.0, mean + std), max(0.0, mean - std)):
                draw.line([(x - 10, y_of(end)), (x + 10, y_of(end))], fill="black", width=2)
            for j, s in enumerate(scores):
                dx = (j - (len(scores) - 1) / 2) * 7
                draw.ellipse([x + dx - 4, y_of(s) - 4, x + dx + 4, y_of(s) + 4], fill=colour, outline="black")
            label = f"{mean:.3f} ± {std:.3f}"
        else:
            label = "not run"
        draw.text((x, height - bottom + 12), name, fill="black", font=font, anchor="mt")
        draw.text((x, height - bottom + 32), label, fill="black", font=small, anchor="mt")
        draw.text((x, height - bottom + 50), f"{len(scores)} folds", fill=(90, 90, 90), font=small, anchor="mt")
    return img


def write_scores_png(
    path: str | Path,
    conditions: Sequence[tuple[str, Sequence[float]]],
    title: str,
    chance: float | None = None,
    metric: str = "accuracy",
) -> None:
    buf = io.BytesIO()
    render_scores(conditions, title, chance, metric).save(buf, "PNG")
    write_atomic(Path(path), buf.getvalue())

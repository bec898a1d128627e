"""Gain against pre-training budget, paired by fold: `python -m synpat.audio.budget_plot`.

    python -m synpat.audio.budget_plot --out ladder.png --title "minus scratch against budget" \\
        --point "keywords, sounds" 1000 kw_1k_s0/results.json kw_scratch_s0/results.json \\
        --point "keywords, sounds" 1000 kw_1k_s1/results.json kw_scratch_s1/results.json \\
        --point "keywords, sounds" 3000 ... --point "pitch, sounds" 1000 ...

Each --point is one fine-tuning run of each side over the same folds at one pre-training budget (in
steps); its per-fold differences are paired as `paired_gains` pairs them, and points of one series and
budget are pooled (2 seeds x 5 folds = 10 paired folds). Prints a Markdown table (series, steps, paired
folds, mean ± sample std, how many above 0) and draws one line per series through the means on a log
budget axis, ± one std as a whisker, a faint dot per paired fold, lines at 0 (--zero) and at --target.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont
from synpat.audio.paired_gains import (
    add_picture_options,
    check_picture_options,
    pooled_differences,
    reference_marks,
)
from synpat.audio.score_plot import write_png
from synpat.core.errors import UserError
from synpat.core.settings import run_cli

Ladder = dict[str, dict[int, list[float]]]  # series -> budget in steps -> paired differences
COLOURS = [(31, 90, 170), (200, 90, 40), (60, 140, 60), (140, 60, 160), (180, 40, 60), (120, 90, 40)]


def budget_steps(text: str) -> int:
    """'1000', '3k', '10k' -> steps; UserError unless a positive whole number of steps."""
    scale = 1000 if text.lower().endswith("k") else 1
    try:
        steps = float(text[:-1] if scale > 1 else text) * scale
    except ValueError:
        steps = float("nan")
    if not (math.isfinite(steps) and steps >= 1 and steps == int(steps)):
        raise UserError(f"--point budget {text!r}: expected pre-training steps, a whole number >= 1 (e.g. 1000 or 3k)")
    return int(steps)


def ladder_table(ladder: Ladder) -> str:
    """-> Markdown table, a row per series and budget (budgets ascending)."""
    lines = ["| series | steps | paired folds | gain (mean ± std) | above 0 |", "|---|---|---|---|---|"]
    for series, rungs in ladder.items():
        for steps, diffs in sorted(rungs.items()):
            std = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
            above = sum(d > 0 for d in diffs)
            name = series.replace("|", "\\|")
            lines.append(
                f"| {name} | {steps:,} | {len(diffs)} | {statistics.fmean(diffs):+.3f} ± {std:.3f} | {above} |"
            )
    return "\n".join(lines)


def render_ladder(ladder: Ladder, title: str, marks: Sequence[tuple[float, str]], metric: str) -> Image.Image:
    """-> RGB image: x = log10(steps), y = gain; a coloured line per series through its means, whiskers of
    ± one std, the paired folds as small dots, the series named in a legend under the plot."""
    budgets = sorted({steps for rungs in ladder.values() for steps in rungs})
    values = [d for rungs in ladder.values() for diffs in rungs.values() for d in diffs] + [v for v, _ in marks]
    lo, hi = min(-0.1, math.floor((min(values) - 0.02) * 20) / 20), max(0.1, math.ceil((max(values) + 0.02) * 20) / 20)
    font, small, big = ImageFont.load_default(size=14), ImageFont.load_default(size=12), ImageFont.load_default(size=17)
    width, left, right, top, plot_h = 900, 70, 70, 56, 380
    width = max(width, left + int(big.getlength(title)) + right)
    names = [
        f"{series} ({'/'.join(str(len(d)) for _, d in sorted(rungs.items()))} paired folds)"
        for series, rungs in ladder.items()
    ]
    spots, lx, row = [], left, 0  # the legend flows left to right, a new row where an entry would overrun
    for name in names:
        entry = 34 + font.getlength(name) + 24
        if lx > left and lx + entry > width - right:
            lx, row = left, row + 1
        spots.append((lx, row))
        lx += entry
    height = top + plot_h + 50 + 22 * (row + 1) + 12
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((left, 16), title, fill="black", font=big)
    x_lo, x_hi = math.log10(budgets[0]), math.log10(budgets[-1])
    pad = 0.15 * max(x_hi - x_lo, 1.0)

    def x_of(steps: float) -> float:
        return left + (math.log10(steps) - x_lo + pad) / (x_hi - x_lo + 2 * pad) * (width - left - right)

    def y_of(v: float) -> float:
        return top + (hi - v) / (hi - lo) * plot_h

    step = 0.05 if hi - lo <= 0.6 else 0.1
    for tick in range(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1):
        draw.line([(left, y_of(tick * step)), (width - right, y_of(tick * step))], fill=(228, 228, 228))
        draw.text((left - 8, y_of(tick * step)), f"{tick * step:+.2f}", fill="black", font=small, anchor="rm")
    for steps in budgets:
        draw.line([(x_of(steps), top), (x_of(steps), top + plot_h)], fill=(240, 240, 240))
        draw.text((x_of(steps), top + plot_h + 8), f"{steps:,}", fill="black", font=font, anchor="mt")
    draw.text(
        ((left + width - right) / 2, top + plot_h + 28),
        "pre-training steps (log scale)",
        fill="black",
        font=small,
        anchor="mt",
    )
    label = Image.new("RGB", (int(font.getlength(f"{metric} gain")) + 4, 18), "white")
    ImageDraw.Draw(label).text((2, 1), f"{metric} gain", fill="black", font=font)
    rotated = label.rotate(90, expand=True)
    img.paste(rotated, (12, int(top + plot_h / 2 - rotated.height / 2)))
    for value, name in marks:
        draw.line([(left, y_of(value)), (width - right, y_of(value))], fill=(200, 60, 60))
        draw.text((width - right + 4, y_of(value)), name, fill=(200, 60, 60), font=small, anchor="lm")
    dodge = 10.0
    for i, rungs in enumerate(ladder.values()):
        colour = COLOURS[i % len(COLOURS)]
        faint = tuple(255 - (255 - c) // 2 for c in colour)
        dx = (i - (len(ladder) - 1) / 2) * dodge  # side by side, so whiskers of one budget do not overlap
        means = []
        for steps, diffs in sorted(rungs.items()):
            x, mean = x_of(steps) + dx, statistics.fmean(diffs)
            std = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
            for d in diffs:
                draw.ellipse([x - 2.5, y_of(d) - 2.5, x + 2.5, y_of(d) + 2.5], fill=faint)
            draw.line([(x, y_of(mean + std)), (x, y_of(mean - std))], fill=colour, width=2)
            for end in (mean + std, mean - std):
                draw.line([(x - 5, y_of(end)), (x + 5, y_of(end))], fill=colour, width=2)
            means.append((x, y_of(mean)))
        if len(means) > 1:
            draw.line(means, fill=colour, width=3)
        for x, y in means:
            draw.ellipse([x - 5, y - 5, x + 5, y + 5], fill=colour, outline="black")
        lx, ly = spots[i][0], top + plot_h + 50 + 22 * spots[i][1]
        draw.line([(lx, ly + 7), (lx + 26, ly + 7)], fill=colour, width=3)
        draw.ellipse([lx + 8, ly + 2, lx + 18, ly + 12], fill=colour, outline="black")
        draw.text((lx + 34, ly), names[i], fill="black", font=font)
    return img


def _main(argv: Sequence[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="budget_plot", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--point", nargs=4, action="append", metavar=("SERIES", "STEPS", "PRETRAINED", "SCRATCH"), default=[]
    )
    add_picture_options(parser, "pre-trained minus scratch against pre-training budget, paired by fold")
    args = parser.parse_args(argv)
    check_picture_options(args, args.point, "--point SERIES STEPS PRETRAINED_RESULTS SCRATCH_RESULTS")
    points = [((series, budget_steps(steps)), pre, scratch) for series, steps, pre, scratch in args.point]
    ladder: Ladder = {}
    for (series, steps), diffs in pooled_differences(points, args.metric, "--point").items():
        ladder.setdefault(series, {})[steps] = diffs
    print(ladder_table(ladder))
    if args.out:
        marks = reference_marks(args.target, args.zero)
        write_png(args.out, render_ladder(ladder, args.title, marks, args.metric))
        print(f"wrote {args.out}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("budget_plot", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

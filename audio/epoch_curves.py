"""How the kept epoch is chosen, from `synpat-finetune --epoch-curves` runs: `python -m synpat.audio.epoch_curves`.

    python -m synpat.audio.epoch_curves --out curves.png --title "pitch: test score per epoch" \\
        --pair "validation by clips" pitch_pre/results.json pitch_scratch/results.json \\
        --pair "validation by sources" pitch_gv_pre/results.json pitch_gv_scratch/results.json

Each --pair is a pre-trained and a scratch run over the same folds, both with --epoch-curves. For every
rule that picks an epoch of a round (the first epoch with the best validation score, which is what
synpat-finetune keeps; the last such epoch; the lowest validation loss; the last epoch; and, as a bound
that no protocol can reach, the best test score in hindsight) it prints each side's mean test score,
the paired differences (mean ± sample std, how many above 0) and the mean picked epoch, as a Markdown
table. The picture: each side's test score per epoch, the mean over the rounds (up to the shortest round;
the x axis runs to the longest), a panel per pair, a dot at each side's mean kept epoch and the mean test
score of the kept epochs.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from synpat.audio.score_plot import check_png_name, write_png
from synpat.core.errors import UserError
from synpat.core.settings import run_cli

Curve = list[dict]  # per epoch {epoch, val, val_loss, test}
SIDES = (("pre-trained", (200, 90, 40)), ("scratch", (110, 110, 110)))


def _best(values: Sequence[float], last: bool) -> int:
    """Index of the largest value: the first of equal ones, or the last."""
    top = max(values)
    hits = [i for i, v in enumerate(values) if v == top]
    return hits[-1] if last else hits[0]


# rule -> (picks the index of an epoch from a round's curve, needs validation clips)
RULES: dict[str, tuple[Callable[[Curve], int], bool]] = {
    "first best validation score (kept)": (lambda c: _best([e["val"] for e in c], last=False), True),
    "last best validation score": (lambda c: _best([e["val"] for e in c], last=True), True),
    "lowest validation loss": (lambda c: _best([-e["val_loss"] for e in c], last=False), True),
    "last epoch": (lambda c: len(c) - 1, False),
    "best test score in hindsight (a bound, not a protocol)": (lambda c: _best([e["test"] for e in c], False), False),
}


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def read_curves(path: Path) -> tuple[dict[str, Curve], dict]:
    """results.json of a --epoch-curves run -> ({round name: its curve}, the whole document); UserError naming
    the file otherwise."""
    try:
        doc = json.loads(path.read_text())
        rounds = doc["rounds"]
        curves = {str(r["name"]): r.get("curve") for r in rounds}
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: unreadable ({err})") from None
    except (KeyError, TypeError, AttributeError):
        raise UserError(f"{path}: expected synpat-finetune's results.json") from None
    if not curves:
        raise UserError(f"{path}: holds no rounds")
    if len(curves) != len(rounds):
        raise UserError(f"{path}: expected rounds of distinct names")
    for name, curve in curves.items():
        if not isinstance(curve, list) or not curve:
            raise UserError(f"{path}: round {name} has no curve; fine-tune with --epoch-curves")
        for entry in curve:
            keys = ("epoch", "test") + (
                ("val", "val_loss") if isinstance(entry, dict) and entry.get("val") is not None else ()
            )
            if not isinstance(entry, dict) or not all(_number(entry.get(k)) for k in keys):
                raise UserError(f"{path}: round {name}: a curve entry is not {'/'.join(keys)} numbers ({entry})")
            if not all(0 <= entry[k] <= 1 for k in keys if k in ("val", "test")):
                raise UserError(f"{path}: round {name}: a curve entry scores outside 0..1 ({entry})")
        if [e["epoch"] for e in curve] != list(range(1, len(curve) + 1)):
            raise UserError(f"{path}: round {name}: the curve's epochs are not 1, 2, ... {len(curve)} in order")
    return curves, doc


def _spec(doc: dict) -> object:
    """The dataset spec a results.json names, or None."""
    return doc["data"].get("spec") if isinstance(doc.get("data"), dict) else None


def paired_curves(pretrained: Path, scratch: Path) -> list[tuple[Curve, Curve]]:
    """[(pre-trained curve, scratch curve)] per round, in the pre-trained run's order; UserError unless both
    sides hold the same rounds of one task and mode (fine-tune or linear probe), one is not the other, and
    (where results.json names its --init) the pre-trained side has an encoder and the scratch side none."""
    if pretrained.resolve() == scratch.resolve():
        raise UserError(f"--pair: {pretrained} is both sides; give the pre-trained and the scratch run")
    (pre, pre_doc), (base, base_doc) = read_curves(pretrained), read_curves(scratch)
    if pre_doc.get("init") == "none":
        raise UserError(f"--pair: {pretrained} was trained from scratch (--init none); give the pre-trained run first")
    if base_doc.get("init", "none") != "none":
        raise UserError(
            f"--pair: {scratch} starts from {base_doc['init']}, not from scratch; give the scratch run second"
        )
    for what, (a, b) in {
        "mode": (pre_doc.get("mode"), base_doc.get("mode")),
        "data": (_spec(pre_doc), _spec(base_doc)),
    }.items():
        if a and b and a != b:
            raise UserError(
                f"--pair: {pretrained} and {scratch} differ in {what} ({a} vs {b}); pair runs of one {what}"
            )
    if pre.keys() != base.keys():
        raise UserError(f"{pretrained} and {scratch} held out different folds ({sorted(pre)} vs {sorted(base)})")
    return [(pre[name], base[name]) for name in pre]


def rule_table(pairs: dict[str, list[tuple[Curve, Curve]]]) -> str:
    """{pair label: paired curves} -> Markdown table, a row per label and rule."""
    lines = [
        "| pair | rule | pre-trained | scratch | pre-trained minus scratch | above 0 | mean epoch (pre / scratch) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, rounds in pairs.items():
        has_val = all(e.get("val") is not None for pre, base in rounds for e in pre + base)
        for rule, (pick, needs_val) in RULES.items():
            if needs_val and not has_val:
                continue
            chosen = [(pick(pre), pick(base)) for pre, base in rounds]
            pre = [c[0][i]["test"] for c, (i, _) in zip(rounds, chosen)]
            base = [c[1][j]["test"] for c, (_, j) in zip(rounds, chosen)]
            diffs = [a - b for a, b in zip(pre, base)]
            std = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
            epochs = [statistics.fmean(c[s][k[s]]["epoch"] for c, k in zip(rounds, chosen)) for s in (0, 1)]
            lines.append(
                f"| {label.replace('|', chr(92) + '|')} | {rule} | {statistics.fmean(pre):.3f} | "
                f"{statistics.fmean(base):.3f} | {statistics.fmean(diffs):+.3f} ± {std:.3f} | "
                f"{sum(d > 0 for d in diffs)} of {len(diffs)} | {epochs[0]:.0f} / {epochs[1]:.0f} |"
            )
    return "\n".join(lines)


def mean_curve(curves: Sequence[Curve], key: str) -> list[float]:
    """The mean of `key` over rounds, epoch by epoch (up to the shortest round)."""
    return [statistics.fmean(c[i][key] for c in curves) for i in range(min(len(c) for c in curves))]


def kept_epoch(curve: Curve) -> int:
    """Index of the epoch synpat-finetune kept in a round: the first best validation score, the last epoch
    in a round without validation clips."""
    if all(e.get("val") is not None for e in curve):
        return RULES["first best validation score (kept)"][0](curve)
    return len(curve) - 1


def _tick_step(epochs: int) -> int:
    """Epochs between x-axis labels: 1, 2, 5, 10, 20, 50, ... whichever gives 10 labels or fewer."""
    step = 1
    while epochs / step > 10:
        step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    return step


def render_curves(pairs: dict[str, list[tuple[Curve, Curve]]], title: str) -> Image.Image:
    """-> RGB image: a panel per pair, x = epoch (up to the longest round), y = test score, a line per side
    (the mean over the rounds, up to the shortest round), a dot per side at the mean kept epoch (first best
    validation score; the last epoch in a round without validation) and the mean test score of the kept epochs."""
    font, small, big = ImageFont.load_default(size=14), ImageFont.load_default(size=12), ImageFont.load_default(size=17)
    left, top, gap = 60, 76, 40
    panel_w, panel_h = int(max(420, *(font.getlength(label) + 10 for label in pairs))), 300
    legend = [f"{name} (dot: mean kept epoch, mean test score there)" for name, _ in SIDES]
    legend_w = sum(60 + font.getlength(text) for text in legend)
    width = int(max(left + len(pairs) * (panel_w + gap), left + big.getlength(title) + 30, left + legend_w))
    height = top + panel_h + 76
    lines = {label: [mean_curve([r[s] for r in rounds], "test") for s in (0, 1)] for label, rounds in pairs.items()}
    dots = {}  # label -> per side (mean kept index, mean test score at the kept epochs)
    for label, rounds in pairs.items():
        kept = [[(i, r[s][i]["test"]) for r in rounds for i in [kept_epoch(r[s])]] for s in (0, 1)]
        dots[label] = [(statistics.fmean(i for i, _ in k), statistics.fmean(t for _, t in k)) for k in kept]
    values = [v for sides in lines.values() for line in sides for v in line] + [
        t for sides in dots.values() for _, t in sides
    ]
    lo, hi = max(0.0, math.floor(min(values) * 10) / 10), min(1.0, math.ceil(max(values) * 10) / 10)
    hi = max(hi, lo + 0.1)
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((left, 16), title, fill="black", font=big)
    for p, (label, rounds) in enumerate(pairs.items()):
        x0 = left + p * (panel_w + gap)
        epochs = max(len(c) for pair in rounds for c in pair)

        def xy(i: float, v: float, x0: int = x0, epochs: int = epochs) -> tuple[float, float]:
            x = x0 + (i / (epochs - 1) * panel_w if epochs > 1 else panel_w / 2)
            return x, top + (hi - v) / (hi - lo) * panel_h

        for tick in range(round(lo * 20), round(hi * 20) + 1):
            y = xy(0, tick / 20)[1]
            draw.line([(x0, y), (x0 + panel_w, y)], fill=(232, 232, 232))
            if p == 0 or tick % 2 == 0:
                draw.text((x0 - 6, y), f"{tick / 20:.2f}", fill="black", font=small, anchor="rm")
        draw.rectangle([x0, top, x0 + panel_w, top + panel_h], outline=(160, 160, 160))
        step = _tick_step(epochs)
        for epoch in sorted({1, *range(step, epochs + 1, step)}):
            draw.text((xy(epoch - 1, lo)[0], top + panel_h + 6), str(epoch), fill="black", font=small, anchor="mt")
        draw.text((x0 + panel_w / 2, top + panel_h + 22), "epoch", fill="black", font=small, anchor="mt")
        draw.text((x0, top - 8), label, fill="black", font=font, anchor="lb")
        # scratch under pre-trained, wider and larger: where the two coincide both still show
        for s, (_, colour) in reversed(list(enumerate(SIDES))):
            draw.line([xy(i, v) for i, v in enumerate(lines[label][s])], fill=colour, width=2 + s)
        for s, (_, colour) in reversed(list(enumerate(SIDES))):
            x, y, r = *xy(*dots[label][s]), 5 + 2 * s
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline="black")
    lx, ly = left, top + panel_h + 48
    for s, (text, (_, colour)) in enumerate(zip(legend, SIDES)):  # the legend, under the panels, as drawn
        r = 5 + 2 * s
        draw.line([(lx, ly + 7), (lx + 24, ly + 7)], fill=colour, width=2 + s)
        draw.ellipse([lx + 12 - r, ly + 7 - r, lx + 12 + r, ly + 7 + r], fill=colour, outline="black")
        draw.text((lx + 30, ly), text, fill="black", font=font)
        lx += 30 + font.getlength(text) + 30
    label = Image.new("RGB", (int(font.getlength("test score, mean over rounds")) + 4, 18), "white")
    ImageDraw.Draw(label).text((2, 1), "test score, mean over rounds", fill="black", font=font)
    rotated = label.rotate(90, expand=True)
    img.paste(rotated, (4, int(top + panel_h / 2 - rotated.height / 2)))
    return img


def _main(argv: Sequence[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="epoch_curves", description=__doc__.split("\n")[0])
    parser.add_argument("--pair", nargs=3, action="append", metavar=("LABEL", "PRETRAINED", "SCRATCH"), default=[])
    parser.add_argument("--out", default="", help="PNG of the test curves (none when empty)")
    parser.add_argument("--title", default="test score per epoch, pre-trained and scratch")
    args = parser.parse_args(argv)
    check_png_name(args.out)
    for flag, text in [("--title", args.title)] + [("--pair", label) for label, _, _ in args.pair]:
        if not text.isprintable():  # a line break breaks the table's row and the picture's layout
            raise UserError(f"{flag} {text!r}: give it on one line, without control characters")
    if not args.pair:
        raise UserError("give at least one --pair LABEL PRETRAINED_RESULTS SCRATCH_RESULTS")
    pairs: dict[str, list[tuple[Curve, Curve]]] = {}
    for label, pretrained, scratch in args.pair:
        if label in pairs:
            raise UserError(f"--pair {label}: the label is given twice; give each pair a label of its own")
        pairs[label] = paired_curves(Path(pretrained), Path(scratch))
    print(rule_table(pairs))
    if args.out:
        write_png(args.out, render_curves(pairs, args.title))
        print(f"wrote {args.out}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("epoch_curves", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""Paired gains of pre-trained over scratch from `synpat-finetune` results, grouped by a label (a
pre-training budget, an arm): `python -m synpat.audio.paired_gains`.

    python -m synpat.audio.paired_gains --out ladder.png --title "keywords: gain vs budget" \\
        --pair 1k exp/kw/finetune/pretrained_sounds/results.json exp/kw/finetune/scratch/results.json \\
        --pair 1k seed1/pretrained/results.json seed1/scratch/results.json --pair 3k ...

Each --pair is one fine-tuning run of each side over the same folds (the same task, folds and seed):
its per-fold differences are paired by fold name. Pairs of one label are pooled (e.g. 2 seeds x 5 folds
= 10 paired folds; the same pre-trained run twice in one label is refused). Prints a Markdown table
(mean ± sample std of the paired differences, how many are above zero, each difference) and writes the
picture: a dot per paired fold, the mean and ± one std per label, lines at 0 (--zero, default scratch)
and at --target (none when 0).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from synpat.audio.score_plot import check_png_name, render_scores, write_png
from synpat.core.errors import UserError
from synpat.core.settings import run_cli

K = TypeVar("K", str, tuple[str, int])


def fold_scores(path: Path, metric: str) -> dict[str, float]:
    """results.json of synpat-finetune -> {round name: its `metric`}; UserError unless it holds at least one
    round, each named once with a finite `metric`."""
    try:
        rounds = json.loads(path.read_text())["rounds"]
        raw = [(str(r["name"]), r[metric]) for r in rounds]
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: unreadable ({err})") from None
    except (KeyError, TypeError):
        raise UserError(f"{path}: expected synpat-finetune's results.json with rounds holding {metric!r}") from None
    text = [name for name, value in raw if isinstance(value, bool) or not isinstance(value, int | float)]
    if text:  # a string or true/false where finetune writes a number
        raise UserError(f"{path}: {metric} is not a number in {', '.join(text)}: nothing to pair there")
    scores = [(name, float(value)) for name, value in raw]
    names = [name for name, _ in scores]
    if not scores or len(set(names)) != len(names):
        raise UserError(f"{path}: expected rounds of distinct names, found {names}")
    bad = [name for name, value in scores if not math.isfinite(value)]
    if bad:
        raise UserError(f"{path}: {metric} is not a number in {', '.join(bad)}: nothing to pair there")
    return dict(scores)


def task_of(path: Path) -> str | None:
    """The task (data.spec) a results.json that fold_scores read was fine-tuned on; None when it does not say."""
    data = json.loads(path.read_text()).get("data")
    return data.get("spec") if isinstance(data, dict) else None


def paired_differences(pretrained: Path, scratch: Path, metric: str) -> list[float]:
    """pretrained - scratch per fold, in the pre-trained run's fold order; UserError unless both ran the same folds."""
    pre, base = fold_scores(pretrained, metric), fold_scores(scratch, metric)
    tasks = [task_of(path) for path in (pretrained, scratch)]
    if tasks[0] != tasks[1]:
        raise UserError(f"{pretrained} and {scratch} fine-tuned on different tasks ({tasks[0]} vs {tasks[1]})")
    if pre.keys() != base.keys():
        raise UserError(f"{pretrained} and {scratch} held out different folds ({sorted(pre)} vs {sorted(base)})")
    return [pre[name] - base[name] for name in pre]


def pooled_differences(pairs: Sequence[tuple[K, str, str]], metric: str, flag: str) -> dict[K, list[float]]:
    """[(group, pretrained results, scratch results)] -> {group: paired differences, pooled in the order
    given}; a group is a label or a (series, steps). UserError (naming `flag`) for a run given twice in one
    group (its folds would count twice) or one results.json as both sides."""
    groups: dict[K, list[float]] = {}
    runs: set[tuple[K, Path]] = set()
    for group, pretrained, scratch in pairs:
        name = f"{group[0]} at {group[1]} steps" if isinstance(group, tuple) else group
        run = (group, Path(pretrained).resolve())
        if run in runs:
            raise UserError(f"{flag} {name}: {pretrained} is given twice for {name}; each pair is a run of its own")
        runs.add(run)
        diffs = paired_differences(Path(pretrained), Path(scratch), metric)
        if run[1] == Path(scratch).resolve():
            raise UserError(f"{flag} {name}: {pretrained} is both sides; give the pre-trained and the scratch run")
        groups.setdefault(group, []).extend(diffs)
    return groups


def gains_table(groups: dict[str, list[float]]) -> str:
    """{label: paired differences} -> Markdown table."""
    lines = ["| label | paired folds | gain (mean ± std) | above 0 | differences |", "|---|---|---|---|---|"]
    for label, diffs in groups.items():
        label = label.replace("|", "\\|")  # a cell of its own
        std = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
        cells = " ".join(f"{d:+.3f}" for d in diffs)
        above = sum(d > 0 for d in diffs)
        lines.append(f"| {label} | {len(diffs)} | {statistics.fmean(diffs):+.3f} ± {std:.3f} | {above} | {cells} |")
    return "\n".join(lines)


def reference_marks(target: float, zero: str) -> list[tuple[float, str]]:
    """The picture's reference lines: 0 named `zero` (what the gains are over), and the target gain
    unless it is 0 (one line, one name)."""
    return [(0.0, zero)] + ([(target, f"{target:+.2f}")] if target != 0 else [])


def add_picture_options(parser: argparse.ArgumentParser, title: str) -> None:
    """--out, --title (default `title`), --metric, --target and --zero: the options of a paired-gains picture
    (paired_gains and budget_plot)."""
    parser.add_argument("--out", default="", help="PNG of the gains (none when empty)")
    parser.add_argument("--title", default=title)
    parser.add_argument("--metric", default="accuracy", help="the rounds' metric to compare")
    parser.add_argument("--target", type=float, default=0.05, help="a reference line at this gain (0: none)")
    parser.add_argument("--zero", default="scratch", help="the name of the line at 0: what the gains are over")


def check_picture_options(args: argparse.Namespace, runs: list, usage: str) -> None:
    """UserError for an --out not named .png, no runs given (`usage`: the flag to give), a --target that is
    not finite."""
    check_png_name(args.out)
    if not runs:
        raise UserError(f"give at least one {usage}")
    if not math.isfinite(args.target):
        raise UserError(f"--target {args.target}: expected a finite gain for the reference line")


def _main(argv: Sequence[str] | None) -> None:
    parser = argparse.ArgumentParser(prog="paired_gains", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pair",
        nargs=3,
        action="append",
        metavar=("LABEL", "PRETRAINED", "SCRATCH"),
        default=[],
        help="two results.json of one task, folds and seed; the pairs of one label are pooled",
    )
    add_picture_options(parser, "pre-trained minus scratch, paired by fold")
    args = parser.parse_args(argv)
    check_picture_options(args, args.pair, "--pair LABEL PRETRAINED_RESULTS SCRATCH_RESULTS")
    groups = pooled_differences(args.pair, args.metric, "--pair")
    print(gains_table(groups))
    if args.out:
        values = [d for diffs in groups.values() for d in diffs] + [0.0, args.target]
        span = (min(-0.1, round(min(values) - 0.05, 1)), max(0.2, round(max(values) + 0.05, 1)))
        marks = reference_marks(args.target, args.zero)
        write_png(args.out, render_scores(list(groups.items()), args.title, None, f"{args.metric} gain", span, marks))
        print(f"wrote {args.out}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("paired_gains", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

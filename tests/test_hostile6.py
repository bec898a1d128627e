"""Hostile input to --val-split groups, --epoch-curves, python -m synpat.audio.epoch_curves and
synpat-experiment's check of its fine-tuning recipe: each test failed before its fix."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from audio_fixtures import curve_results
from PIL import Image
from synpat.audio.epoch_curves import main as curves_main

PRE_COLOUR, SCRATCH_COLOUR, FRAME = (200, 90, 40), (110, 110, 110), (160, 160, 160)


def rising(epochs: int, best: int | None = None) -> list[tuple[float, float, float]]:
    """A curve of `epochs` epochs whose test score rises 0.5 -> 0.7; validation best at `best` (1-based)."""
    best = best or epochs
    return [(0.9 if i + 1 == best else 0.5, 1.0, 0.5 + 0.2 * i / max(epochs - 1, 1)) for i in range(epochs)]


def draw(tmp_path: Path, *pairs: tuple[str, dict, dict]) -> np.ndarray:
    """epoch_curves' picture of `pairs` (label, pre-trained rounds, scratch rounds) as (H, W, 3) uint8."""
    args = []
    for n, (label, pre, base) in enumerate(pairs):
        args += [
            "--pair",
            label,
            curve_results(tmp_path / f"p{n}.json", pre),
            curve_results(tmp_path / f"b{n}.json", base),
        ]
    out = tmp_path / "c.png"
    assert curves_main(args + ["--out", str(out)]) == 0
    return np.asarray(Image.open(out).convert("RGB"))


def frames(img: np.ndarray) -> list[tuple[int, int]]:
    """(left, right) x of each panel's grey frame."""
    columns = np.flatnonzero((img == FRAME).all(axis=2).sum(axis=0) > 200)
    return list(zip(columns[::2].tolist(), columns[1::2].tolist()))


def dot(img: np.ndarray, colour: tuple[int, int, int]) -> tuple[float, float] | None:
    """Centre (x, y) of the 5x5 solid blocks of `colour` in the panels' rows (a dot's fill; the 2-pixel lines
    have none; the legend's dots are under the panels), or None."""
    rows = np.flatnonzero((img == FRAME).all(axis=2).sum(axis=1) > 300)
    mask = (img == colour).all(axis=2).astype(np.int64)
    mask[: rows.min() - 6] = mask[rows.max() + 7 :] = 0
    s = np.pad(mask.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    full = (s[5:, 5:] - s[:-5, 5:] - s[5:, :-5] + s[:-5, :-5]) == 25
    ys, xs = np.nonzero(full)
    return (xs.mean() + 2, ys.mean() + 2) if len(xs) else None


def test_rounds_and_sides_of_different_lengths_stay_in_their_panel(tmp_path):
    """Rounds of 5 and 20 epochs (min_steps stretches a round with fewer training clips), and a scratch
    side longer than the pre-trained one: the x axis spans the longest round, every line and dot stays
    in its panel, and the pre-trained dot sits at the mean kept epoch (5 and 20 -> 12.5 of 20)."""
    img = draw(tmp_path, ("a", {"fold1": rising(5), "fold2": rising(20)}, {"fold1": rising(20), "fold2": rising(20)}))
    ((left, right),) = frames(img)
    rows = np.flatnonzero((img == FRAME).all(axis=2).sum(axis=1) > 300)  # the frame's top and bottom
    for colour in (PRE_COLOUR, SCRATCH_COLOUR):  # the panel's rows (the legend is under them)
        panel = img[rows.min() - 6 : rows.max() + 7]
        assert np.flatnonzero((panel == colour).all(axis=2).any(axis=0)).max() <= right + 6, colour
    pre, base = dot(img, PRE_COLOUR), dot(img, SCRATCH_COLOUR)
    assert pre is not None and abs(pre[0] - (left + 11.5 / 19 * (right - left))) < 3, pre
    assert base is not None and abs(base[0] - right) < 3, base


def test_a_short_run_labels_each_epoch_and_one_epoch_sits_mid_panel(tmp_path):
    """3 epochs: the x axis names epochs 1, 2 and 3 (it named only 1); 1 epoch: the dots sit mid-panel,
    clear of the y-axis labels (they sat on the frame's corner)."""
    img = draw(tmp_path, ("a", {"fold1": rising(3)}, {"fold1": rising(3)}))
    ((left, right),) = frames(img)
    bottom = np.flatnonzero((img == FRAME).all(axis=2).sum(axis=1) > 300).max()
    band = (img[bottom + 3 : bottom + 18, left - 4 : right + 10].sum(axis=2) < 300).any(axis=0)
    runs = np.count_nonzero(band[1:] & ~band[:-1]) + band[0]
    assert runs == 3, runs
    img = draw(tmp_path, ("a", {"fold1": [(0.9, 1.0, 0.6)]}, {"fold1": [(0.9, 1.0, 0.4)]}))
    ((left, right),) = frames(img)
    for colour in (PRE_COLOUR, SCRATCH_COLOUR):
        centre = dot(img, colour)
        assert centre is not None and abs(centre[0] - (left + right) / 2) < 3, (colour, centre)


def test_a_long_pair_label_stays_over_its_own_panel(tmp_path):
    """A label wider than a panel ran over the next panel's label; the panel now widens to hold it."""
    long = "validation by whole sources, pre-trained on synthetic patterns for 1000 steps"
    img = draw(
        tmp_path, (long, {"fold1": rising(3)}, {"fold1": rising(3)}), ("b", {"fold1": rising(3)}, {"fold1": rising(3)})
    )
    (l1, r1), (l2, _) = frames(img)
    top = np.flatnonzero((img == FRAME).all(axis=2).sum(axis=1) > 300).min()
    ink = (img[top - 22 : top - 10].sum(axis=2) < 300).any(axis=0)
    assert ink[l1 : l1 + 20].any() and not ink[r1 + 1 : l2 - 1].any()


def esc50_sources(tmp_path: Path, columns: list[str], values) -> Path:
    """make_esc50's clips (4 classes x 10, 5 folds) listed with `columns` after the four ESC-50 ones;
    values(i, row) -> their cells for row i."""
    import csv

    from audio_fixtures import make_esc50

    esc = make_esc50(tmp_path / "esc", per_class=10, seed=5)
    meta = esc / "meta" / "esc50.csv"
    rows = list(csv.DictReader(meta.open()))
    with meta.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["filename", "fold", "target", "category", *columns])
        for i, row in enumerate(rows):
            writer.writerow([row["filename"], row["fold"], row["target"], row["category"], *values(i, row)])
    return esc


def test_a_blank_src_file_column_beside_a_filled_source_column(tmp_path):
    """ESC-50's listing with a src_file column left blank and synpat-audio-tasks' source column filled:
    the sources are the source column's (the blank src_file column won, and --val-split groups was refused
    with 'names no source ... the src_file or source column names each clip's source')."""
    from synpat.audio.clip_sets import load_task

    esc = esc50_sources(tmp_path, ["src_file", "source"], lambda i, row: ["", f"s{i % 7}"])
    assert [c.group for c in load_task(f"esc50:{esc}").clips] == [f"s{i % 7}" for i in range(40)]
    esc = esc50_sources(tmp_path / "b", ["src_file", "source"], lambda i, row: [f"f{i}" if i else "", f"s{i % 7}"])
    groups = [c.group for c in load_task(f"esc50:{esc}").clips]
    assert groups == [None] + [f"f{i}" for i in range(1, 40)]  # src_file names sources: it is the column read


TINY = ["--model", "vit_tiny", "--depth", "1", "--embed-dim", "64", "--num-heads", "2", "--mel-bins", "32"]
TINY += ["--frames", "64", "--epochs", "1", "--batch-size", "8", "--threads", "1"]


def test_validation_by_sources_never_takes_a_class_s_last_training_clips(tmp_path):
    """A class that sits in one source (every tone from one recording): the draw of whole sources passes over
    it, so each round still trains on every class (it held the tone source out for validation at some seeds,
    leaving the round no tone to learn and its test tones scored all the same)."""
    from synpat.audio.clip_sets import load_task
    from synpat.audio.finetune import fold_plan, make_splits, targets_of
    from synpat.audio.finetune_config import parse_config

    esc = esc50_sources(tmp_path, ["source"], lambda i, row: ["T" if row["category"] == "tone" else f"s{i % 5}"])
    task = load_task(f"esc50:{esc}")
    kept = list(range(len(task.clips)))
    y = targets_of(task, kept)
    for seed in range(4):
        for fraction in ("0.1", "0.5", "0.9"):
            cfg = parse_config(
                ["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--val-split", "groups"]
                + ["--val-fraction", fraction, "--seed", str(seed), "--folds", "5"]
            )
            splits, _ = make_splits(task, kept, y, cfg, fold_plan(task, cfg))
            for split in splits:
                assert split.val and {task.clips[r].labels[0] for r in split.train} == set(task.classes), (
                    seed,
                    fraction,
                    split.name,
                )


def test_each_source_holding_a_whole_class_is_refused_before_any_spectrogram(tmp_path, capsys):
    """Every class from one source of its own: no source can be held out without leaving a class untrained;
    refused in one line before any work (it trained a round on the classes left and scored all four)."""
    from synpat.audio.finetune import main

    esc = esc50_sources(tmp_path, ["source"], lambda i, row: [row["category"]])
    out = tmp_path / "o"
    assert main(["--data", f"esc50:{esc}", "--out", str(out), "--val-split", "groups", "--test-folds", "1"] + TINY) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "class chirp only comes from source chirp" in err, err
    assert "--val-split clips" in err and not out.exists()


def test_experiment_refuses_a_source_split_the_folds_cannot_hold_before_the_renders(tmp_path, capsys):
    """--finetune-config val_split groups on a task whose sources name a clip each but are one per class:
    synpat-experiment checked only that sources were named, rendered and pre-trained, and the fine-tuning
    stopped at the first round; it is refused in one line before anything is written."""
    from audio_fixtures import toy_sound_experiment
    from synpat.audio.experiment import main as experiment

    esc = esc50_sources(tmp_path, ["source"], lambda i, row: [row["category"]])
    (tmp_path / "finetune.json").write_text(json.dumps({"val_split": "groups"}))
    args = [
        "--data",
        f"esc50:{esc}",
        "--out",
        str(tmp_path / "o"),
        "--finetune-config",
        str(tmp_path / "finetune.json"),
    ]
    assert experiment(args + toy_sound_experiment(8, 1)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "class chirp only comes from source chirp" in err, err
    assert not (tmp_path / "o").exists()


def test_a_pair_given_the_wrong_way_round_or_of_two_modes_is_refused(tmp_path, capsys):
    """The picture and table call the first run 'pre-trained' and the second 'scratch': a pair given swapped
    (the scratch run first), a linear probe paired with a fine-tune, or runs on two tasks were tabulated
    and drawn under those names; now one line each."""
    rounds = {"fold1": rising(3)}
    pre = dict(init="enc.safetensors", mode="fine-tune")
    base = dict(init="none", mode="fine-tune")
    cases = {
        "swapped": (base, pre, "was trained from scratch (--init none); give the pre-trained run first"),
        "both pre-trained": (pre, pre, "starts from enc.safetensors, not from scratch"),
        "probe vs fine-tune": (
            {**pre, "mode": "linear probe"},
            base,
            "differ in mode (linear probe vs fine-tune); pair runs of one mode",
        ),
        "two tasks": (
            pre,
            {**base, "data": {"spec": "esc50:other"}},
            "differ in data (esc50:tasks/pitch vs esc50:other)",
        ),
    }
    for case, (a, b, message) in cases.items():
        args = [
            "--pair",
            "x",
            curve_results(tmp_path / "a.json", rounds, **a),
            curve_results(tmp_path / "b.json", rounds, **b),
        ]
        assert curves_main(args + ["--out", str(tmp_path / "c.png")]) == 2, case
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (case, err)
        assert not (tmp_path / "c.png").exists()
    args = [
        "--pair",
        "x",
        curve_results(tmp_path / "a.json", rounds, **pre),
        curve_results(tmp_path / "b.json", rounds, **base),
    ]
    assert curves_main(args) == 0


def test_a_curve_with_scores_outside_0_1_or_epochs_out_of_order_is_refused(tmp_path, capsys):
    """A hand-edited or corrupt curve: a test score of 5 was drawn far outside the panel (its y axis stops
    at 1) and tabulated; epochs 3, 1 were tabulated as picked epochs 3 and 1 while drawn as 1 and 2."""
    good = curve_results(tmp_path / "b.json", {"fold1": rising(2)})
    for rounds, message in (
        ({"fold1": [(0.5, 1.0, 0.5), (0.5, 1.0, 5.0)]}, "a curve entry scores outside 0..1"),
        ({"fold1": [(1.5, 1.0, 0.5), (0.5, 1.0, 0.5)]}, "a curve entry scores outside 0..1"),
    ):
        args = ["--pair", "x", curve_results(tmp_path / "a.json", rounds), good, "--out", str(tmp_path / "c.png")]
        assert curves_main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    doc = json.loads(Path(good).read_text())
    doc["rounds"][0]["curve"][0]["epoch"] = 3
    (tmp_path / "a.json").write_text(json.dumps(doc))
    assert curves_main(["--pair", "x", str(tmp_path / "a.json"), good, "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "round fold1: the curve's epochs are not 1, 2, ... 2 in order" in err, err
    assert not (tmp_path / "c.png").exists()


def test_a_results_file_with_no_rounds_says_so(tmp_path, capsys):
    """{"rounds": []} was refused as 'expected rounds of distinct names'."""
    (tmp_path / "a.json").write_text(json.dumps({"rounds": []}))
    good = curve_results(tmp_path / "b.json", {"fold1": rising(2)})
    assert curves_main(["--pair", "x", str(tmp_path / "a.json"), good]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a.json: holds no rounds" in err, err


def test_editing_the_sources_changes_the_data_key_of_the_stages(tmp_path):
    """synpat-experiment reuses a fine-tune stage whose inputs are unchanged: the data key left the sources
    out, so a corrected source column re-used the scores drawn by the old sources under --val-split groups."""
    from synpat.audio.clip_sets import load_task
    from synpat.audio.stage_reuse import task_fingerprint

    esc = esc50_sources(tmp_path, ["source"], lambda i, row: [f"s{i % 3}"])
    before = task_fingerprint(load_task(f"esc50:{esc}"))
    meta = esc / "meta" / "esc50.csv"
    meta.write_text(meta.read_text().replace(",s2\n", ",s1\n"))
    assert task_fingerprint(load_task(f"esc50:{esc}")) != before


def test_the_kept_dot_follows_each_round_s_own_validation(tmp_path):
    """One round with validation clips (kept epoch 1 of 5), one without (kept: the last, 5): synpat-finetune
    kept epochs 1 and 5, mean 3; the dot sat at epoch 5, as if neither round had validation clips."""
    with_val = [(0.9, 1.0, 0.55)] + [(0.5, 1.0, 0.55)] * 4
    without = [(None, None, 0.55)] * 5
    rounds = {"fold1": with_val, "fold2": without}
    img = draw(tmp_path, ("a", rounds, {"fold1": [(v, loss, 0.42) for v, loss, _ in with_val], "fold2": without}))
    ((left, right),) = frames(img)
    for colour in (PRE_COLOUR, SCRATCH_COLOUR):
        centre = dot(img, colour)
        assert centre is not None and abs(centre[0] - (left + right) / 2) < 3, (colour, centre)


def test_a_label_or_title_across_lines_is_refused(tmp_path, capsys):
    """A --pair label with a line break crashed the picture (PIL: 'anchor not supported for multiline text')
    after splitting the table's row; a --title across lines ran into the first panel's label."""
    pre, base = (
        curve_results(tmp_path / "a.json", {"fold1": rising(3)}),
        curve_results(tmp_path / "b.json", {"fold1": rising(3)}),
    )
    for args, message in (
        (["--pair", "two\nlines", pre, base], "--pair 'two\\nlines': give it on one line"),
        (["--pair", "x", pre, base, "--title", "two\nlines"], "--title 'two\\nlines': give it on one line"),
    ):
        assert curves_main(args + ["--out", str(tmp_path / "c.png")]) == 2
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and message in err and not out, err
        assert not (tmp_path / "c.png").exists()


def test_where_the_two_sides_coincide_both_still_show(tmp_path):
    """Equal test curves and kept epochs (a small task where both sides score the same): the scratch line and
    dot were drawn over the pre-trained ones, which vanished from the panel as if missing."""
    same = {"fold1": [(0.9, 1.0, 0.45), (0.5, 1.0, 0.55), (0.5, 1.0, 0.5)]}
    img = draw(tmp_path, ("a", same, same))
    ((left, right),) = frames(img)
    rows = np.flatnonzero((img == FRAME).all(axis=2).sum(axis=1) > 300)
    panel = img[rows.min() + 2 : rows.max() - 1, left + 2 : right - 1]
    for colour in (PRE_COLOUR, SCRATCH_COLOUR):
        columns = np.flatnonzero((panel == colour).all(axis=2).any(axis=0))
        assert len(columns) > 0.9 * panel.shape[1], (colour, len(columns))  # along the whole line
    dot_area = img[:, left - 10 : left + 10][rows.min() : rows.max()]
    assert (dot_area == PRE_COLOUR).all(axis=2).sum() >= 50 and (dot_area == SCRATCH_COLOUR).all(axis=2).any()

"""python -m synpat.audio.paired_gains: per-fold differences of two synpat-finetune results, pooled by label."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from audio_fixtures import finetune_results as results
from PIL import Image
from synpat.audio.paired_gains import main, reference_marks


def test_pairs_by_fold_and_pools_a_label(tmp_path, capsys):
    pre0 = results(tmp_path / "p0.json", {"fold1": 0.75, "fold2": 0.5})
    base0 = results(tmp_path / "s0.json", {"fold2": 0.625, "fold1": 0.5})  # paired by name, not by order
    pre1 = results(tmp_path / "p1.json", {"fold1": 0.5, "fold2": 0.5})
    base1 = results(tmp_path / "s1.json", {"fold1": 0.25, "fold2": 0.25})
    png = tmp_path / "gains.png"
    argv = ["--out", str(png), "--pair", "1k", pre0, base0, "--pair", "1k", pre1, base1, "--pair", "3k", pre1, base1]
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2] == "| 1k | 4 | +0.156 ± 0.188 | 3 | +0.250 -0.125 +0.250 +0.250 |"
    assert table[3] == "| 3k | 2 | +0.250 ± 0.000 | 2 | +0.250 +0.250 |"
    picture = Image.open(png)
    assert picture.size[0] >= 220 + 150 * 2 and picture.size[1] == 460


def test_other_folds_are_one_line(tmp_path):
    pre = results(tmp_path / "p.json", {"fold1": 0.5})
    base = results(tmp_path / "s.json", {"fold2": 0.5})
    (tmp_path / "bad.json").write_text("{}")
    for pair, message in (
        ([pre, base], "held out different folds"),
        ([pre, results(tmp_path / "pitch.json", {"fold1": 0.5}, "esc50:tasks/pitch")], "on different tasks"),
        ([pre, str(tmp_path / "bad.json")], "expected synpat-finetune's results.json"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "synpat.audio.paired_gains", "--pair", "x", *pair], capture_output=True, text=True
        )
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [[]])
def test_no_pair_is_refused(argv, capsys):
    assert main(argv) == 2
    assert "give at least one --pair" in capsys.readouterr().err


def test_results_that_cannot_be_paired_are_one_line(tmp_path, capsys):
    """No rounds, a round named twice, a score that is NaN (json writes it), a --target that is not finite:
    each one clear line (they were tracebacks from statistics/the plot, or a 'different folds' that was not)."""
    good = results(tmp_path / "good.json", {"fold1": 0.5, "fold2": 0.5})
    empty = results(tmp_path / "empty.json", {})
    nan = results(tmp_path / "nan.json", {"fold1": float("nan"), "fold2": 0.5})
    twice = tmp_path / "twice.json"
    twice.write_text(json.dumps({"rounds": [{"name": "fold1", "accuracy": 0.5}, {"name": "fold1", "accuracy": 0.9}]}))
    cases = (
        (["--pair", "x", empty, empty], "empty.json: expected rounds of distinct names, found []"),
        (["--pair", "x", str(twice), good], "twice.json: expected rounds of distinct names, found ['fold1', 'fold1']"),
        (["--pair", "x", nan, good, "--out", str(tmp_path / "g.png")], "nan.json: accuracy is not a number in fold1"),
        (
            ["--pair", "x", good, good, "--out", str(tmp_path / "g.png"), "--target", "inf"],
            "--target inf: expected a finite",
        ),
    )
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "g.png").exists()


def test_a_label_with_a_bar_stays_one_cell(tmp_path, capsys):
    pre, base = results(tmp_path / "p.json", {"fold1": 0.75}), results(tmp_path / "s.json", {"fold1": 0.5})
    assert main(["--pair", "sounds | 128x2", pre, base, "--pair", "with spaces", pre, base]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[2] == "| sounds \\| 128x2 | 1 | +0.250 ± 0.000 | 1 | +0.250 |"
    assert rows[3].startswith("| with spaces | 1 |") and rows[2].replace("\\|", "").count("|") == 6


def test_reference_lines_name_zero_and_skip_a_zero_target():
    assert reference_marks(0.05, "scratch") == [(0.0, "scratch"), (0.05, "+0.05")]
    assert reference_marks(0.0, "random encoder") == [(0.0, "random encoder")]  # not two labels on one line

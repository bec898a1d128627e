"""python -m synpat.audio.paired_gains: per-fold differences of two synpat-finetune results, pooled by label."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from synpat.audio.paired_gains import main


def results(path: Path, scores: dict[str, float]) -> str:
    """A results.json as synpat-finetune writes its rounds (name, accuracy, ...)."""
    rounds = [{"name": name, "accuracy": value, "train": 10, "test": 5} for name, value in scores.items()]
    path.write_text(json.dumps({"rounds": rounds, "mean": {}, "std": {}}))
    return str(path)


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

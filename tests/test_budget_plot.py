"""python -m synpat.audio.budget_plot: paired gains pooled per series and budget, drawn against log budget."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from audio_fixtures import finetune_results as results
from PIL import Image
from synpat.audio.budget_plot import COLOURS, budget_steps, main


def test_pools_seeds_per_series_and_budget(tmp_path, capsys):
    pre0 = results(tmp_path / "p0.json", {"fold1": 0.75, "fold2": 0.5})
    base0 = results(tmp_path / "s0.json", {"fold2": 0.625, "fold1": 0.5})
    pre1 = results(tmp_path / "p1.json", {"fold1": 0.5, "fold2": 0.5})
    base1 = results(tmp_path / "s1.json", {"fold1": 0.25, "fold2": 0.25})
    pitch = results(tmp_path / "q.json", {"fold1": 0.5, "fold2": 0.5}, "esc50:tasks/pitch")
    pitch_base = results(tmp_path / "qs.json", {"fold1": 0.625, "fold2": 0.5}, "esc50:tasks/pitch")
    png = tmp_path / "ladder.png"
    argv = ["--out", str(png), "--point", "kw", "3k", pre1, base1, "--point", "kw", "1000", pre0, base0]
    argv += ["--point", "kw", "1k", pre1, base1, "--point", "pitch", "1k", pitch, pitch_base]
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2:] == [
        "| kw | 1,000 | 4 | +0.156 ± 0.188 | 3 |",  # '1000' and '1k' are one budget, listed before 3k
        "| kw | 3,000 | 2 | +0.250 ± 0.000 | 2 |",
        "| pitch | 1,000 | 2 | -0.062 ± 0.088 | 0 |",
    ]
    pixels = np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)
    for colour in COLOURS[:2]:  # each series drawn in its own colour
        assert (pixels == colour).all(axis=1).sum() > 50


@pytest.mark.parametrize("text, steps", [("1000", 1000), ("3k", 3000), ("10K", 10000), ("2.5k", 2500)])
def test_budget_steps(text, steps):
    assert budget_steps(text) == steps


@pytest.mark.parametrize("text", ["0", "-1", "1.5", "many", "nank", "infk", ""])
def test_bad_budgets_are_one_line(tmp_path, text):
    pre, base = results(tmp_path / "p.json", {"fold1": 0.5}), results(tmp_path / "s.json", {"fold1": 0.5})
    done = subprocess.run(
        [sys.executable, "-m", "synpat.audio.budget_plot", "--point", "kw", text, pre, base],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--point budget" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_no_point_is_refused(capsys):
    assert main([]) == 2
    assert "give at least one --point" in capsys.readouterr().err


def test_a_run_twice_at_one_budget_is_refused(tmp_path, capsys):
    """'1000' and '1k' are one budget: the same run under both would count its folds twice."""
    pre, base = results(tmp_path / "p.json", {"fold1": 0.5}), results(tmp_path / "s.json", {"fold1": 0.25})
    assert main(["--point", "kw", "1000", pre, base, "--point", "kw", "1k", pre, base]) == 2
    assert "--point kw at 1000 steps: " in capsys.readouterr().err
    assert main(["--point", "kw", "1k", pre, pre]) == 2
    assert "is both sides" in capsys.readouterr().err
    assert main(["--point", "kw", "1k", pre, base, "--point", "kw", "3k", pre, base]) == 0  # other budgets: fine


def test_text_scores_and_other_picture_names_are_one_line(tmp_path, capsys):
    """'0.7' or true where finetune writes a number (float() took them), and --out x.jpg (a PNG was written
    under that name): each refused in one line, by paired_gains and budget_plot alike."""
    from synpat.audio import paired_gains

    base = results(tmp_path / "s.json", {"fold1": 0.5})
    for bad in ("0.7", True):
        pre = tmp_path / "p.json"
        pre.write_text(
            json.dumps({"data": {"spec": "esc50:tasks/keywords"}, "rounds": [{"name": "fold1", "accuracy": bad}]})
        )
        assert main(["--point", "kw", "1k", str(pre), base]) == 2
        assert "accuracy is not a number in fold1" in capsys.readouterr().err
    good = results(tmp_path / "g.json", {"fold1": 0.75})
    assert main(["--out", str(tmp_path / "x.jpg"), "--point", "kw", "1k", good, base]) == 2
    assert paired_gains.main(["--out", str(tmp_path / "x.jpg"), "--pair", "kw", good, base]) == 2
    assert capsys.readouterr().err.count("expected a .png file name") == 2
    assert not (tmp_path / "x.jpg").exists()

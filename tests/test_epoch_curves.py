"""python -m synpat.audio.epoch_curves: the epoch each rule picks, the paired table, the picture, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from audio_fixtures import curve_results
from PIL import Image
from synpat.audio.epoch_curves import RULES, main

# epochs 1-5: validation ties at epochs 2 and 4, its loss lowest at 3, test best at 4
PRE = [(0.5, 1.0, 0.50), (0.8, 0.6, 0.60), (0.7, 0.4, 0.70), (0.8, 0.5, 0.80), (0.6, 0.7, 0.75)]
BASE = [(0.4, 1.2, 0.40), (0.6, 0.9, 0.55), (0.7, 0.8, 0.60), (0.6, 0.7, 0.65), (0.7, 0.6, 0.70)]


def test_each_rule_picks_its_epoch():
    c = [{"epoch": i + 1, "val": v, "val_loss": loss, "test": t} for i, (v, loss, t) in enumerate(PRE)]
    picks = {rule: pick(c) + 1 for rule, (pick, _) in RULES.items()}
    assert list(picks.values()) == [2, 4, 3, 5, 4]  # first best val, last best val, lowest loss, last, test bound


def test_table_and_picture(tmp_path, capsys):
    pre = curve_results(tmp_path / "pre.json", {"fold1": PRE, "fold2": PRE})
    base = curve_results(tmp_path / "base.json", {"fold1": BASE, "fold2": BASE})
    out = tmp_path / "curves.png"
    assert main(["--pair", "by clips", pre, base, "--out", str(out)]) == 0
    table = capsys.readouterr().out
    rows = {line.split(" | ")[1]: line for line in table.splitlines()[2:]}
    # kept: pre epoch 2 (0.60), scratch its first best val, epoch 3 (0.60): level
    assert "| 0.600 | 0.600 | +0.000 ± 0.000 | 0 of 2 | 2 / 3 |" in rows["first best validation score (kept)"]
    assert "| 0.800 | 0.700 | +0.100 ± 0.000 | 2 of 2 | 4 / 5 |" in rows["last best validation score"]
    assert "| 0.700 | 0.700 | +0.000 ± 0.000 | 0 of 2 | 3 / 5 |" in rows["lowest validation loss"]
    assert "| 0.750 | 0.700 | +0.050 ± 0.000 | 2 of 2 | 5 / 5 |" in rows["last epoch"]
    assert (
        "| 0.800 | 0.700 | +0.100 ± 0.000 | 2 of 2 | 4 / 5 |"
        in rows["best test score in hindsight (a bound, not a protocol)"]
    )
    img = Image.open(out)
    assert img.format == "PNG" and img.width >= 480 and img.height > 300
    pixels = {tuple(p) for p in np.asarray(img.convert("RGB")).reshape(-1, 3).tolist()}
    assert (200, 90, 40) in pixels and (110, 110, 110) in pixels  # both sides drawn


def test_runs_without_validation_leave_the_validation_rules_out(tmp_path, capsys):
    blind = [(None, None, t) for _, _, t in PRE]
    pre = curve_results(tmp_path / "pre.json", {"fold1": blind})
    base = curve_results(tmp_path / "base.json", {"fold1": [(None, None, t) for _, _, t in BASE]})
    assert main(["--pair", "x", pre, base, "--out", str(tmp_path / "c.png")]) == 0
    rules = [line.split(" | ")[1] for line in capsys.readouterr().out.splitlines()[2:]]
    assert rules == ["last epoch", "best test score in hindsight (a bound, not a protocol)"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("no curve", "round fold1 has no curve; fine-tune with --epoch-curves"),
        ("both sides", "is both sides"),
        ("other folds", "held out different folds"),
        ("text", "a curve entry is not epoch/test/val/val_loss numbers"),
        ("twice", "the label is given twice"),
        ("jpg", "expected a .png file name"),
        ("missing", "unreadable"),
        ("none", "give at least one --pair"),
    ],
)
def test_bad_input_is_one_line(case, message, tmp_path, capsys):
    pre = curve_results(tmp_path / "pre.json", {"fold1": PRE})
    base = curve_results(tmp_path / "base.json", {"fold1": BASE})
    args = ["--pair", "a", pre, base]
    if case == "no curve":
        (tmp_path / "plain.json").write_text(json.dumps({"rounds": [{"name": "fold1", "accuracy": 0.5}]}))
        args = ["--pair", "a", pre, str(tmp_path / "plain.json")]
    elif case == "both sides":
        args = ["--pair", "a", pre, pre]
    elif case == "other folds":
        args = ["--pair", "a", pre, curve_results(tmp_path / "b2.json", {"fold2": BASE})]
    elif case == "text":
        args = ["--pair", "a", pre, curve_results(tmp_path / "b3.json", {"fold1": [("high", 0.1, 0.5)]})]
    elif case == "twice":
        args += ["--pair", "a", pre, base]
    elif case == "jpg":
        args += ["--out", str(tmp_path / "c.jpg")]
    elif case == "missing":
        args = ["--pair", "a", pre, str(tmp_path / "nothing.json")]
    elif case == "none":
        args = []
    assert main(args + (["--out", str(tmp_path / "c.png")] if case != "jpg" else [])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "c.png").exists()

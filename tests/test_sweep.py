"""synpat-experiment --sweep: set names, their programs, the table, and one toy sweep end to end."""

from __future__ import annotations

import json

import pytest
from audio_fixtures import make_esc50
from synpat.audio.experiment import main
from synpat.audio.sweep import parse_sets, pearson, set_sources, slug, sweep_table
from synpat.core.errors import UserError
from synpat.gen.programs import bundled_shaders_dir, find_programs


def test_set_names_and_sources():
    assert parse_sets(" family:dead_leaves, procedural:4 ,") == ["family:dead_leaves", "procedural:4"]
    for bad in ("", " , ", "tv:low,tv:low"):
        with pytest.raises(UserError, match="sweep="):
            parse_sets(bad)
    assert slug("family:dead_leaves") == "family-dead_leaves" and slug("/a/b c") == "a-b-c"
    files = set_sources("family:dead_leaves", 0, 32, {})
    family = [p for p in find_programs([str(bundled_shaders_dir())]) if p.family == "dead_leaves"]
    assert sorted(files) == sorted(p.path for p in family) and len(files) >= 2
    assert set_sources("procedural:3", 0, 32, {}) == ["procedural:3"]
    assert set_sources("bundled", 0, 32, {}) == [str(bundled_shaders_dir())]
    bands = {"low": ["a.glsl"], "high": ["b.glsl"]}
    assert set_sources("tv:high", 0, 32, bands) == ["b.glsl"]
    with pytest.raises(UserError, match="no bundled program has family 'nope'"):
        set_sources("family:nope", 0, 32, {})
    with pytest.raises(UserError, match="tv:low or tv:high"):
        set_sources("tv:mid", 0, 32, bands)
    with pytest.raises(UserError, match="not bundled"):
        set_sources("no/such/folder", 0, 32, {})


def test_pearson():
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2], [1, 2]) is None and pearson([1, 1, 1], [1, 2, 3]) is None


def test_table_lists_each_set_and_the_correlation():
    row = lambda name, tv, score: {
        "set": name,
        "programs": 2,
        "score": score,
        "gain": score - 0.5,
        "folds_better": 1,
        "per_fold": [score, score],
        "probe": None,
        "stats": {"total_variation": tv, "brightness_entropy": 3.0, "edge_density": 0.1},
    }
    doc = {
        "metric": "accuracy",
        "sets": [row("tv:low", 0.02, 0.7), row("tv:high", 0.09, 0.6)],
        "scratch": 0.5,
        "probe_scratch": None,
        "baseline": 0.55,
        "tv_correlation": {"score": None, "probe": None},
    }
    text = sweep_table(doc)
    assert "| tv:low | 2 | 0.020 | 3.00 | 0.100 | 0.700 | +0.200 (1 of 2 folds) |" in text
    assert "| (log-mel + LR) | | | | | 0.550 | |" in text and "n/a (fewer than 3 sets)" in text


def test_toy_sweep_end_to_end(tmp_path, capsys):
    esc = make_esc50(tmp_path / "esc", per_class=8, seed=2)
    out = tmp_path / "sweep"
    toy = [
        "--images",
        "200",
        "--img-size",
        "32",
        "--pretrain-steps",
        "0",
        "--pretrain-minutes",
        "0.03",
        "--pretrain-batch",
        "16",
        "--finetune-epochs",
        "1",
        "--finetune-min-steps",
        "0",
        "--finetune-batch",
        "16",
        "--mel-bins",
        "32",
        "--threads",
        "1",
        "--test-folds",
        "1,2",
        "--set",
        "pretrain_blr=0.001",
    ]
    assert main(["--data", f"esc50:{esc}", "--out", str(out), "--sweep", "family:dead_leaves,procedural:3"] + toy) == 0
    said = capsys.readouterr().out
    assert "sweep of 2 sets, each 200 images 32px and mae_vit_tiny_patch16 pre-trained for 0.03 minutes" in said
    assert "fine-tune 1 epochs x 2 test fold(s) x 3 conditions (batch 16" in said
    assert "scratch and the log-mel baseline once" in said
    calibration = json.loads((out / "calibration.json").read_text())  # timed once, for every set
    assert f"0.03 minutes of pre-training = {calibration['steps']} steps for every set" in said
    assert not list(out.glob("sets/*/calibration.json"))
    for name in ("family-dead_leaves", "procedural-3"):  # the same budget for every set
        assert (
            json.loads((out / "sets" / name / "pretrain" / "encoder.json").read_text())["steps"] == calibration["steps"]
        )
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["pretrain_steps"] == calibration["steps"]
    assert [r["set"] for r in doc["sets"]] == ["family:dead_leaves", "procedural:3"]
    for r in doc["sets"]:
        assert r["programs"] >= 2 and 0 < r["stats"]["total_variation"] < 1 and len(r["per_fold"]) == 2
        assert r["gain"] == pytest.approx(r["score"] - doc["scratch"])
    base = json.loads((out / "baseline.json").read_text())["per_fold"]
    assert doc["baseline"] == pytest.approx((base[0] + base[1]) / 2)  # the tested folds', not all five
    assert (out / "sets" / "family-dead_leaves" / "pretrain" / "encoder.safetensors").is_file()
    assert "| family:dead_leaves |" in (out / "sweep.md").read_text()


@pytest.mark.parametrize(
    "flag, said",
    [
        (["--shaders", "bundled:x"], "--shaders bundled:x: a sweep renders each set's own programs; leave"),
        (["--sound-data", "clips"], "--sound-data clips: a sweep pre-trains every set on its images"),
    ],
)
def test_sweep_refuses_inputs_it_would_not_read(tmp_path, capsys, flag, said):
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=1)
    out = tmp_path / "sweep"
    argv = ["--data", f"esc50:{esc}", "--out", str(out), "--sweep", "family:dead_leaves"] + flag
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert said in err and len(err.strip().splitlines()) == 1 and not out.exists()

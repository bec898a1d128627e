"""Hostile checks of synpat-experiment's sounds default: an experiment.json of before the change re-runs
with a message that says what changed (and an images-only one is not held by the sound settings it never
read); --sound-seconds too short for the sound MAE is refused before anything is rendered."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from audio_fixtures import make_esc50, toy_sound_experiment
from synpat.audio.experiment import ExperimentConfig, main

TOY = toy_sound_experiment(32, 2)


@pytest.fixture(scope="module")
def esc(tmp_path_factory):
    return make_esc50(tmp_path_factory.mktemp("h3") / "esc", per_class=2, seed=3)


def old_experiment(out, esc, **before) -> list[str]:
    """OUT/experiment.json as the experiment of before wrote it (no sound_seconds; images by default) ->
    the argv that made it, less the arm settings."""
    argv = ["--data", f"esc50:{esc}", "--out", str(out)] + TOY
    settings = asdict(ExperimentConfig(data=f"esc50:{esc}", out=str(out), clips=32, pretrain_steps=2))
    settings.update(pretrain_batch=8, finetune_epochs=1, finetune_min_steps=0, mel_bins=32, threads=1, test_folds="1")
    settings.update({"pretrain_on": "images", "sound_shaders": "", "sound_patch": "", **before})
    del settings["sound_seconds"], settings["sound_mask_block"]
    out.mkdir()
    (out / "experiment.json").write_text(json.dumps(settings))
    return argv


def test_an_old_default_experiment_is_refused_naming_what_changed(tmp_path, esc, capsys):
    argv = old_experiment(tmp_path / "old", esc)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "pretrain_on 'images' -> 'sounds'" in err and "sound_patch '' -> 'tokens'" in err
    assert "sound_mask_block 1 -> 8" in err  # it masked each patch on its own


def test_an_images_only_experiment_is_not_held_by_the_sound_settings(tmp_path, esc, capsys):
    argv = old_experiment(tmp_path / "old", esc, seed=5)
    assert main(argv + ["--pretrain-on", "images"]) == 2  # only its seed differs: the sound ones are not read
    err = capsys.readouterr().err
    assert "other settings (seed 5 -> 0):" in err, err


def test_an_old_sounds_experiment_had_no_cap(tmp_path, esc, capsys):
    argv = old_experiment(tmp_path / "old", esc, pretrain_on="sounds", sound_shaders="procedural-sound:4")
    assert main(argv + ["--sound-patch", "", "--sound-mask-block", "1"]) == 2  # its clips were the task's length
    assert "other settings (sound_seconds 0.0 -> 1.0):" in capsys.readouterr().err


@pytest.mark.parametrize(
    "seconds,said",
    [
        ("0.01", "sound clips of 2 frames (0.035 s) are the shortest the 32x2 patches tile"),
        ("0.05", "sound clips of 2 frames (the task's input has "),
    ],
)
def test_too_short_sound_clips_are_refused_before_rendering(tmp_path, esc, capsys, seconds, said):
    out = tmp_path / "short"
    assert main(["--data", f"esc50:{esc}", "--out", str(out), *TOY, "--sound-seconds", seconds]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"bad config value sound_seconds={seconds}: {said}" in err, err
    assert not out.exists()

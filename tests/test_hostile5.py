"""Defects found by trying the sweep's one timing, calibration.json, paired_gains and the sound clip flags as a
hostile user would: each test failed before its fix."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, fields, replace
from pathlib import Path

import pytest
from audio_fixtures import make_esc50, toy_sound_experiment
from PIL import Image
from synpat.audio import experiment as exp
from synpat.audio.clip_sets import load_task
from synpat.audio.experiment import main
from synpat.audio.finetune import typical_clip
from synpat.audio.paired_gains import main as paired_gains
from synpat.audio.sweep import parse_sets, set_sources
from synpat.core.errors import UserError
from synpat.gen.programs import bundled_shaders_dir
from test_calibration import cfg_of, timed
from test_paired_gains import results


def test_a_large_target_draws_a_few_round_ticks_in_time(tmp_path):
    """--target 1000 drew 10,000 tick labels over each other (2 s) and --target 1e5 never finished: the ticks
    stepped by 0.1 whatever the span."""
    pre = results(tmp_path / "p.json", {"fold1": 0.75, "fold2": 0.5})
    base = results(tmp_path / "s.json", {"fold1": 0.5, "fold2": 0.5})
    png = tmp_path / "g.png"
    argv = ["--pair", "x", pre, base, "--target", "100000", "--out", str(png)]
    done = subprocess.run([sys.executable, "-m", "synpat.audio.paired_gains", *argv], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    img = Image.open(png).convert("RGB")
    # the grid lines are light grey rows across the plot: a handful, not one per pixel row
    grid = [y for y in range(img.height) if img.getpixel((img.width // 2 + 60, y)) == (225, 225, 225)]
    assert 2 <= len(grid) <= 30, len(grid)


def test_the_same_run_twice_in_a_label_is_refused(tmp_path, capsys):
    """--pair 1k A B --pair 1k A B pooled the same folds twice (4 'paired folds' from 2, a smaller std) in silence."""
    pre = results(tmp_path / "p.json", {"fold1": 0.75, "fold2": 0.5})
    base = results(tmp_path / "s.json", {"fold1": 0.5, "fold2": 0.5})
    assert paired_gains(["--pair", "1k", pre, base, "--pair", "1k", str(tmp_path / "." / "p.json"), base]) == 2
    err = capsys.readouterr().err
    assert "--pair 1k" in err and "p.json" in err and "twice" in err and len(err.strip().splitlines()) == 1
    # one run in two labels (as the docs' ladders do with a shared scratch) is still fine
    assert paired_gains(["--pair", "1k", pre, base, "--pair", "3k", pre, base]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[2] == "| 1k | 2 | +0.125 ± 0.177 | 1 | +0.250 +0.000 |" and table[3].startswith("| 3k | 2 |")


def test_results_whose_data_is_not_a_mapping_are_one_line(tmp_path):
    """A results.json with "data": null was an AttributeError traceback."""
    pre = tmp_path / "p.json"
    pre.write_text(json.dumps({"data": None, "rounds": [{"name": "fold1", "accuracy": 0.5}]}))
    base = results(tmp_path / "s.json", {"fold1": 0.5})
    done = subprocess.run(
        [sys.executable, "-m", "synpat.audio.paired_gains", "--pair", "x", str(pre), base],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "on different tasks (None vs esc50:tasks/keywords)" in done.stderr


@pytest.mark.parametrize(
    "content",
    ['{"minutes": 2.0, "img_per_s": 4', "[1]", "null", '{"minutes": 2.0}', '{"minutes": 2.0, "steps": "7"}', b"\xff"],
)
def test_a_damaged_calibration_record_is_timed_again(tmp_path, content):
    """A truncated, non-UTF-8 or hand-edited OUT/calibration.json was a traceback (JSONDecodeError,
    AttributeError, KeyError, UnicodeDecodeError) or handed its 'steps' on as they were; now it counts as no
    timing (as a damaged stage record does): the calibration run is made again (here it fails: no shards)."""
    record = tmp_path / "calibration.json"
    record.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UserError, match="the pre-training calibration run failed"):
        exp.calibrated_steps(cfg_of(tmp_path), tmp_path)


def test_an_intact_record_still_gives_its_steps(tmp_path):
    timed(tmp_path, cfg_of(tmp_path), rate=40.0, steps=600)
    assert exp.calibrated_steps(cfg_of(tmp_path), tmp_path) == 600


def test_a_calibration_record_that_is_a_folder_is_refused_before_timing(tmp_path):
    """OUT/calibration.json as a folder: the calibration run was made, then writing its record failed."""
    (tmp_path / "calibration.json").mkdir()
    with pytest.raises(UserError, match=r"calibration.json: is a folder, expected .*--pretrain-minutes"):
        exp.calibrated_steps(cfg_of(tmp_path), tmp_path)
    assert not (tmp_path / "calibration").exists()  # nothing was run


@pytest.mark.parametrize("seconds", ["1e305", "1e20"])
def test_a_huge_sound_seconds_is_no_limit(tmp_path, seconds):
    """--sound-seconds 1e305 was an OverflowError traceback (seconds x 16 kHz is infinite); any length past the
    task's input gives clips as long as the input, as --sound-seconds 10 does."""
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=1)
    task = load_task(f"esc50:{esc}")
    argv = ["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--mel-bins", "32", "--sound-seconds"]
    for value in (seconds, "10"):
        cfg = exp.parse_config([*argv, value])
        shape = exp.input_shape(cfg.mel_bins, cfg.frames, typical_clip(task), exp.frame_unit(cfg))
        exp.check_sound_clips(cfg, shape)
        assert exp.sound_clip_frames(cfg, shape) == shape[1] == 140  # the task's clips
    short = exp.parse_config([*argv, "0.5"])
    assert exp.sound_clip_frames(short, (32, 152)) == 48  # 0.5 s: 48 frames, a multiple of the 2-frame tokens


def test_a_sweep_set_of_sound_programs_is_refused_before_anything_runs(tmp_path, capsys):
    """A PATH set of sound programs was rendered as clips, pre-trained on ('on 32px images', said the stage
    line), fine-tuned, then the sweep died in a KeyError traceback ('total_variation') with nothing written;
    a folder of both kinds said '--shaders:'. Both are one line before anything runs, as --shaders is."""
    sounds = bundled_shaders_dir() / "sounds"
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for program in (sounds / "speech_chant.glsl", bundled_shaders_dir() / "dead_leaves.glsl"):
        (mixed / program.name).write_text(program.read_text())
    with pytest.raises(UserError, match="sound programs"):  # the sweep below would run before
        set_sources(str(sounds), 0, 32, {})
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=1)
    for folder, said in (
        (sounds, f"sweep set {str(sounds)!r}: sound programs (mainSound); a sweep pre-trains every set on images"),
        (mixed, f"sweep set {str(mixed)!r}: image and sound programs in one run ("),
    ):
        out = tmp_path / "sweep"
        assert main(["--data", f"esc50:{esc}", "--out", str(out), "--sweep", f"procedural:2,{folder}"]) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1 and not out.exists(), err
    assert set_sources(str(bundled_shaders_dir() / "dead_leaves.glsl"), 0, 32, {}) == [
        str(bundled_shaders_dir() / "dead_leaves.glsl")
    ]


@pytest.mark.parametrize("arms", ["mix", "images,sounds", "sounds,mix"])
def test_a_sweep_refuses_arms_it_would_not_run(tmp_path, capsys, arms):
    """--sweep with --pretrain-on mix (or several arms) pre-trained every set on images alone, in silence, as
    --shaders and --sound-data were before they were refused."""
    with pytest.raises(UserError, match="a sweep pre-trains every set on its images"):  # before main() runs one
        exp.parse_config(["--data", "esc50:x", "--out", "o", "--sweep", "a", "--pretrain-on", arms])
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=1)
    out = tmp_path / "sweep"
    assert main(["--data", f"esc50:{esc}", "--out", str(out), "--sweep", "procedural:2", "--pretrain-on", arms]) == 2
    err = capsys.readouterr().err
    assert f"--pretrain-on {arms}: a sweep pre-trains every set on its images" in err and not out.exists()
    assert len(err.strip().splitlines()) == 1
    for fine in ("images", "sounds"):  # images is what it runs; sounds is the default, which a sweep replaces
        assert exp.parse_config(["--data", "esc50:x", "--out", "o", "--sweep", "a", "--pretrain-on", fine]).sweep


def test_a_pretrain_config_cannot_set_what_the_sound_flags_decide(tmp_path):
    """With --sound-mask-block 1 (or --sound-patch '', the model's own) a --pretrain-config file's mask_block
    (patch) reached the sounds arm in silence; with any other value it was refused naming the flag."""
    file = tmp_path / "pretrain.json"
    for flags, values, said in (
        ({"sound_mask_block": 1}, {"mask_block": 4}, "mask_block=4, but the experiment sets it to 1"),
        ({"sound_patch": ""}, {"patch": "32x4"}, "patch='32x4', but the experiment sets it to ''"),
    ):
        file.write_text(json.dumps(values))
        cfg = exp.ExperimentConfig(data="esc50:x", out=str(tmp_path), mel_bins=32, pretrain_config=str(file), **flags)
        with pytest.raises(UserError, match=f"--sound-{'mask-block' if 'mask' in said else 'patch'}"):
            exp.pretrain_settings(cfg, tmp_path, tmp_path, 10, 0, "sounds", tmp_path)
        with pytest.raises(UserError, match=said):
            exp.pretrain_settings(cfg, tmp_path, tmp_path, 10, 0, "mix", tmp_path)
        assert exp.pretrain_settings(cfg, tmp_path, tmp_path, 10, 0)[next(iter(values))] == next(iter(values.values()))


def test_a_pretrain_config_clash_is_refused_before_the_sound_render(tmp_path, capsys):
    """The experiment checked a --pretrain-config file against the images arm only: a clash with the sounds
    arm's --sound-mask-block was refused at pre-training, after the sound clips were rendered."""
    file = tmp_path / "pretrain.json"
    file.write_text(json.dumps({"mask_block": 2}))
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=1)
    out = tmp_path / "exp"
    argv = ["--data", f"esc50:{esc}", "--out", str(out), *toy_sound_experiment(16, 1, "--pretrain-config", str(file))]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "mask_block=2, but the experiment sets it to 8 (set it with --sound-mask-block" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_a_sweep_refuses_a_pretrain_config_clash_before_anything_runs(tmp_path, capsys):
    """A sweep refused a --pretrain-config clash at the first set's pre-training, after the scratch fine-tuning,
    the baseline and the first set's render."""
    file = tmp_path / "pretrain.json"
    file.write_text(json.dumps({"img_size": 64}))
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=1)
    out = tmp_path / "sweep"
    toy = ["--img-size", "32", "--images", "16", "--pretrain-steps", "1", "--finetune-epochs", "1", "--threads", "1"]
    argv = ["--data", f"esc50:{esc}", "--out", str(out), "--sweep", "procedural:2", *toy, "--test-folds", "1"]
    assert main([*argv, "--pretrain-config", str(file), "--finetune-min-steps", "0", "--mel-bins", "32"]) == 2
    err = capsys.readouterr().err
    assert "img_size=64, but the experiment sets it to 32 (set it with --img-size" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_one_results_file_as_both_sides_is_refused(tmp_path, capsys):
    """--pair x A A printed a gain of +0.000 on every fold, as if pre-training changed nothing."""
    pre = results(tmp_path / "p.json", {"fold1": 0.75, "fold2": 0.5})
    assert paired_gains(["--pair", "x", pre, str(tmp_path / "." / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "--pair x: " in err and "p.json is both sides" in err and len(err.strip().splitlines()) == 1


def test_the_help_says_the_whole_sentence_and_the_sweep_refusals():
    """paired_gains --help cut its description at a line end ('grouped by a label (a'); --sweep's help said
    --pretrain-on was not used (mix and several arms are refused now)."""
    said = subprocess.run(
        [sys.executable, "-m", "synpat.audio.paired_gains", "--help"], capture_output=True, text=True
    ).stdout
    assert "grouped by a label (a pre-training budget, an arm)" in " ".join(said.split())
    assert "the pairs of one label are pooled" in " ".join(said.split())
    sweep = next(f for f in fields(exp.ExperimentConfig) if f.name == "sweep").metadata["help"]
    assert "--pretrain-on of mix or several arms are refused" in sweep and "is not used" not in sweep


def test_minutes_count_the_images_of_accumulated_micro_steps(tmp_path):
    """With accum_steps in --pretrain-config every step trains accum_steps x batch inputs, but the steps were
    minutes x rate / batch: pre-training ran accum_steps times the minutes asked."""
    file = tmp_path / "pretrain.json"
    file.write_text(json.dumps({"accum_steps": 4}))
    cfg = cfg_of(tmp_path, pretrain_config=str(file))
    timed(tmp_path, cfg, rate=40.0, steps=150)
    four = cfg_of(tmp_path, pretrain_config=str(file), pretrain_minutes=4.0)
    assert exp.calibrated_steps(four, tmp_path) == 300  # 4 min x 40 inputs/s / (batch 8 x 4 micro-steps)


def test_two_sets_of_one_folder_are_refused():
    """'family:dead_leaves' and a path 'family-dead_leaves' (or 'a:b' and 'a-b') both wrote OUT/sets/family-dead_leaves:
    the second set overwrote the first one's shards and encoder (and a re-run rendered them again, in turn)."""
    for text, said in (
        ("family:dead_leaves,family-dead_leaves", "sets 'family:dead_leaves' and 'family-dead_leaves' would share"),
        ("x/a b,x/a-b", "sets 'x/a b' and 'x/a-b' would share the folder sets/x-a-b"),
    ):
        with pytest.raises(UserError, match=said):
            parse_sets(text)
    assert parse_sets("tv:low,tv:high,procedural:3") == ["tv:low", "tv:high", "procedural:3"]


def test_other_minutes_are_refused_by_an_experiment_and_reuse_the_rate_in_a_sweep(tmp_path):
    """docs/experiments.md said 'other minutes reuse the rate' of an experiment, which refuses other minutes as
    any other setting (another --out has no calibration.json); only a sweep re-run reuses the rate. The docs
    now say so (this pins what they say; the sweep's reuse is test_calibration's)."""
    cfg = cfg_of(tmp_path)
    assert exp.changed_settings(asdict(cfg), replace(cfg, pretrain_minutes=4.0)) == ["pretrain_minutes 2.0 -> 4.0"]
    text = " ".join((Path(__file__).parents[1] / "docs" / "experiments.md").read_text().split())
    assert "sweep re-run with other minutes reuses the rate; an experiment refuses other minutes" in text

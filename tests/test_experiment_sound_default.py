"""synpat-experiment's default arm at toy size: procedural sound programs rendered into OUT/sound_shards
(clips capped at --sound-seconds), an MAE on their spectrograms with the fine-tuning tokens, transferred to
the task's longer input; a re-run reuses the rendered clips, and their key follows what they were made of."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from audio_fixtures import make_esc50, toy_sound_experiment
from synpat.audio.experiment import ExperimentConfig, clip_seconds, main, sound_clip_frames
from synpat.audio.stage_reuse import shard_folder_key, sound_render_key
from synpat.gen.programs import find_programs
from synpat.train.batched_fbank import frames_in

TOY = toy_sound_experiment(48, 3, "--sound-seconds", "0.5", "--finetune-batch", "16", "--set", "pretrain_blr=0.001")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("sound_default")
    esc = make_esc50(root / "esc", per_class=5, seed=3)
    argv = ["--data", f"esc50:{esc}", "--out", str(root / "run")] + TOY
    assert main(argv) == 0
    return argv, root / "run"


def test_the_default_arm_renders_capped_sound_clips_and_pretrains_on_tokens(finished):
    _, out = finished
    report = json.loads((out / "report.json").read_text())
    shards = json.loads((out / "sound_shards" / "manifest.json").read_text())
    # 0.5 s -> 48 fbank frames (a multiple of the 2-frame tokens): clips of exactly that many frames
    assert (shards["kind"], shards["samples"]) == ("sound", 48)
    assert shards["duration"] == pytest.approx(clip_seconds((32, 48)))
    assert frames_in(round(shards["duration"] * 16000)) == 48
    encoder = json.loads((out / "pretrain_sounds" / "encoder.json").read_text())
    assert encoder["arch"]["patch_size"] == [32, 2] and encoder["input_shape"] == [32, 48]
    assert json.loads((out / "pretrain_sounds" / "config.json").read_text())["mask_block"] == 8
    transferred = json.loads((out / "transferred_sounds.json").read_text())
    assert transferred["input_shape"][1] > 48  # the task's clips are 1-2 s: the time grid was extended
    assert transferred["arch"]["patch_size"] == [32, 2]
    assert set(report["conditions"]) >= {"scratch", "pre-trained on sounds"}
    assert not (out / "shards").exists()  # no image arm: no images rendered


def test_a_rerun_reuses_the_rendered_clips(finished, capsys):
    argv, out = finished
    capsys.readouterr()
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "render sounds" in said and "complete and its inputs are unchanged" in said
    assert "render sounds" in json.loads((out / "report.json").read_text())["reused"]


def test_the_clips_key_and_length_follow_their_inputs(tmp_path):
    cfg = ExperimentConfig(data="esc50:x", out=str(tmp_path), sound_shaders="procedural-sound:4", mel_bins=32)
    programs = find_programs(["procedural-sound:4"], 0)
    key = sound_render_key(cfg, programs, 0.5)
    assert sound_render_key(cfg, programs, 0.25) != key
    assert sound_render_key(replace(cfg, clips=10), programs, 0.5) != key
    assert sound_render_key(replace(cfg, seed=1), programs, 0.5) != key
    assert sound_render_key(cfg, find_programs(["procedural-sound:5"], 0), 0.5) != key
    # the cap: 1 s of a 5 s task, rounded down to the tokens' 2 frames; no cap, or a shorter task, keeps the task's
    assert sound_clip_frames(cfg, (32, 498)) == 98
    assert sound_clip_frames(replace(cfg, sound_seconds=0), (32, 498)) == 498
    assert sound_clip_frames(cfg, (32, 64)) == 64
    assert sound_clip_frames(replace(cfg, sound_patch=""), (32, 496)) == 96  # 16x16 patches: 96 frames


def test_given_clips_are_keyed_by_their_contents_not_only_their_folder(tmp_path):
    """--sound-data rendered again into the same folder must pre-train again (it was keyed by the path)."""
    folder = tmp_path / "sounds"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"kind": "sound", "count": 2}')
    (folder / "shard-000000.tar").write_bytes(b"a" * 10)
    key = shard_folder_key(folder)
    assert shard_folder_key(tmp_path / "sounds" / ".." / "sounds") == key  # the same folder, spelt otherwise
    (folder / "shard-000000.tar").write_bytes(b"b" * 11)
    assert shard_folder_key(folder) != key
    key = shard_folder_key(folder)
    (folder / "manifest.json").write_text('{"kind": "sound", "count": 3}')
    assert shard_folder_key(folder) != key


def test_mask_blocks_longer_than_the_clips_allow_are_refused_before_rendering(tmp_path, capsys):
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=3)
    out = tmp_path / "o"
    argv = ["--data", f"esc50:{esc}", "--out", str(out), *TOY, "--sound-mask-block", "24"]
    assert main(argv) == 2  # 0.5 s: 48 frames, 24 columns of 32x2 tokens in one row: at most 23
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sound_mask_block=24: the sound clips of 48 frames give 24 columns" in err, err
    assert "use at most 23" in err and not out.exists()

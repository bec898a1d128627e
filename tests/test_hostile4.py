"""Hostile checks of this session's fine-tuning floor (--min-steps), the sounds-only --shaders refusal and
--sound-data: a huge floor is counted exactly, the linear probe's floor counts the batches it steps on, a
--sound-data folder that holds no sound shards is refused in one line before anything runs, and the
refusals name the flags that would help (the one of a setting an old experiment.json lacks, the one that
sets what a config file may not)."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
from audio_fixtures import make_esc50
from sound_fixtures import write_sound_shards
from synpat.audio.experiment import changed_settings, main, parse_config
from synpat.audio.finetune import main as finetune_main
from synpat.audio.finetune_config import FinetuneConfig

TOY = ["--clips", "32", "--pretrain-steps", "2", "--pretrain-batch", "8", "--finetune-epochs", "1"]
TOY += ["--mel-bins", "32", "--threads", "1", "--test-folds", "1"]


@pytest.fixture(scope="module")
def esc(tmp_path_factory):
    return make_esc50(tmp_path_factory.mktemp("h4") / "esc", per_class=2, seed=3)


@pytest.fixture(scope="module")
def sounds(tmp_path_factory):
    return write_sound_shards(tmp_path_factory.mktemp("h4s") / "sounds", count=16, shard_size=8)


def test_a_huge_floor_is_counted_exactly():
    """--min-steps 10**23+1 over one batch is 10**23+1 epochs (a float division made it 99999999999999991611392)."""
    huge = 10**23 + 1
    epochs, warmup = FinetuneConfig(epochs=1, batch_size=64, warmup_epochs=1, min_steps=huge).schedule(64)
    assert epochs == huge and warmup == pytest.approx(huge)
    assert FinetuneConfig(epochs=1, batch_size=2, min_steps=2**53 + 3).schedule(2)[0] == 2**53 + 3


def test_the_probe_floor_counts_only_the_batches_it_steps_on(esc, tmp_path, capsys):
    """The probe skips a last batch of one clip: 4 clips in batches of 3 make one step an epoch, so
    --min-steps 4 is 4 epochs (it counted 2 batches, trained 2 epochs: 2 steps)."""
    probe = FinetuneConfig(epochs=1, batch_size=3, min_steps=4, linear_probe=True)
    assert probe.schedule(4)[0] == 4 and probe.schedule(5)[0] == 2  # 4 = 3 + 1: one step; 5 = 3 + 2: two
    assert FinetuneConfig(epochs=1, batch_size=3, min_steps=4).schedule(4)[0] == 2  # fine-tuning steps on it
    out = tmp_path / "probe"
    args = ["--data", f"esc50:{esc}", "--out", str(out), "--model", "vit_tiny", "--mel-bins", "32"]
    args += ["--test-folds", "1", "--epochs", "1", "--batch-size", "3", "--min-steps", "4", "--linear-probe"]
    assert finetune_main(args + ["--threads", "1", "--val-fraction", "0"]) == 0
    (round_,) = json.loads((out / "results.json").read_text())["rounds"]
    assert round_["train"] == 4 and round_["epochs"] == 4
    printed = capsys.readouterr().out
    assert "fold1 probe epoch 4/4 " in printed and "4/4 epochs" in printed


def test_a_sounds_only_shaders_refusal_names_the_given_clips(esc, sounds, tmp_path, capsys):
    """With --sound-data the sounds arm reads those clips, not --sound-shaders' default programs."""
    out = tmp_path / "o"
    argv = ["--data", f"esc50:{esc}", "--out", str(out), *TOY, "--sound-data", str(sounds), "--shaders", "procedural:4"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"the sounds arm pre-trains on the --sound-data clips ({sounds})" in err and "procedural-sound" not in err
    assert "mix arms: leave it out, or add --pretrain-on images" in err  # --sound-shaders would not be read either
    assert not out.exists()


def make_folder(tmp_path, sounds, what):
    """A --sound-data folder that holds no sound shards: `what` says how."""
    folder = tmp_path / what
    folder.mkdir()
    if what in ("no-manifest", "image-manifest"):
        for shard in sounds.glob("*.tar"):
            (folder / shard.name).write_bytes(shard.read_bytes())
    if what == "image-manifest":
        (folder / "manifest.json").write_text('{"kind": "image", "count": 16}')
    if what == "no-tars":
        (folder / "manifest.json").write_text((sounds / "manifest.json").read_text())
        (folder / "notes.txt").write_text("clips to come")
    return folder


@pytest.mark.parametrize(
    "what,said",
    [
        ("no-manifest", "no manifest.json; expected sound shards with their manifest"),
        ("image-manifest", "a manifest.json of image shards; expected sound shards"),
        ("no-tars", "no .tar shards in this folder"),
    ],
)
def test_sound_data_without_sound_shards_is_refused_before_anything(esc, sounds, tmp_path, capsys, what, said):
    """It failed minutes later, after DeepSpeed started, in the pre-training child ("didn't find ['jpg',
    'png', 'webp']" for clips without their manifest)."""
    folder, out = make_folder(tmp_path, sounds, what), tmp_path / "o"
    assert main(["--data", f"esc50:{esc}", "--out", str(out), *TOY, "--sound-data", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--sound-data {folder}: {said}" in err, err
    assert not out.exists()


def test_an_images_only_run_does_not_read_sound_data(esc, sounds, tmp_path, capsys):
    """--sound-data is checked only where an arm reads it."""
    folder = make_folder(tmp_path, sounds, "no-tars")
    argv = ["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), *TOY, "--sound-data", str(folder)]
    assert parse_config(argv + ["--pretrain-on", "images"]).sound_data == str(folder)


def old_experiment(out, esc) -> list[str]:
    """OUT/experiment.json as written before --finetune-min-steps (it trained each fold for its epochs)
    -> the argv that made it."""
    argv = ["--data", f"esc50:{esc}", "--out", str(out), *TOY, "--sound-shaders", "procedural-sound:4"]
    settings = asdict(parse_config(argv))
    del settings["finetune_min_steps"]
    out.mkdir()
    (out / "experiment.json").write_text(json.dumps(settings))
    return argv


def test_an_experiment_of_before_the_floor_is_told_the_flag_that_runs_it_as_it_ran(esc, tmp_path, capsys):
    out = tmp_path / "old"
    argv = old_experiment(out, esc)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "other settings (finetune_min_steps 0 -> 1000)" in err
    assert "or add --finetune-min-steps 0 to run it as it was made (before that setting existed)" in err
    before = json.loads((out / "experiment.json").read_text())
    assert changed_settings(before, parse_config(argv + ["--finetune-min-steps", "0"])) == []  # the hint holds
    assert main(argv + ["--seed", "3", "--finetune-min-steps", "0"]) == 2  # a change of the user's own: no hint
    err = capsys.readouterr().err
    assert "(seed 0 -> 3)" in err and "or add" not in err


@pytest.mark.parametrize(
    "option,file,said",
    [
        (
            "--finetune-config",
            {"min_steps": 500},
            "min_steps=500, but the experiment sets it to 1000 (set it with "
            "--finetune-min-steps, or leave it out of the file)",
        ),
        ("--finetune-config", {"batch_size": 8}, "(set it with --finetune-batch, or"),
        ("--pretrain-config", {"batch_size": 4}, "(set it with --pretrain-batch, or"),
        ("--pretrain-config", {"resume": "never"}, "(the experiment decides it, or leave it out of the file)"),
    ],
)
def test_a_config_file_setting_what_the_experiment_sets_is_told_its_flag(esc, tmp_path, capsys, option, file, said):
    """It said "set it with the experiment's own flag": min_steps is --finetune-min-steps, not --min-steps."""
    config = tmp_path / "recipe.json"
    config.write_text(json.dumps(file))
    out = tmp_path / "o"
    argv = ["--data", f"esc50:{esc}", "--out", str(out), *TOY, "--sound-shaders", "procedural-sound:4"]
    assert main(argv + [option, str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err, err
    assert not out.exists()


def test_the_same_folders_spelt_otherwise_are_no_change(esc, sounds, tmp_path, monkeypatch, capsys):
    """--out exp then --out /abs/exp/ (or --data esc50:esc/) named the same experiment, and were refused as
    other settings ("out 'exp' -> '/abs/exp/'")."""
    monkeypatch.chdir(esc.parent)
    relative = ["--data", f"esc50:{esc.name}", "--out", "exp", *TOY, "--sound-data", f"./{sounds.name}"]
    absolute = ["--data", f"esc50:{esc}/", "--out", f"{esc.parent / 'exp'}/", *TOY, "--sound-data", f"{sounds}/"]
    (esc.parent / "sounds").symlink_to(sounds)
    before = asdict(parse_config(relative))
    assert changed_settings(before, parse_config(absolute)) == []
    other = write_sound_shards(tmp_path / "other", count=8, shard_size=8)
    moved = ["--data", f"esc50:{other}", "--out", "exp", *TOY, "--sound-data", str(other)]
    assert changed_settings(before, parse_config(moved)) == [  # another folder is still a change
        f"data 'esc50:{esc.name}' -> 'esc50:{other}'",
        f"sound_data './{sounds.name}' -> '{other}'",
    ]
    (esc.parent / "exp").mkdir()
    (esc.parent / "exp" / "experiment.json").write_text(json.dumps(before))
    assert main(absolute + ["--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "other settings (seed 0 -> 3):" in err, err


def test_a_sounds_experiment_made_with_a_shaders_it_never_read_re_runs_without_it(esc, sounds, tmp_path, capsys):
    """Before the refusal a sounds-only run took --shaders X in silence and wrote it to experiment.json; now
    --shaders X is refused and leaving it out was refused as other settings (shaders 'X' -> 'bundled'):
    the experiment could not be run again at all."""
    out = tmp_path / "old"
    argv = ["--data", f"esc50:{esc}", "--out", str(out), *TOY, "--sound-data", str(sounds)]
    before = {**asdict(parse_config(argv)), "shaders": "procedural:4"}
    assert changed_settings(before, parse_config(argv)) == []
    assert changed_settings(before, parse_config(argv + ["--pretrain-on", "images"])) == [
        "pretrain_on 'sounds' -> 'images'",
        "shaders 'procedural:4' -> 'bundled'",  # an images arm reads it
    ]
    out.mkdir()
    (out / "experiment.json").write_text(json.dumps(before))
    assert main(argv + ["--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "other settings (seed 0 -> 3):" in err, err


def test_a_probe_in_batches_of_one_is_refused(esc, tmp_path, capsys):
    """The probe skips batches of one clip (its BatchNorm needs two): --batch-size 1 trained nothing ("loss
    0.0000") and reported the untrained head's scores as the probe's."""
    out = tmp_path / "probe"
    args = ["--data", f"esc50:{esc}", "--out", str(out), "--linear-probe", "--batch-size", "1"]
    assert finetune_main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad config value batch_size=1: the linear probe's BatchNorm needs" in err, err
    assert not out.exists()
    argv = ["--data", f"esc50:{esc}", "--out", str(out), *TOY, "--probe", "--finetune-batch", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad config value finetune_batch=1: the --probe's BatchNorm needs" in err, err
    assert not out.exists()
    assert parse_config(argv[:-3] + ["--finetune-batch", "1"]).finetune_batch == 1  # fine-tuning alone steps on one


def test_too_few_batches_for_the_accumulation_say_samples_not_images():
    """synpat-pretrain's check of --data against batch x accumulation said "images" on sound clips too."""
    from synpat.core.errors import UserError
    from synpat.train.pretrain import total_steps
    from synpat.train.pretrain_config import PretrainConfig

    cfg = PretrainConfig(data="clips", batch_size=8, accum_steps=4, steps=0, epochs=1)
    with pytest.raises(UserError, match=r"fewer than batch_size x accum_steps = 32 samples per rank"):
        total_steps(cfg, 2)
    assert total_steps(cfg, 8) == 2

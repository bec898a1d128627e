"""synpat-finetune end to end on a synthetic 4-class task in ESC-50 layout (CPU, a tiny ViT)."""

from __future__ import annotations

import json

import pytest
import torch
from audio_fixtures import CLASSES, make_esc50, make_folder, make_image_encoder
from PIL import Image
from safetensors.torch import load_file
from synpat.audio.finetune import main
from synpat.audio.finetune_config import FinetuneConfig, parse_config
from synpat.audio.transfer import transfer_file

# The small-data recipe: 64 mel x 96 frames, a 2-block 96-d ViT, no drop path, 30 epochs.
SMALL = {
    "mel_bins": 64,
    "frames": 96,
    "batch_size": 16,
    "epochs": 30,
    "blr": 0.02,
    "warmup_epochs": 3,
    "freq_mask": 8,
    "time_mask": 16,
    "patchout": 0.25,
    "drop_path": 0.0,
    "threads": 1,
}


@pytest.fixture(scope="module")
def esc(tmp_path_factory):
    return make_esc50(tmp_path_factory.mktemp("data") / "esc", per_class=40, seed=3)


@pytest.fixture(scope="module")
def audio_init(tmp_path_factory):
    folder = tmp_path_factory.mktemp("init")
    out = folder / "audio.safetensors"
    transfer_file(make_image_encoder(folder / "image.safetensors"), out, (64, 96))
    return out


@pytest.fixture(scope="module")
def finetuned(esc, audio_init, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = out / "small.json"
    config.write_text(json.dumps(SMALL))
    rc = main(["--init", str(audio_init), "--data", f"esc50:{esc}", "--out", str(out / "x"), "--config", str(config)])
    assert rc == 0
    return out / "x"


def test_finetune_reaches_90_percent(finetuned):
    results = json.loads((finetuned / "results.json").read_text())
    assert results["protocol"] == "5-fold cross-validation (dataset folds), every fold held out in turn"
    assert [r["name"] for r in results["rounds"]] == [f"fold{k}" for k in range(1, 6)]
    assert all(r["test"] == 32 and r["train"] + r["val"] == 128 and r["val"] == 12 for r in results["rounds"])
    assert all(1 <= r["epoch"] <= 30 and 0 <= r["val_score"] <= 1 for r in results["rounds"])
    assert results["mean"]["accuracy"] > 0.9, results["mean"]
    assert results["std"]["accuracy"] >= 0
    assert results["config"]["epochs"] == 30 and results["config"]["mixup"] == 0.3  # json override + default
    assert results["data"]["used"] == 160 and results["data"]["skipped"] == []


def test_outputs(finetuned, capsys):
    image = Image.open(finetuned / "confusion.png")
    assert image.format == "PNG" and image.width > 200 and image.height > 200
    meta = json.loads((finetuned / "best.json").read_text())
    assert meta["classes"] == list(CLASSES) and meta["input_shape"] == [64, 96]
    assert meta["norm_std"] > 0 and meta["arch"]["embed_dim"] == 96
    state = load_file(str(finetuned / "best.safetensors"))
    assert state["head.weight"].shape == (4, 96) and state["patch_embed.proj.weight"].shape == (96, 1, 16, 16)
    assert not list(finetuned.glob(".*tmp*"))  # atomic writes leave no temporaries


def test_linear_probe_freezes_encoder(esc, audio_init, tmp_path, capsys):
    """Two epochs of probing: outputs exist and the encoder weights are exactly the transferred ones."""
    out = tmp_path / "probe"
    args = [
        "--init",
        str(audio_init),
        "--data",
        f"esc50:{esc}",
        "--out",
        str(out),
        "--linear-probe",
        "--epochs",
        "2",
        "--blr",
        "0.1",
    ] + [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items() if k != "epochs"]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert stdout.count("epoch ") == 10 and "img/s" not in stdout and "clips/s" in stdout and "ETA" in stdout
    assert stdout.strip().splitlines()[-1].startswith("done: 5-fold")
    assert json.loads((out / "results.json").read_text())["mode"] == "linear probe"
    best, init = load_file(str(out / "best.safetensors")), load_file(str(audio_init))
    torch.testing.assert_close(best["blocks.1.mlp.fc2.weight"], init["blocks.1.mlp.fc2.weight"], rtol=0, atol=0)
    torch.testing.assert_close(best["fc_norm.weight"], init["norm.weight"], rtol=0, atol=0)


def test_scratch_multilabel_csv_with_stratified_folds(tmp_path):
    """--init none, a CSV list with multi-label rows and no folds: mAP is reported, no confusion matrix."""
    root = make_folder(tmp_path / "f", per_class=4)
    rows = [f"{c}/{c}_{i}.wav,{c}" + (";noise" if c == "clicks" else "") for c in CLASSES for i in range(4)]
    (root / "list.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "ml"
    assert (
        main(
            [
                "--data",
                f"csv:{root / 'list.csv'}",
                "--out",
                str(out),
                "--folds",
                "2",
                "--epochs",
                "1",
                "--model",
                "vit_tiny",
                "--depth",
                "1",
                "--embed-dim",
                "64",
                "--num-heads",
                "2",
                "--mel-bins",
                "32",
                "--frames",
                "64",
                "--batch-size",
                "8",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    results = json.loads((out / "results.json").read_text())
    assert (
        results["data"]["multilabel"]
        and results["protocol"] == "2-fold cross-validation (stratified folds), every fold held out in turn"
    )
    assert 0 < results["mean"]["mAP"] <= 1 and "accuracy" in results["mean"]
    assert not (out / "confusion.png").exists()


def test_config_defaults_are_the_maskspec_recipe():
    cfg = FinetuneConfig()
    assert (cfg.batch_size, cfg.epochs, cfg.blr, cfg.warmup_epochs, cfg.min_lr) == (64, 80, 1e-3, 5, 1e-6)
    assert (cfg.weight_decay, cfg.drop_path, cfg.mixup, cfg.patchout) == (0.05, 0.1, 0.3, 0.4)
    assert (cfg.layer_decay, cfg.mel_bins, cfg.frames, cfg.freq_mask, cfg.time_mask) == (0, 0, 0, -1, -1)  # derived
    assert cfg.lr == pytest.approx(1e-3 * 64 / 256)
    parsed = parse_config(["--data", "esc50:x", "--out", "o", "--no-time-roll", "--epochs", "3"])
    assert parsed.epochs == 3 and parsed.time_roll is False and parsed.batch_size == 64


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--data", "esc50:/nonexistent/esc"], "esc50 root /nonexistent/esc is not a folder"),
        (["--data", "flac:/tmp"], "unknown data layout 'flac'"),
        (["--data", "esc50:ESC", "--epochs", "0"], "bad config value epochs=0"),
        (["--data", "esc50:ESC", "--epochs", "ten"], "bad config value epochs='ten': not a int"),
        (["--data", "esc50:ESC", "--batchsize", "3"], "unrecognized arguments"),
        (["--data", "esc50:ESC", "--config", "CFG"], "unknown config key(s) 'learning_rate'"),
        (["--data", "esc50:ESC", "--init", "/nonexistent/a.safetensors"], "not found"),
    ],
)
def test_bad_input_is_one_line_exit_2(extra, message, esc, tmp_path, capsys):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"learning_rate": 0.1}))
    args = [a.replace("ESC", str(esc)).replace("CFG", str(cfg)) for a in extra]
    assert main(args + ["--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("synpat-finetune: error:") and message in err, err
    assert not (tmp_path / "o").exists()


def test_recipe_follows_the_clips_and_the_init_file(esc, audio_init, tmp_path):
    """1.6 s clips: 160 frames (not 500), masks 19% of each axis, layer decay from the depth; the input shape
    comes from the transferred file, and a contradicting --frames is refused before any spectrogram."""
    from synpat.audio.clip_sets import load_task
    from synpat.audio.finetune import resolve

    cfg = parse_config(["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--model", "vit_tiny"])
    derived = resolve(cfg, load_task(cfg.data)).cfg
    assert (derived.mel_bins, derived.frames, derived.freq_mask, derived.time_mask) == (128, 160, 24, 30)
    assert derived.layer_decay == pytest.approx(0.5 ** (1 / 13), abs=1e-4) and derived.model == "vit_tiny"
    assert (derived.embed_dim, derived.depth, derived.num_heads, derived.folds) == (192, 12, 3, 5)  # nothing left at 0
    cfg = parse_config(["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--init", str(audio_init)])
    derived = resolve(cfg, load_task(cfg.data)).cfg
    assert (derived.mel_bins, derived.frames, derived.model) == (64, 96, "custom")
    assert resolve(derived, load_task(cfg.data)).cfg == derived  # resolving twice changes nothing
    cfg = parse_config(
        ["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--init", str(audio_init), "--frames", "128"]
    )
    with pytest.raises(Exception, match="contradicts .* input shape 64x96"):
        resolve(cfg, load_task(cfg.data))


def test_chosen_test_folds_only(esc, audio_init, tmp_path):
    out = tmp_path / "two"
    args = [
        "--init",
        str(audio_init),
        "--data",
        f"esc50:{esc}",
        "--out",
        str(out),
        "--test-folds",
        "2,4",
        "--epochs",
        "1",
        "--threads",
        "1",
        "--batch-size",
        "16",
    ]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in results["rounds"]] == ["fold2", "fold4"]
    assert results["protocol"].endswith("folds 2,4 held out in turn")


def test_min_steps_stretch_a_small_tasks_schedule(esc, audio_init, tmp_path, capsys):
    """A round with too few batches for --min-steps trains for more epochs, its warm-up stretched alike."""
    recipe = FinetuneConfig(epochs=30, batch_size=32, warmup_epochs=5, min_steps=1000)
    assert recipe.schedule(290) == (100, pytest.approx(100 / 6))  # 10 batches: 300 steps stretched
    assert recipe.schedule(1080) == (30, 5.0)  # 34 batches x 30 = 1020 steps: enough
    assert FinetuneConfig(epochs=30, batch_size=32).schedule(10) == (30, 5.0)  # min_steps 0: off
    out = tmp_path / "stretched"
    args = ["--init", str(audio_init), "--data", f"esc50:{esc}", "--out", str(out), "--test-folds", "2"]
    args += ["--epochs", "1", "--min-steps", "20", "--batch-size", "16", "--threads", "1"]
    assert main(args) == 0
    (round_,) = json.loads((out / "results.json").read_text())["rounds"]
    assert round_["train"] == 116 and round_["epochs"] == 3 and 1 <= round_["epoch"] <= 3  # 8 batches: 3 epochs
    printed = capsys.readouterr().out
    assert "fold2 epoch 3/3 " in printed and "3/3 epochs" in printed and "epoch 4/" not in printed


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--min-steps", "-1"], "bad config value min_steps=-1"),
        (["--test-folds", "7"], "--test-folds 7: fold 7 does not exist, the folds are 1..5"),
        (["--folds", "4"], "defines 5 folds"),
        (["--blr", "inf"], "bad config value blr=inf: not a finite number"),
        (["--min-lr", "0.5"], "bad config value min_lr=0.5: must not exceed the peak lr"),
    ],
)
def test_bad_choices_are_refused_before_any_work(extra, message, esc, tmp_path, capsys):
    assert main(["--data", f"esc50:{esc}", "--out", str(tmp_path / "o")] + extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o").exists()


def test_unwritable_out_is_refused_before_training(esc, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["--data", f"esc50:{esc}", "--out", str(blocker / "sub"), "--epochs", "1"]) == 2
    err = capsys.readouterr()
    assert "cannot make the folder" in err.err and "fbanks" not in err.out


def test_a_nan_loss_stops_with_one_line(esc, tmp_path, capsys):
    out = tmp_path / "nan"
    args = [
        "--data",
        f"esc50:{esc}",
        "--out",
        str(out),
        "--model",
        "vit_tiny",
        "--depth",
        "1",
        "--embed-dim",
        "64",
        "--num-heads",
        "2",
        "--mel-bins",
        "32",
        "--epochs",
        "3",
        "--blr",
        "1e12",
        "--warmup-epochs",
        "0",
        "--threads",
        "1",
        "--test-folds",
        "1",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "the loss is nan" in err and err.count("\n") == 1, err
    assert not (out / "best.safetensors").exists() and not (out / "results.json").exists()


def test_validation_by_whole_sources():
    """--val-split groups: whole sources go to validation until it holds the share; none is on both sides,
    one is always left to train on, and the draw follows the seed."""
    from synpat.audio.finetune import validation_groups

    groups = [f"voice{i // 10}" for i in range(100)]  # 10 sources of 10 clips
    train, one = list(range(100)), ["c"] * 100  # one class: no source holds its last clips
    kept, val = validation_groups(train, groups, one, 0.1, seed=3)
    assert len(val) == 10 and len({groups[r] for r in val}) == 1
    assert not {groups[r] for r in kept} & {groups[r] for r in val} and sorted(kept + val) == train
    assert validation_groups(train, groups, one, 0.1, seed=3) == (kept, val)
    assert {groups[r] for r in validation_groups(train, groups, one, 0.1, seed=4)[1]} != {groups[r] for r in val}
    kept, val = validation_groups(train, groups, one, 0.25, seed=0)
    assert len(val) == 30 and len({groups[r] for r in val}) == 3  # whole sources: 30, not 25
    kept, val = validation_groups(train[:20], groups, one, 0.9, seed=0)
    assert len(kept) == 10 and len(val) == 10  # two sources: one is left to train on
    with pytest.raises(Exception, match="come from 1 source"):
        validation_groups(train[:10], groups, one, 0.1, seed=0)


def test_val_split_groups_end_to_end(tmp_path, capsys):
    """The esc50 listing's source column names the groups; a round holds out whole sources for validation.
    A task that names no sources is refused before any spectrogram, in one line."""
    import csv

    from synpat.audio.clip_sets import load_task

    esc = make_esc50(tmp_path / "esc", per_class=12, seed=5)
    meta = esc / "meta" / "esc50.csv"
    rows = list(csv.DictReader(meta.open()))
    seen: dict[str, int] = {}
    with meta.open("w", newline="") as fh:  # synpat-audio-tasks' columns: 3 sources in each fold, dealt in turn
        writer = csv.writer(fh)
        writer.writerow(["filename", "fold", "target", "category", "source"])
        for row in rows:
            n = seen[row["fold"]] = seen.get(row["fold"], -1) + 1
            writer.writerow([row["filename"], row["fold"], row["target"], row["category"], f"s{row['fold']}-{n % 3}"])
    task = load_task(f"esc50:{esc}")
    assert len({c.group for c in task.clips}) == 15 and all(c.group.startswith(f"s{c.fold}-") for c in task.clips)
    out = tmp_path / "o"
    args = ["--data", f"esc50:{esc}", "--out", str(out), "--test-folds", "2", "--epochs", "1"]
    args += ["--batch-size", "8", "--threads", "1", "--model", "vit_tiny", "--depth", "1", "--embed-dim", "64"]
    args += ["--num-heads", "2", "--mel-bins", "32", "--frames", "64", "--val-split", "groups"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    (round_,) = results["rounds"]
    assert results["protocol"].endswith("folds 2 held out in turn, validation by whole sources")
    assert round_["train"] + round_["val"] == 36 and round_["val"] >= 0.1 * 36
    assert results["config"]["val_split"] == "groups"
    folder = make_folder(tmp_path / "folder")
    assert main(["--data", f"folder:{folder}", "--out", str(tmp_path / "f"), "--val-split", "groups"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--val-split groups: folder:" in err and "names no source for" in err, err
    assert not (tmp_path / "f").exists()
    for blank, message in ((1, "names no source for"), (0, "training clips come from 1 source(s)")):
        with meta.open("w", newline="") as fh:  # the first `blank` rows name no source, the rest one source
            writer = csv.writer(fh)
            writer.writerow(["filename", "fold", "target", "category", "source"])
            for i, row in enumerate(rows):
                writer.writerow(
                    [row["filename"], row["fold"], row["target"], row["category"], "" if i < blank else "s"]
                )
        assert main(["--data", f"esc50:{esc}", "--out", str(tmp_path / "g"), "--val-split", "groups"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not (tmp_path / "g").exists()
    assert main(["--data", f"folder:{folder}", "--out", str(tmp_path / "f"), "--val-split", "voices"]) == 2
    assert "bad config value val_split='voices': use one of clips, groups" in capsys.readouterr().err


@pytest.mark.parametrize("probe", [False, True])
def test_epoch_curves_record_and_change_nothing(esc, audio_init, tmp_path, probe):
    """--epoch-curves: each round's curve has an entry per epoch; at the kept epoch its validation and
    test scores are the round's; and the same run without it trains the same model (same scores)."""
    runs = {}
    for curves in (False, True):
        out = tmp_path / f"c{curves}"
        args = ["--init", str(audio_init), "--data", f"esc50:{esc}", "--out", str(out), "--test-folds", "3"]
        args += ["--epochs", "4", "--batch-size", "16", "--threads", "1"] + ["--epoch-curves"] * curves
        assert main(args + ["--linear-probe"] * probe) == 0
        runs[curves] = json.loads((out / "results.json").read_text())["rounds"][0]
    plain, curved = runs[False], runs[True]
    assert "curve" not in plain and [e["epoch"] for e in curved["curve"]] == [1, 2, 3, 4]
    assert {k: v for k, v in curved.items() if k != "curve"} == plain
    kept = curved["curve"][curved["epoch"] - 1]
    assert kept["val"] == pytest.approx(curved["val_score"]) and kept["test"] == pytest.approx(curved["accuracy"])
    assert max(e["val"] for e in curved["curve"]) == pytest.approx(curved["val_score"])
    assert all(e["val_loss"] > 0 and 0 <= e["test"] <= 1 for e in curved["curve"])

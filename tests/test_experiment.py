"""synpat-experiment end to end at toy size: render, pre-train, transfer, fine-tune both conditions,
baseline, report; a re-run skips every finished stage; changed settings into the same --out are refused."""

from __future__ import annotations

import json

import pytest
from audio_fixtures import make_esc50, make_folder
from PIL import Image
from synpat.audio.experiment import main
from synpat.gen.programs import bundled_shaders_dir, find_programs

TOY = [
    "--pretrain-on",
    "images",
    "--images",
    "600",
    "--img-size",
    "32",
    "--pretrain-steps",
    "6",
    "--pretrain-batch",
    "16",
    "--finetune-epochs",
    "2",
    "--finetune-min-steps",
    "0",
    "--finetune-batch",
    "16",
    "--mel-bins",
    "32",
    "--threads",
    "2",
    "--test-folds",
    "1,2",
    "--set",
    "pretrain_blr=0.001",
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    esc = make_esc50(root / "esc", per_class=10, seed=2)
    out = root / "run"
    assert main(["--data", f"esc50:{esc}", "--out", str(out)] + TOY) == 0
    return esc, out


def test_report_compares_both_conditions_on_the_same_folds(finished):
    _, out = finished
    report = json.loads((out / "report.json").read_text())
    conditions = report["conditions"]
    assert set(conditions) == {"log-mel + LR", "scratch", "pre-trained"}
    assert report["task"]["folds"] == ["fold1", "fold2"] and report["task"]["classes"] == 4
    for name in ("scratch", "pre-trained"):
        assert len(conditions[name]["per_fold"]) == 2 and all(0 <= v <= 1 for v in conditions[name]["per_fold"])
    assert report["gain"]["per_fold"] == pytest.approx(
        [p - s for p, s in zip(conditions["pre-trained"]["per_fold"], conditions["scratch"]["per_fold"])]
    )
    bundled = len(find_programs([bundled_shaders_dir()]))
    assert report["pretrain"]["steps"] == 6 and report["programs"]["count"] == bundled
    pre = json.loads((out / "finetune" / "pretrained" / "results.json").read_text())
    scratch = json.loads((out / "finetune" / "scratch" / "results.json").read_text())
    same = ("epochs", "batch_size", "blr", "layer_decay", "mel_bins", "frames", "seed", "test_folds")
    assert {k: pre["config"][k] for k in same} == {k: scratch["config"][k] for k in same}
    assert pre["init"].endswith("transferred.safetensors") and scratch["init"] == "none"
    assert [r["test"] for r in pre["rounds"]] == [r["test"] for r in scratch["rounds"]]
    assert pre["arch"] == scratch["arch"]
    plot = Image.open(out / "scores.png")
    assert plot.format == "PNG" and plot.width > 400
    assert Image.open(out / "contact.png").height > 100
    assert "| pre-trained |" in (out / "report.md").read_text()


def test_a_rerun_skips_finished_stages(finished, capsys):
    esc, out = finished
    before = (out / "finetune" / "scratch" / "results.json").read_bytes()
    assert main(["--data", f"esc50:{esc}", "--out", str(out)] + TOY) == 0
    printed = capsys.readouterr().out
    assert printed.count("skipped") == 6 and "stage 7/7 report" in printed
    assert (out / "finetune" / "scratch" / "results.json").read_bytes() == before


def test_changed_settings_into_the_same_out_are_refused(finished, capsys):
    esc, out = finished
    assert main(["--data", f"esc50:{esc}", "--out", str(out)] + TOY + ["--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other settings (seed 0 -> 3)" in err


def test_one_budget_only(tmp_path, capsys):
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=2)
    assert main(["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--pretrain-minutes", "2"]) == 2
    assert "exactly one pre-training budget" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    missing = ["--shaders", str(tmp_path / "none"), "--pretrain-on", "images"]  # the sounds arm refuses any --shaders
    assert main(["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), *missing]) == 2
    assert "no such shader folder or file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_every_value_of_a_pretrain_config_file_reaches_the_pretraining(tmp_path):
    """Each field of a --pretrain-config file reaches synpat-pretrain's settings (before, the experiment's
    own warmup, loader, save_every, ... were passed as flags and beat the file's); the fields the experiment
    decides may be in the file only with the experiment's value."""
    from dataclasses import asdict, fields

    from synpat.audio.experiment import ExperimentConfig, pretrain_argv
    from synpat.core.errors import UserError
    from synpat.train.pretrain_config import PretrainConfig, parse_config

    mine = {
        "mask_ratio": 0.6,
        "norm_pix_loss": False,
        "accum_steps": 2,
        "epochs": 5,
        "min_lr": 1e-6,
        "warmup": 0.2,
        "weight_decay": 0.1,
        "beta1": 0.8,
        "beta2": 0.9,
        "engine": "deepspeed",
        "precision": "fp16",
        "deepspeed": "zero1_fp32",
        "compile": "off",
        "loader": "dali",
        "num_workers": 3,
        "log_every": 7,
        "save_every": 50,
        "keep_checkpoints": 3,
        "recon_every": 0,
        "recon_images": 4,
        "mix_data": str(tmp_path / "images"),
        "sound_share": 0.25,
        "mel_bins": 64,
        "duration": 2.0,
        "sample_rate": 8000,
        "time_range": "1,5",
        "group": 2,
        "mix": "fbm=1",
        "max_tv": 0.5,
        "min_std": 0.01,
        "max_edge": 0.5,
        "filter_programs": True,
        "check_seconds": 10.0,
        "max_nan": 0.5,
        "patch": "16x8",
        "mask_block": 2,
        "model": "mae_vit_tiny_patch16",
        "img_size": 32,
        "seed": 4,
    }  # the last three as the experiment's
    decided = {"data", "stream", "out", "batch_size", "blr", "steps", "threads", "resume", "overwrite"}
    assert set(mine) | decided == {f.name for f in fields(PretrainConfig)}, "a new setting: add it to this test"
    file = tmp_path / "pretrain.yaml"
    file.write_text(json.dumps({}))
    cfg = ExperimentConfig(
        data="esc50:x",
        out=str(tmp_path / "exp"),
        img_size=32,
        model="mae_vit_tiny_patch16",
        seed=4,
        pretrain_batch=8,
        pretrain_blr=2e-3,
        threads=1,
        pretrain_config=str(file),
    )
    without = asdict(parse_config(pretrain_argv(cfg, tmp_path / "shards", tmp_path / "p", 12, 0)[3:]))
    assert [without[k] for k in ("loader", "num_workers", "warmup", "save_every", "recon_every")] == [
        "torch",
        1,
        0.1,
        100,
        250,
    ]  # the experiment's recipe, where the file says nothing
    assert all(mine[k] != without[k] for k in mine if k not in ("model", "img_size", "seed"))
    file.write_text(json.dumps(mine))
    argv = pretrain_argv(cfg, tmp_path / "shards", tmp_path / "exp" / "pretrain", 12, 0)
    got = asdict(parse_config(argv[3:]))
    assert {k: got[k] for k in mine} == mine
    assert (got["data"], got["steps"], got["batch_size"], got["blr"], got["threads"], got["resume"]) == (
        str(tmp_path / "shards"),
        12,
        8,
        2e-3,
        1,
        "auto",
    )
    for clash, message in (
        ({"img_size": 64}, "img_size=64, but the experiment sets it to 32"),
        ({"out": "elsewhere"}, "out is set by the experiment for each stage"),
    ):
        file.write_text(json.dumps(clash))
        with pytest.raises(UserError, match=message):
            pretrain_argv(cfg, tmp_path / "shards", tmp_path / "p", 12, 0)
    file.write_text(json.dumps({"mask_block": 2}))  # the sounds arm's masking is --sound-mask-block's
    with pytest.raises(UserError, match="mask_block=2, but the experiment sets it to 8"):
        pretrain_argv(cfg, tmp_path / "shards", tmp_path / "p", 12, 0, "sounds", tmp_path / "sounds")


def test_every_value_of_a_finetune_config_file_reaches_both_conditions(tmp_path):
    from dataclasses import asdict

    from synpat.audio.experiment import ExperimentConfig, finetune_config
    from synpat.audio.finetune_config import FinetuneConfig
    from synpat.core.errors import UserError

    mine = {
        "layer_decay": 0.9,
        "warmup_epochs": 2.0,
        "min_lr": 1e-7,
        "weight_decay": 0.01,
        "drop_path": 0.2,
        "mixup": 0.0,
        "label_smoothing": 0.0,
        "freq_mask": 4,
        "time_mask": 0,
        "time_roll": False,
        "patchout": 0.1,
        "val_fraction": 0.0,
        "device": "cpu",
        "strict": True,
    }
    file = tmp_path / "finetune.json"
    file.write_text(json.dumps(mine))
    cfg = ExperimentConfig(data="esc50:x", out=str(tmp_path / "exp"), finetune_config=str(file), finetune_epochs=3)
    for init in ("none", "t.safetensors"):
        got = asdict(finetune_config(cfg, init, tmp_path / init, (32, 96), probe=False))
        assert {k: got[k] for k in mine} == mine
        assert (got["init"], got["epochs"], got["mel_bins"], got["frames"], got["model"]) == (
            init,
            3,
            32,
            96,
            "vit_tiny",
        )
    assert all(mine[k] != v for k, v in asdict(FinetuneConfig()).items() if k in mine)
    file.write_text(json.dumps({"epochs": 50}))
    with pytest.raises(UserError, match="epochs=50, but the experiment sets it to 3"):
        finetune_config(cfg, "none", tmp_path / "o", (32, 96), probe=False)


def test_a_contradicting_config_file_is_refused_before_anything_is_written(tmp_path, capsys):
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=2)
    (tmp_path / "pretrain.json").write_text(json.dumps({"img_size": 128}))
    (tmp_path / "finetune.json").write_text(json.dumps({"linear_probe": True}))
    base = ["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--img-size", "32"]
    assert main(base + ["--pretrain-config", str(tmp_path / "pretrain.json")]) == 2
    assert "img_size=128, but the experiment sets it to 32" in capsys.readouterr().err
    assert main(base + ["--finetune-config", str(tmp_path / "finetune.json")]) == 2
    assert "linear_probe is set by the experiment for each stage" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_finetune_config_the_task_cannot_run_is_refused_before_anything_is_written(tmp_path, capsys):
    """--finetune-config's values are checked before the renders: a value out of range, and validation by
    whole sources on a task whose listing names none."""
    folder = make_folder(tmp_path / "folder")
    for values, message in (
        ({"mixup": -1}, "bad config value mixup=-1"),
        ({"val_split": "groups"}, "--val-split groups: folder:"),
    ):
        (tmp_path / "finetune.json").write_text(json.dumps(values))
        args = ["--data", f"folder:{folder}", "--out", str(tmp_path / "o"), "--finetune-config"]
        assert main(args + [str(tmp_path / "finetune.json")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
        assert not (tmp_path / "o").exists()

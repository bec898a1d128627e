"""synpat-experiment --pretrain-on images,sounds,mix at toy size: three arms with the same budget and
fine-tuning beside scratch and the log-mel baseline, on numpy+soundfile sound shards."""

from __future__ import annotations

import json

import pytest
from audio_fixtures import make_esc50
from sound_fixtures import write_sound_shards
from synpat.audio.experiment import main
from synpat.gen.programs import bundled_shaders_dir

TOY = [
    "--images",
    "200",
    "--img-size",
    "32",
    "--pretrain-steps",
    "4",
    "--pretrain-batch",
    "8",
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


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("arms")
    esc = make_esc50(root / "esc", per_class=6, seed=2)
    sounds = write_sound_shards(root / "sounds", count=64, shard_size=32, duration=0.5)
    out = root / "run"
    argv = [
        "--data",
        f"esc50:{esc}",
        "--out",
        str(out),
        "--pretrain-on",
        "images,sounds,mix",
        "--sound-data",
        str(sounds),
        "--sound-share",
        "0.5",
    ] + TOY
    assert main(argv) == 0
    return argv, out


def test_every_arm_gets_the_same_budget_and_fine_tuning(finished):
    _, out = finished
    report = json.loads((out / "report.json").read_text())
    arms = ("pre-trained on images", "pre-trained on sounds", "pre-trained on mix")
    assert set(report["conditions"]) == {"log-mel + LR", "scratch", *arms} and set(report["gains"]) == set(arms)
    for label in arms:
        per_fold = report["conditions"][label]["per_fold"]
        assert len(per_fold) == 2 and all(0 <= v <= 1 for v in per_fold)
        assert report["gains"][label]["per_fold"] == pytest.approx(
            [a - s for a, s in zip(per_fold, report["conditions"]["scratch"]["per_fold"])]
        )
    pre = report["pretrain_arms"]
    assert {label: (pre[label]["kind"], pre[label]["steps"], pre[label]["images"]) for label in arms} == {
        "pre-trained on images": ("images", 4, 32),
        "pre-trained on sounds": ("sounds", 4, 32),
        "pre-trained on mix": ("mix", 4, 32),
    }
    assert pre["pre-trained on sounds"]["input_shape"] == pre["pre-trained on mix"]["input_shape"] == [32, 48]
    encoders = {
        json.loads((out / f"pretrain{s}" / "encoder.json").read_text()).get("in_chans") for s in ("_sounds", "_mix")
    }
    assert encoders == {1} and json.loads((out / "pretrain" / "encoder.json").read_text())["in_chans"] == 3
    same = ("epochs", "batch_size", "blr", "layer_decay", "mel_bins", "frames", "seed", "test_folds")
    results = [
        json.loads((out / "finetune" / name / "results.json").read_text())
        for name in ("scratch", "pretrained", "pretrained_sounds", "pretrained_mix")
    ]
    assert all({k: r["config"][k] for k in same} == {k: results[0]["config"][k] for k in same} for r in results)
    assert all([x["test"] for x in r["rounds"]] == [x["test"] for x in results[0]["rounds"]] for r in results)
    assert results[2]["init"].endswith("transferred_sounds.safetensors")
    md = (out / "report.md").read_text()
    rows = [
        line.split(" | ")[0].lstrip("| ")
        for line in md.splitlines()
        if line.startswith("| ") and not line.startswith("| condition")
    ]
    assert rows == ["log-mel + LR", "scratch", *arms]
    assert "Pre-trained on sounds minus scratch" in md and "luminance" in md


def test_a_rerun_skips_every_arm(finished, capsys):
    argv, out = finished
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "stage 14/14 report" in printed and printed.count("skipped") == 13


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--pretrain-on", "images,video"], "pretrain_on='images,video': use one or more of images, sounds, mix"),
        (["--sound-shaders", ""], "needs sound clips: give --sound-data SHARDS or --sound-shaders"),
        (["--sound-shaders", "procedural-sound:0"], "procedural-sound:0"),
        (["--sound-seconds", "-1"], "sound_seconds=-1.0: must be >= 0"),
        (["--sound-shaders", str(bundled_shaders_dir())], "image programs (mainImage); give sound programs"),
        (["--pretrain-on", "mix", "--shaders", "bundled:sounds"], "--shaders bundled:sounds: sound programs"),
        (["--shaders", "bundled:sounds"], "--shaders bundled:sounds: the sounds arm pre-trains on --sound-shaders"),
        (["--shaders", "/no/such/dir"], "give these programs as --sound-shaders, or add --pretrain-on images"),
    ],
)
def test_bad_arms_are_one_line(extra, message, tmp_path, capsys):
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=2)
    assert main(["--data", f"esc50:{esc}", "--out", str(tmp_path / "o")] + extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "o").exists()

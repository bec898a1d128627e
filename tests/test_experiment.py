"""synpat-experiment end to end at toy size: render, pre-train, transfer, fine-tune both conditions,
baseline, report; a re-run skips every finished stage; changed settings into the same --out are refused."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from audio_fixtures import make_esc50
from synpat.audio.experiment import main
from synpat.gen.programs import bundled_shaders_dir, find_programs

TOY = ["--images", "600", "--img-size", "32", "--pretrain-steps", "6", "--pretrain-batch", "16",
       "--finetune-epochs", "2", "--finetune-batch", "16", "--mel-bins", "32", "--threads", "2", "--test-folds", "1,2",
       "--set", "pretrain_blr=0.001"]


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
        [p - s for p, s in zip(conditions["pre-trained"]["per_fold"], conditions["scratch"]["per_fold"])])
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
    assert err.count("\n") == 1 and "other settings (seed)" in err


def test_one_budget_only(tmp_path, capsys):
    esc = make_esc50(tmp_path / "esc", per_class=2, seed=2)
    assert main(["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--pretrain-minutes", "2"]) == 2
    assert "exactly one pre-training budget" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert main(["--data", f"esc50:{esc}", "--out", str(tmp_path / "o"), "--shaders", str(tmp_path / "none")]) == 2
    assert "no such shader folder or file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()

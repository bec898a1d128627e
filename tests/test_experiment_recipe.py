"""synpat-experiment's defaults are the measured recipe: full-band 2-frame tokens, blr 5e-3, its budget printed."""

from __future__ import annotations

import pytest
from synpat.audio.experiment import (
    ExperimentConfig,
    budget_line,
    finetune_config,
    held_out_folds,
    runs_baseline,
    token_patch,
    validate,
)
from synpat.core.errors import UserError


def test_default_tokens_follow_the_mel_bins():
    assert token_patch(ExperimentConfig()) == "128x2"
    assert token_patch(ExperimentConfig(mel_bins=64)) == "64x2"
    assert token_patch(ExperimentConfig(finetune_patch="square")) == ""
    assert token_patch(ExperimentConfig(finetune_patch="16x4")) == "16x4"


def test_the_recipe_reaches_both_conditions(tmp_path):
    cfg = validate(ExperimentConfig(data="esc50:x", out=str(tmp_path)))
    for init in ("none", "enc.safetensors"):
        ft = finetune_config(cfg, init, tmp_path / "f", (128, 96), probe=False)
        assert (ft.patch, ft.stride, ft.blr, ft.epochs, ft.batch_size, ft.min_steps) == (
            "128x2",
            "",
            5e-3,
            30,
            32,
            1000,
        )
    assert (
        finetune_config(
            validate(ExperimentConfig(data="esc50:x", out=str(tmp_path), finetune_patch="square")),
            "none",
            tmp_path,
            (128, 96),
            probe=False,
        ).patch
        == ""
    )


def test_bad_patches_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match="finetune_patch='256x2': taller than the 128 mel bins"):
        validate(ExperimentConfig(data="esc50:x", out=str(tmp_path), finetune_patch="256x2"))
    with pytest.raises(UserError, match="finetune_stride='ax2'"):
        validate(ExperimentConfig(data="esc50:x", out=str(tmp_path), finetune_stride="ax2"))


def test_budget_line_names_every_unit():
    line = budget_line(ExperimentConfig(test_folds="1,2", probe=True))
    assert line == (
        "budget: render 20000 sound clips (at most 1 s) of procedural-sound:1000; pre-train mae_vit_tiny_patch16 "
        "(128x2 patches on spectrograms, masked in runs of 8) on sounds for 1000 steps x batch 64 (64000 inputs "
        "seen); fine-tune 30 epochs (at least 1000 steps) x 2 test fold(s) x 2 conditions + 2 linear probes (batch 32, blr 0.005, patch "
        "128x2)"
    )
    assert budget_line(ExperimentConfig(pretrain_on="images", test_folds="1")) == (
        "budget: render 20000 images 64px; pre-train mae_vit_tiny_patch16 on images for 1000 steps x batch 64 "
        "(64000 images seen); fine-tune 30 epochs (at least 1000 steps) x 1 test fold(s) x 2 conditions (batch 32, blr "
        "0.005, patch 128x2)"
    )
    both = budget_line(ExperimentConfig(pretrain_on="images,mix", sound_seconds=0, sound_patch="", sound_mask_block=1))
    assert both.startswith(
        "budget: render 20000 images 64px and 20000 sound clips (as long as the task's input) of "
        "procedural-sound:1000; pre-train mae_vit_tiny_patch16 on images, mix for"
    )


def test_held_out_folds_and_baseline_follow_the_flags():
    assert held_out_folds(ExperimentConfig(test_folds="1, 3,")) == 2
    assert held_out_folds(ExperimentConfig(test_folds="", folds=4)) == 4
    assert held_out_folds(ExperimentConfig(test_folds="", folds=0)) == "every"
    assert runs_baseline(ExperimentConfig(data="esc50:/d", baseline=True))
    assert not runs_baseline(ExperimentConfig(data="esc50:/d", baseline=False))
    assert not runs_baseline(ExperimentConfig(data="folder:/d", baseline=True))


def test_the_default_arm_is_sounds_with_the_fine_tuning_tokens():
    cfg = ExperimentConfig()
    assert (cfg.pretrain_on, cfg.sound_shaders, cfg.sound_patch, cfg.sound_mae_patch(), cfg.sound_mask_block) == (
        "sounds",
        "procedural-sound:1000",
        "tokens",
        "128x2",
        8,
    )

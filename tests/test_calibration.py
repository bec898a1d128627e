"""--pretrain-minutes: OUT/calibration.json keeps the rate with the settings it was timed with."""

from __future__ import annotations

import json

import pytest
from synpat.audio.experiment import RATE_FREE, ExperimentConfig, calibrated_steps, pretrain_settings
from synpat.core.errors import UserError


def cfg_of(tmp_path, **changes) -> ExperimentConfig:
    values = dict(data="esc50:task", out=str(tmp_path), pretrain_steps=0, pretrain_minutes=2.0, pretrain_batch=8)
    return ExperimentConfig(**{**values, **changes})


def timed(tmp_path, cfg: ExperimentConfig, rate: float, steps: int) -> None:
    """OUT/calibration.json as a timing of `cfg`'s settings at `rate` inputs/s wrote it."""
    settings = pretrain_settings(cfg, tmp_path / "shards", tmp_path / "calibration", 30, 0, "images")
    measured_on = {k: v for k, v in settings.items() if k not in RATE_FREE}
    record = {"minutes": cfg.pretrain_minutes, "img_per_s": rate, "steps": steps, "measured_on": measured_on}
    (tmp_path / "calibration.json").write_text(json.dumps(record))


def test_other_minutes_reuse_the_rate_and_paths_or_threads_do_not_count(tmp_path):
    timed(tmp_path, cfg_of(tmp_path), rate=40.0, steps=600)
    assert calibrated_steps(cfg_of(tmp_path, threads=3, out="elsewhere"), tmp_path) == 600  # as timed
    assert calibrated_steps(cfg_of(tmp_path, pretrain_minutes=4.0), tmp_path) == 1200  # 4 min x 40/s / batch 8
    assert json.loads((tmp_path / "calibration.json").read_text())["steps"] == 1200
    assert not (tmp_path / "calibration").exists()  # nothing was run


def test_what_the_calibration_run_sets_itself_does_not_count(tmp_path):
    """--save-every, --recon-every and --log-every of a --pretrain-config are overridden in the timing run."""
    timed(tmp_path, cfg_of(tmp_path), rate=40.0, steps=600)
    config = tmp_path / "pre.json"
    config.write_text(json.dumps({"save_every": 50, "recon_every": 7, "log_every": 3}))
    assert calibrated_steps(cfg_of(tmp_path, pretrain_config=str(config)), tmp_path) == 600  # not timed again
    assert not (tmp_path / "calibration").exists()


def test_a_record_from_before_is_kept_for_its_minutes_only(tmp_path):
    (tmp_path / "calibration.json").write_text(json.dumps({"minutes": 2.0, "img_per_s": 40.0, "steps": 555}))
    assert calibrated_steps(cfg_of(tmp_path), tmp_path) == 555
    with pytest.raises(UserError, match="the pre-training calibration run failed"):  # timed again: no shards here
        calibrated_steps(cfg_of(tmp_path, pretrain_minutes=3.0), tmp_path)


def test_other_settings_are_timed_again(tmp_path):
    timed(tmp_path, cfg_of(tmp_path), rate=40.0, steps=600)
    with pytest.raises(UserError, match="the pre-training calibration run failed"):
        calibrated_steps(cfg_of(tmp_path, pretrain_batch=16), tmp_path)

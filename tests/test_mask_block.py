"""`synpat-pretrain --mask-block N`: the MAE masks the patch grid in runs of N columns (time-block masking
on spectrograms); N = 1 draws exactly the masks of before, and a checkpoint resumes only with its own N."""

from __future__ import annotations

import json

import pytest
import torch
from sound_fixtures import write_sound_shards
from synpat.core.errors import UserError
from synpat.train.pretrain import mask_noise
from synpat.train.pretrain_config import parse_config
from test_pretrain import PRETRAIN, TINY, log, pretrain, run

CPU = torch.device("cpu")


def kept(noise: torch.Tensor, ratio: float = 0.75) -> torch.Tensor:
    """(N, L) noise -> (N, L) bool, the patches the MAE keeps visible (the least noise, as encode_masked)."""
    keep = int(noise.shape[1] * (1 - ratio))
    visible = torch.zeros_like(noise, dtype=torch.bool)
    visible.scatter_(1, noise.argsort(dim=1)[:, :keep], True)
    return visible


def test_block_one_draws_the_masks_of_before():
    gen = torch.Generator().manual_seed(2 * 1_000_003 + 5)
    before = torch.rand(6, 48, generator=gen)[2:4]  # rank 1 of 3, batch 2
    assert torch.equal(mask_noise(2, 5, 1, 2, 3, (8, 6), CPU), before)


@pytest.mark.parametrize("grid,block", [((1, 48), 8), ((2, 12), 4), ((1, 10), 4)])
def test_runs_of_columns_are_masked_together(grid, block):
    rows, cols = grid
    noise = mask_noise(0, 7, 0, 64, 1, grid, CPU, block)
    visible = kept(noise).view(64, rows, cols)
    runs = [visible[..., start : start + block] for start in range(0, cols, block)]
    mixed = sum((r.any(dim=2) & ~r.all(dim=2)).sum(dim=1) for r in runs)  # (64,) partly visible runs per sample
    assert mixed.max() <= 1  # only the last run kept is cut short
    for r in runs:  # a partly kept run keeps its first columns
        part = r.any(dim=2) & ~r.all(dim=2)
        assert torch.equal(r[part].cummin(dim=1).values, r[part])
    assert visible.sum(dim=(1, 2)).eq(int(rows * cols * 0.25)).all()
    # every run is seen about equally often: no stretch of time is favoured
    share = torch.stack([r.any(dim=2).float().mean() for r in runs])
    assert share.min() > 0.05 and share.max() < 0.6
    # the noise of one seed and step is the same on a rank as in the whole global batch
    assert torch.equal(mask_noise(0, 7, 1, 32, 2, grid, CPU, block), noise[32:])


def test_bad_mask_block_is_one_line(tmp_path):
    shards = write_sound_shards(tmp_path / "s", count=4, shard_size=4, duration=0.5)
    with pytest.raises(UserError, match="mask_block=0"):
        parse_config(["--data", str(shards), "--mask-block", "0"])


def test_pretraining_with_blocks_runs_and_resumes_only_with_its_blocks(tmp_path):
    shards = write_sound_shards(tmp_path / "s", count=16, shard_size=16, duration=0.5)
    out = tmp_path / "out"
    common = ("--data", shards, "--out", out, "--batch-size", "4", "--recon-every", "0", "--log-every", "1")
    pretrain(*common, "--steps", "1", "--save-every", "1", "--patch", "128x2", "--mask-block", "8")
    assert json.loads((out / "config.json").read_text())["mask_block"] == 8
    refused = run(PRETRAIN, *TINY, *common, "--steps", "2", "--resume", "auto", "--patch", "128x2")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr[-2000:]
    assert "made with other settings (mask_block 8 -> 1)" in refused.stderr.strip().splitlines()[-1]
    pretrain(*common, "--steps", "2", "--resume", "auto", "--patch", "128x2", "--mask-block", "8")
    assert [r["step"] for r in log(out)] == [1, 2]


def test_a_block_that_leaves_one_mask_is_refused(tmp_path):
    """Runs as long as a row of a one-row grid (the 128x2 tokens' 1x24 on 0.5 s) give every input the same
    mask, the first quarter of time kept: refused naming the longest block the grid takes; images alike."""
    from synpat.train.pretrain_inputs import plan_input

    shards = write_sound_shards(tmp_path / "s", count=4, shard_size=4, duration=0.5)
    tokens = ["--data", str(shards), "--patch", "128x2"]
    assert plan_input(parse_config([*tokens, "--mask-block", "23"])).size == (128, 48)
    for block in ("24", "64"):
        with pytest.raises(UserError, match=f"mask_block={block}: the 1x24 patch grid .* use at most 23$"):
            plan_input(parse_config([*tokens, "--mask-block", block]))
    with pytest.raises(UserError, match="mask_block=3: the 2x2 patch grid .* use at most 2$"):
        parse_config(["--data", str(shards), "--img-size", "32", "--mask-block", "3"])

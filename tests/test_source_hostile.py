"""synpat-gen, the stream and pretrain --stream against a hostile user: values that used to slip
through or crash, each now one line (exit 2) or a working run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run_gen
from synpat.core.errors import UserError
from synpat.gen.source import SourceSpec
from synpat.gen.stream import PatternStream, StreamConfig

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "flag,value,expected",
    [
        ("--seed", "-1", "--seed: expected a seed in 0..18446744073709551615"),
        (
            "--seed",
            str(2**64),
            "--seed: expected a seed in 0..18446744073709551615",
        ),  # the sampler would alias it to seed 0
        ("--mix", "fbm=nan", "--mix: expected family=weight pairs with finite weights"),
        ("--mix", "fbm=inf,waves=1", "--mix: expected family=weight pairs with finite weights"),
    ],
)
def test_bad_seed_and_mix_give_one_line_and_write_nothing(small_shaders, tmp_path, flag, value, expected):
    out = tmp_path / "out"
    result = run_gen("--shaders", small_shaders, "--out", out, "--count", "4", "--size", "32", flag, value)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines() == [f"synpat-gen: error: {result.stderr.split('error: ')[1].strip()}"]
    assert expected in result.stderr and not out.exists()


def test_the_largest_seed_renders_and_the_stream_equals_the_spec():
    spec = SourceSpec(shaders=["procedural:3"], size=(32, 32), seed=2**64 - 1)
    spec.validate()
    with pytest.raises(UserError, match="--seed"):
        SourceSpec(shaders=["x"], seed=2**64).validate()
    with PatternStream(StreamConfig(**vars(spec), batch_size=4)) as stream:
        samples, pixels, _ = stream.next_batch()
    assert pixels.shape == (4, 32, 32, 3) and samples.index.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("junk", ["[]", '{"settings": 5}', "null"])
def test_a_manifest_that_is_not_one_gives_one_line_on_resume(small_shaders, tmp_path, junk):
    out = tmp_path / "out"
    args = ("--shaders", small_shaders, "--out", out, "--count", "10", "--shard-size", "5", "--size", "32")
    assert run_gen(*args).returncode == 0
    (out / "manifest.json").write_text(junk)
    result = run_gen(*args, "--resume")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    assert "manifest" in result.stderr and "Traceback" not in result.stderr


def test_a_manifest_without_an_encoder_is_named_as_other_settings(small_shaders, tmp_path):
    out = tmp_path / "out"
    args = ("--shaders", small_shaders, "--out", out, "--count", "10", "--shard-size", "5", "--size", "32")
    assert run_gen(*args).returncode == 0
    (out / "manifest.json").write_text('{"settings": {"seed": 0}}')
    result = run_gen(*args, "--resume")
    assert result.returncode == 2 and "made with other settings" in result.stderr and "None" not in result.stderr


@pytest.mark.parametrize("junk", ["{", '{"settings": {}, "shards": 5}', '{"settings": {}, "shards": {"total": "x"}}'])
def test_overwrite_gets_past_a_damaged_manifest_and_removes_every_old_shard(small_shaders, tmp_path, junk):
    """--overwrite is the way out the error lines name: it must work whatever the manifest holds, and it
    removes the shards past the new plan found in the folder (the manifest cannot say how many)."""
    out = tmp_path / "out"
    args = ("--shaders", small_shaders, "--out", out, "--shard-size", "5", "--size", "32")
    assert run_gen(*args, "--count", "20").returncode == 0
    (out / ".synpat-000007.tar.tmp").write_bytes(b"left by a kill")
    (out / "manifest.json").write_text(junk)
    result = run_gen(*args, "--count", "10", "--overwrite")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "synpat-000000.idx",
        "synpat-000000.tar",
        "synpat-000001.idx",
        "synpat-000001.tar",
    ]
    assert json.loads((out / "manifest.json").read_text())["shards"]["complete"] == ["synpat-000000", "synpat-000001"]


def test_pretrain_stream_with_sample_filters_trains_and_resumes(small_shaders, tmp_path):
    """The filters drop samples, so a stream batch holds fewer than --batch-size images: the masks
    follow the batch (they were drawn for --batch-size and the MAE refused the smaller batch)."""
    out = tmp_path / "run"
    args = [
        sys.executable,
        str(REPO / "train" / "pretrain.py"),
        "--model",
        "mae_vit_tiny_patch16",
        "--img-size",
        "32",
        "--threads",
        "1",
        "--num-workers",
        "1",
        "--loader",
        "torch",
        "--batch-size",
        "8",
        "--log-every",
        "1",
        "--recon-every",
        "0",
        "--save-every",
        "1",
        "--stream",
        str(small_shaders),
        "--min-std",
        "0.15",
        "--max-tv",
        "0.5",
        "--out",
        str(out),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1")
    first = subprocess.run([*args, "--steps", "2"], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    again = subprocess.run(
        [*args, "--steps", "3", "--resume", "auto"], capture_output=True, text=True, env=env, timeout=600
    )
    assert again.returncode == 0, again.stderr[-2000:]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3] and all(np.isfinite(r["loss"]) for r in records)
    # the images counted are the samples the filters kept (not steps x batch), across the resume too
    from synpat.train.pretrain_config import parse_config

    spec = parse_config([*args[2:], "--steps", "3"]).stream_source()
    with PatternStream(StreamConfig(**vars(spec), batch_size=8)) as stream:
        kept = [len(stream.next_batch().samples) for _ in range(3)]
    assert min(kept) < 8, kept  # the filters drop some samples, else this test could not fail
    assert [r["images"] for r in records] == np.cumsum(kept).tolist()
    assert f"3 steps ({sum(kept)} images, 1 rank(s))" in again.stdout.strip().splitlines()[-1]
    assert json.loads((out / "encoder.json").read_text())["images"] == sum(kept)

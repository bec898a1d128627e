"""pre-training under faults and bad input: shards without an index (pipe:), corrupt content, a used
--out, a resume with other settings, a full disk; each one line and nothing partial left."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from synpat.core.errors import UserError
from synpat.gen.programs import bundled_shaders_dir
from synpat.train.loaders import LoaderConfig, TorchShardLoader
from synpat.train.shard_list import count_tar_samples, expand_urls
from test_pretrain import PRETRAIN, TINY, env

FAST = ("--batch-size", "16", "--log-every", "1", "--recon-every", "0", "--save-every", "0")


@pytest.fixture(scope="module")
def small_shards(tmp_path_factory) -> Path:
    """128 images at 64 px in 2 shards of 64, with .idx."""
    out = tmp_path_factory.mktemp("shards")
    programs = [bundled_shaders_dir() / f"{name}.glsl" for name in ("fbm", "waves")]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "synpat.gen.cli",
            "--shaders",
            *map(str, programs),
            "--out",
            str(out),
            "--count",
            "128",
            "--size",
            "64",
            "--shard-size",
            "64",
            "--overwrite",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return out


def pretrain(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PRETRAIN), *TINY, *map(str, args)],
        capture_output=True,
        text=True,
        env=env(),
        timeout=600,
        **kwargs,
    )


def error_line(result) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


def corrupt_copy(shards: Path, folder: Path) -> tuple[Path, str]:
    """The shards copied with one image's bytes zeroed inside a valid tar; -> (that tar, member)."""
    folder.mkdir()
    for p in shards.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    tar = folder / "synpat-000001.tar"
    with tarfile.open(tar) as t:
        member = [m for m in t.getmembers() if m.name.endswith(".jpg")][5]
    data = bytearray(tar.read_bytes())
    data[member.offset_data : member.offset_data + member.size] = bytes(member.size)
    tar.write_bytes(bytes(data))
    return tar, member.name


def test_shards_without_index_train_by_steps_and_by_epochs_counted_once(small_shards, tmp_path):
    url = f"pipe:cat {small_shards}/synpat-{{000000..000001}}.tar"
    assert count_tar_samples(expand_urls(url)[0]) == 64
    loader = TorchShardLoader(LoaderConfig(data=url, batch_size=16, image_size=64, loader="torch"), expand_urls(url))
    with pytest.raises(TypeError):
        len(loader)
    loader.count_samples()
    assert len(loader) == 8
    out = tmp_path / "run"
    result = pretrain("--data", url, "--out", out, *FAST, "--epochs", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 17))  # 2 epochs of 128 images / 16
    assert records[-1]["epoch"] == 2


def test_corrupt_content_names_the_tar_and_member_and_leaves_no_output(small_shards, tmp_path):
    tar, member = corrupt_copy(small_shards, tmp_path / "bad")
    expected = f"pretrain: error: --data: {tar}: member {member}: cannot decode (not a readable image)"
    cfg = LoaderConfig(data=str(tar.parent), batch_size=16, image_size=64, loader="torch", num_workers=1)
    with pytest.raises(UserError) as err:
        for _ in TorchShardLoader(cfg, expand_urls(str(tar.parent))):
            pass
    assert f"pretrain: error: {err.value}" == expected
    for loader in ("torch", "dali"):
        out = tmp_path / f"run_{loader}"
        assert (
            error_line(pretrain("--data", tar.parent, "--out", out, "--loader", loader, *FAST, "--epochs", "1"))
            == expected
        )
        assert not out.exists()


def test_used_out_resume_with_other_settings_and_full_disk(small_shards, tmp_path):
    out = tmp_path / "run"
    args = ("--data", small_shards, "--out", out, *FAST)
    assert pretrain(*args, "--steps", "2", "--save-every", "1").returncode == 0
    log = (out / "log.jsonl").read_text()
    assert error_line(pretrain(*args, "--steps", "2")) == (
        f"pretrain: error: --out {out}: holds a run (checkpoints, log.jsonl, tb, recon, config.json, run.json, "
        "encoder.safetensors, encoder.json); pass --resume auto to continue it or --overwrite to replace it"
    )
    assert (out / "log.jsonl").read_text() == log
    line = error_line(
        pretrain(*args, "--steps", "3", "--resume", "auto", "--img-size", "32", "--deepspeed", "zero1_fp32")
    )
    assert line == (
        f"pretrain: error: --resume {out / 'checkpoints' / 'step_00000002'}: made with other settings "
        "(img_size 64 -> 32; zero_stage 0 -> 1; engine 'torch' -> 'deepspeed'); use the checkpoint's settings, "
        "or start a new --out"
    )

    # A full disk while saving: files may grow to 1 MB (a checkpoint needs more): one line, no partial step.
    def small_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2**20, 2**20))

    line = error_line(pretrain(*args, "--steps", "3", "--save-every", "1", "--resume", "auto", preexec_fn=small_disk))
    assert line.startswith(f"pretrain: error: {out / 'checkpoints'}: cannot save checkpoint step_00000003 (")
    assert line.endswith("); is the disk full?")
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["latest.json", "step_00000001", "step_00000002"]
    again = pretrain(*args, "--steps", "3", "--overwrite")
    assert again.returncode == 0, again.stderr[-3000:]
    assert [json.loads(l)["step"] for l in (out / "log.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_bad_numbers_and_files_in_the_config_are_one_line(tmp_path):
    from synpat.train.pretrain_config import parse_config

    def error(*argv) -> str:
        with pytest.raises(UserError) as err:
            parse_config(["--data", "x", *argv])
        return str(err.value)

    assert error("--blr", "inf") == "bad config value blr=inf: not a finite number"
    assert error("--set", "min_lr=nan") == "bad config value min_lr=nan: not a finite number"
    assert error("--min-lr", "1") == (
        "bad config value min_lr=1.0: must not exceed the peak learning rate "
        "blr x batch_size x accum_steps / 256 = 3.75e-05"
    )
    latin = tmp_path / "c.json"
    latin.write_bytes('{"model": "caf\xe9"}'.encode("latin-1"))
    assert error("--config", str(latin)) == f"config file {latin}: not UTF-8 text (byte 14); expected JSON or YAML"
    huge = tmp_path / "h.json"
    huge.write_text('{"blr": 1e999}')
    assert error("--config", str(huge)) == "bad config value blr=inf: not a finite number"


def test_resume_from_a_folder_that_is_no_checkpoint_writes_nothing(small_shards, tmp_path):
    out, nothing = tmp_path / "run", tmp_path / "nothing"
    nothing.mkdir()
    line = error_line(pretrain("--data", small_shards, "--out", out, *FAST, "--steps", "1", "--resume", nothing))
    assert (
        line
        == f"pretrain: error: --resume {nothing}: no rng_rank0.pt (not a pretrain checkpoint, or written by other ranks)"
    )
    assert not out.exists()


def test_a_resume_that_changes_what_is_trained_is_one_line_and_writes_nothing(tmp_path):
    """A resumed stream run must render the checkpoint's samples: another time range, group, family mix,
    filter, program set or batch is refused naming each field, before anything is written; the budget,
    schedules and threads may change, and the programs may move to another folder."""
    shaders = tmp_path / "shaders"
    shaders.mkdir()
    for name in ("fbm", "waves"):
        (shaders / f"{name}.glsl").write_bytes((bundled_shaders_dir() / f"{name}.glsl").read_bytes())
    out = tmp_path / "run"
    args = ("--stream", shaders, "--out", out, *FAST)
    first = pretrain(*args, "--steps", "2", "--save-every", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    checkpoint = out / "checkpoints" / "step_00000002"

    def refused(*changed) -> str:
        line = error_line(pretrain(*args, "--steps", "3", "--resume", "auto", *changed))
        assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before  # nothing written
        prefix = f"pretrain: error: --resume {checkpoint}: made with other settings ("
        suffix = "); use the checkpoint's settings, or start a new --out"
        assert line.startswith(prefix) and line.endswith(suffix), line
        return line.removeprefix(prefix).removesuffix(suffix)

    assert refused("--time-range", "1,5", "--group", "2") == "time_range [0.1, 10.0] -> [1.0, 5.0]; group 0 -> 2"
    assert refused("--mix", "other=1") == "mix None -> {'other': 1.0}"
    assert refused("--min-std", "0.01", "--batch-size", "8") == "min_std 0.0 -> 0.01; batch_size 16 -> 8"
    (shaders / "voronoi.glsl").write_bytes((bundled_shaders_dir() / "voronoi.glsl").read_bytes())
    line = refused()
    assert line.startswith("stream '2 programs sha256 ") and "' -> '3 programs sha256 " in line, line
    assert refused("--stream", bundled_shaders_dir() / "fbm.glsl").startswith("stream '2 programs")
    (shaders / "voronoi.glsl").unlink()

    moved = tmp_path / "moved"
    shaders.rename(moved)
    again = pretrain(
        "--stream", moved, "--out", out, *FAST, "--steps", "3", "--log-every", "3", "--threads", "2", "--resume", "auto"
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()] == [1, 2, 3]

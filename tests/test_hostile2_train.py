"""Issue 24's training defects: one label rule for both loaders (a .cls of letters, a sign, 13
digits), a sample without .cls named under DALI, --mask-ratio 0, Ctrl-C as one line. (The log of a
resumed run, #20, is tested by test_pretrain.py::test_resume_gives_the_same_next_steps.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from synpat.core.errors import UserError
from synpat.gen.shards import encode_image, write_shard
from synpat.train.labels import ascii_labels, parse_label
from synpat.train.loaders import LoaderConfig, build_loader
from test_pretrain import PRETRAIN, TINY, env

IMAGE = encode_image(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8), "jpg", 90)


def shard_with(folder: Path, labels: list[bytes | None]) -> Path:
    """One shard of len(labels) samples; a None label leaves that sample's .cls out."""
    folder.mkdir()
    samples = [(f"{i:09d}", {"jpg": IMAGE, **({} if cls is None else {"cls": cls})}) for i, cls in enumerate(labels)]
    write_shard(folder, "odd-000000", samples)
    return folder / "odd-000000.tar"


def read_all(folder: Path, loader: str) -> list[int]:
    cfg = LoaderConfig(data=str(folder), batch_size=4, image_size=16, loader=loader, num_workers=1, device="cpu")
    return sorted(int(y) for _, labels in build_loader(cfg) for y in labels)


@pytest.mark.parametrize("bad", [b"abc", b"-3", b"1234567890123", b"+4", b"1 2", b""])
@pytest.mark.parametrize("loader", ["dali", "torch"])
def test_one_label_rule_in_both_loaders_with_a_named_error(tmp_path, loader, bad):
    tar = shard_with(tmp_path / "shards", [b"1", b"22", b"3", bad, b"5", b"6", b"7", b"8"])
    with pytest.raises(UserError) as err:
        read_all(tar.parent, loader)
    assert (
        f"--data: {tar}: member 000000003.cls: cannot decode (the .cls holds {bad!r}; expected a class id of 1 "
        "to 9 ASCII digits)" in str(err.value)
    ), str(err.value)


@pytest.mark.parametrize("loader", ["dali", "torch"])
def test_both_loaders_read_the_same_good_labels(tmp_path, loader):
    labels = [b"0", b"7", b"42", b"999999999", b" 12\n", b"5", b"6", b"1000"]
    tar = shard_with(tmp_path / "shards", labels)
    assert read_all(tar.parent, loader) == sorted(parse_label(c) for c in labels)


def test_the_batched_rule_is_the_per_sample_rule():
    rows = [b"7", b"42", b"1000", b"0", b"abc", b"-3", b"1234567890", b"1 2", b"   ", b"\t9\n"]
    width = max(map(len, rows))
    cls = torch.tensor([list(r.ljust(width)) for r in rows], dtype=torch.uint8)
    expected = []
    for r in rows:
        try:
            expected.append(parse_label(r))
        except ValueError:
            expected.append(-1)
    assert ascii_labels(cls).tolist() == expected == [7, 42, 1000, 0, -1, -1, -1, -1, -1, 9]


@pytest.mark.parametrize("loader", ["dali", "torch"])
def test_a_sample_without_cls_is_named(tmp_path, loader):
    tar = shard_with(tmp_path / "shards", [b"1", b"2", None, b"4", b"5", b"6", b"7", b"8"])
    with pytest.raises(UserError) as err:
        read_all(tar.parent, loader)
    if loader == "dali":  # DALI's own message was empty ("Critical error when building pipeline:")
        assert str(err.value) == (
            f"--data: {tar}: sample 000000002: no .cls member (a training sample needs an image "
            "and its .cls; it has jpg)"
        )
    else:  # webdataset's, which names the missing part
        assert "didn't find ['cls']" in str(err.value)


@pytest.mark.parametrize("ratio", ["0", "1", "-0.5", "0.999"])
def test_mask_ratio_must_mask_and_leave_patches(ratio):
    from synpat.train.pretrain_config import parse_config

    why = (
        "must mask at least one of the 16 patches and leave at least one visible" if ratio == "0.999" else "must be in"
    )
    with pytest.raises(UserError, match=f"bad config value mask_ratio={float(ratio)!r}: {why}"):
        parse_config(["--data", "x", "--model", "mae_vit_tiny_patch16", "--img-size", "64", "--mask-ratio", ratio])
    assert parse_config(["--data", "x", "--mask-ratio", "0.5"]).mask_ratio == 0.5


def test_ctrl_c_during_pretraining_is_one_line(tmp_path):
    shards = tmp_path / "shards"
    shard_with(shards, [str(i % 3).encode() for i in range(64)])
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(PRETRAIN),
            *TINY,
            "--data",
            str(shards),
            "--out",
            str(out),
            "--batch-size",
            "8",
            "--steps",
            "100000",
            "--log-every",
            "1",
            "--save-every",
            "2",
            "--recon-every",
            "0",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env(),
        # Ctrl-C at a terminal: a suite started in the background (`cmd &` without job control) has
        # SIGINT ignored, which its children would inherit
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while not (out / "log.jsonl").exists() or len((out / "log.jsonl").read_text().splitlines()) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert err.strip().splitlines()[-1].startswith("pretrain: interrupted"), err[-3000:]
    assert (out / "checkpoints" / "latest.json").exists()

"""PatternStream and the loaders on real shards, real DALI (CPU) and the real renderer."""

import collections
import shutil

import numpy as np
import pytest
import torch
import webdataset as wds
from conftest import run_gen
from synpat.core.errors import UserError
from synpat.gen.source import SourceSpec
from synpat.gen.stream import PatternStream, StreamConfig
from synpat.train.image_aug import MEAN, STD
from synpat.train.labels import ascii_labels
from synpat.train.loaders import LoaderConfig, build_loader

B = 16
LOW = min((0 - m) / s for m, s in zip(MEAN, STD))
HIGH = max((1 - m) / s for m, s in zip(MEAN, STD))


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """96 png images at 32x32 of three programs, 4 shards, seed 5; and the program folder."""
    from conftest import SMALL_SET
    from synpat.gen.programs import bundled_shaders_dir

    root = tmp_path_factory.mktemp("loaders")
    folder = root / "shaders"
    folder.mkdir()
    for name in SMALL_SET:
        shutil.copy(bundled_shaders_dir() / f"{name}.glsl", folder)
    out = root / "shards"
    proc = run_gen(
        "--shaders",
        folder,
        "--out",
        out,
        "--count",
        96,
        "--size",
        32,
        "--shard-size",
        24,
        "--seed",
        5,
        "--format",
        "png",
    )
    assert proc.returncode == 0, proc.stderr
    return out, folder


def spec(folder) -> SourceSpec:
    """The stream's source: the shards' programs at the shards' size and seed."""
    return SourceSpec(shaders=[str(folder)], size=(32, 32), seed=5)


def shard_labels(out) -> list[int]:
    return [int(s["cls"]) for s in wds.WebDataset(str(out / "synpat-{000000..000003}.tar"), shardshuffle=False)]


def test_ascii_labels():
    cls = torch.tensor([list(b"7   "), list(b"42  "), list(b"1000"), list(b"0   ")], dtype=torch.uint8)
    assert ascii_labels(cls).tolist() == [7, 42, 1000, 0]


@pytest.mark.parametrize("engine", ["dali", "torch"])
def test_shard_loader_contract(engine, shards):
    out, _ = shards
    loader = build_loader(LoaderConfig(data=str(out), batch_size=B, image_size=24, loader=engine, num_workers=2))
    assert len(loader) == 96 // B
    for epoch in range(2):
        loader.set_epoch(epoch)
        batches = list(loader)
        assert len(batches) == 96 // B
        labels = torch.cat([y for _, y in batches])
        assert collections.Counter(labels.tolist()) == collections.Counter(shard_labels(out))
        for x, y in batches:
            assert x.shape == (B, 3, 24, 24) and x.dtype == torch.float32 and y.dtype == torch.int64
            assert LOW - 1e-3 <= x.min() and x.max() <= HIGH + 1e-3 and x.std() > 0.2
    first = torch.cat([y for _, y in batches])
    assert first.tolist() != shard_labels(out)  # shuffled, not in file order


def test_dali_ranks_split_the_epoch(shards):
    out, _ = shards
    halves = [
        build_loader(LoaderConfig(data=str(out), batch_size=B, image_size=24, loader="dali", rank=r, world_size=2))
        for r in (0, 1)
    ]
    assert [len(h) for h in halves] == [3, 3]
    labels = [torch.cat([y for _, y in h]).tolist() for h in halves]
    assert collections.Counter(labels[0] + labels[1]) == collections.Counter(shard_labels(out))


def test_stream_is_deterministic_and_ranks_are_disjoint(shards):
    _, folder = shards
    cfg = dict(shaders=[str(folder)], batch_size=B, size=(32, 32), seed=5)
    a, b = PatternStream(StreamConfig(**cfg)), PatternStream(StreamConfig(**cfg))
    for _ in range(2):
        (ia, la), (ib, lb) = next(a), next(b)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(la, lb)
    other = next(PatternStream(StreamConfig(**{**cfg, "seed": 6})))[0]
    assert not np.array_equal(other, PatternStream(StreamConfig(**cfg)).__next__()[0])
    n_steps = 3
    seen = []
    for rank in (0, 1):
        s = PatternStream(StreamConfig(**cfg, rank=rank, world_size=2))
        seen.append(np.concatenate([s.indices(step) for step in range(n_steps)]))
    assert not set(seen[0]) & set(seen[1])
    assert sorted(np.concatenate(seen)) == list(range(2 * n_steps * B))


def test_stream_images_equal_shard_images_byte_for_byte(shards):
    out, folder = shards
    stream = PatternStream(StreamConfig(shaders=[str(folder)], batch_size=B, size=(32, 32), seed=5))
    streamed = [next(stream) for _ in range(96 // B)]
    images = np.concatenate([i for i, _ in streamed])
    labels = np.concatenate([l for _, l in streamed])
    samples = list(wds.WebDataset(str(out / "synpat-{000000..000003}.tar"), shardshuffle=False).decode("rgb8"))
    np.testing.assert_array_equal(images, np.stack([s["png"] for s in samples]))
    np.testing.assert_array_equal(labels, [int(s["cls"]) for s in samples])


@pytest.mark.parametrize("engine", ["dali", "torch"])
def test_stream_loader_contract(engine, shards):
    _, folder = shards
    loader = build_loader(LoaderConfig(source=spec(folder), batch_size=B, image_size=24, loader=engine, seed=5))
    it = iter(loader)
    for _ in range(3):
        x, y = next(it)
        assert x.shape == (B, 3, 24, 24) and x.dtype == torch.float32
        assert y.shape == (B,) and y.dtype == torch.int64 and 0 <= y.min() and y.max() <= 2
        assert LOW - 1e-3 <= x.min() and x.max() <= HIGH + 1e-3
    expect = next(PatternStream(StreamConfig(shaders=[str(folder)], batch_size=B, size=(32, 32), seed=5)))[1]
    first = next(
        iter(build_loader(LoaderConfig(source=spec(folder), batch_size=B, image_size=24, loader=engine, seed=5)))
    )[1]
    assert first.tolist() == expect.tolist()


@pytest.mark.parametrize("engine", ["dali", "torch"])
def test_a_resumed_stream_repeats_the_uninterrupted_batches(engine, shards):
    """The batch at step 2 is the same whether the stream ran from 0 or resumed at 2 (crops included)."""
    _, folder = shards

    def loader(start: int):
        return iter(
            build_loader(
                LoaderConfig(source=spec(folder), batch_size=B, image_size=24, loader=engine, seed=5, start_step=start)
            )
        )

    whole = loader(0)
    batches = [next(whole) for _ in range(3)]
    resumed = next(loader(2))
    torch.testing.assert_close(resumed[0], batches[2][0], rtol=0, atol=0)
    assert resumed[1].tolist() == batches[2][1].tolist()
    assert not torch.equal(batches[0][0], batches[1][0])


def test_dali_and_torch_crop_the_stream_alike(shards):
    """Both paths take the same crop and flip for a step: their outputs agree up to resampling filters."""
    _, folder = shards
    out = [
        next(iter(build_loader(LoaderConfig(source=spec(folder), batch_size=B, image_size=24, loader=engine, seed=5))))[
            0
        ]
        for engine in ("dali", "torch")
    ]
    for dali, plain in zip(*out):
        assert torch.corrcoef(torch.stack([dali.flatten(), plain.flatten()]))[0, 1] > 0.8
        assert (dali - plain).abs().mean() < 0.35


@pytest.mark.parametrize("engine", ["dali", "torch"])
def test_corrupt_or_truncated_tar_is_named(engine, shards, tmp_path):
    out, _ = shards
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    victim = bad / "synpat-000001.tar"
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    with pytest.raises(UserError, match="synpat-000001.tar"):
        list(build_loader(LoaderConfig(data=str(bad), batch_size=B, image_size=24, loader=engine)))
    victim.write_bytes(b"\x00garbage" * 300)
    with pytest.raises(UserError, match="synpat-000001.tar.*not a tar"):
        list(build_loader(LoaderConfig(data=str(bad), batch_size=B, image_size=24, loader=engine)))


def test_bad_loader_config_is_a_user_error(shards, tmp_path):
    out, folder = shards
    with pytest.raises(UserError, match="exactly one"):
        build_loader(LoaderConfig(data=str(out), source=SourceSpec(shaders=[str(folder)])))
    with pytest.raises(UserError, match="--loader"):
        build_loader(LoaderConfig(data=str(out), loader="tf"))
    with pytest.raises(UserError, match="does not exist"):
        build_loader(LoaderConfig(data=str(tmp_path / "x-{000000..000001}.tar")))


@pytest.mark.parametrize("engine", ["dali", "torch"])
def test_a_new_epoch_starts_fresh_after_one_left_early(engine, shards):
    out, _ = shards
    loader = build_loader(LoaderConfig(data=str(out), batch_size=B, image_size=24, loader=engine))
    next(iter(loader))  # leave the first epoch after one batch
    loader.set_epoch(1)
    assert len(list(loader)) == 96 // B


def test_torch_augmentation_is_reproducible_per_batch(shards):
    """Crops depend on (seed, rank, step), so a stream resumed at step k repeats batch k exactly."""
    _, folder = shards
    cfg = dict(source=spec(folder), batch_size=B, image_size=24, loader="torch", seed=5)
    it = iter(build_loader(LoaderConfig(**cfg)))
    batches = [next(it)[0] for _ in range(3)]
    resumed = next(iter(build_loader(LoaderConfig(**cfg, start_step=2))))[0]
    torch.testing.assert_close(resumed, batches[2], rtol=0, atol=0)


@pytest.mark.parametrize("engine", ["dali", "torch"])
def test_a_filtered_stream_feeds_the_loaders_its_kept_samples(engine, shards):
    """With sample filters a stream batch holds the samples of its indices that pass (fewer than B)."""
    _, folder = shards
    source = SourceSpec(shaders=[str(folder)], size=(32, 32), seed=5, min_std=0.16)
    it = iter(build_loader(LoaderConfig(source=source, batch_size=B, image_size=24, loader=engine, seed=5)))
    reference = PatternStream(StreamConfig(**vars(source), batch_size=B))
    sizes = []
    for _ in range(3):
        x, y = next(it)
        samples = reference.next_batch().samples
        assert y.tolist() == samples.program.tolist() and x.shape == (len(samples), 3, 24, 24)
        sizes.append(len(samples))
    assert min(sizes) < B

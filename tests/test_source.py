"""The pattern source (synpat.gen.source): shards and the stream are two loops over it, so they hold the
same samples and the same pixels for every setting; the CLIs take their flags from its spec."""

from dataclasses import asdict, fields

import numpy as np
import pytest
import webdataset as wds
from synpat.core.errors import UserError
from synpat.gen.cli import SOUND, build_parser
from synpat.gen.generate import GenConfig, generate
from synpat.gen.source import PatternSource, SourceSpec
from synpat.gen.stats import stats_row
from synpat.gen.stream import PatternStream, StreamConfig

COUNT, BATCH = 24, 8
BASE = {"size": (24, 24), "seed": 4}
SETTINGS = {  # a non-default value of each setting of the source
    "mix": {"mix": {"procedural_noise": 3.0, "cellular": 1.0}},
    "filters": {"min_std": 0.16},
    "filter_programs": {"max_tv": 0.1, "filter_programs": True},
    "stats": {"stats": True},
    "group": {"group": 3},
    "time_range": {"time_range": (2.0, 4.0)},
    "size": {"size": (40, 16)},
    "seed": {"seed": 9},
    "check_limits": {"check_seconds": 5.0, "max_nan": 0.5},
}


def shard_samples(out) -> list[dict]:
    return list(wds.WebDataset([str(p) for p in sorted(out.glob("*.tar"))], shardshuffle=False).decode("rgb8"))


def streamed(spec: SourceSpec, steps: int) -> tuple:
    """The first ``steps`` batches of a one-rank stream of ``spec`` -> (samples' index, program, time,
    pixels, stats or None), concatenated."""
    with PatternStream(StreamConfig(**vars(spec), batch_size=BATCH)) as stream:
        batches = [stream.next_batch() for _ in range(steps)]
    stats = (
        None
        if batches[0].stats is None
        else {k: np.concatenate([b.stats[k] for b in batches]) for k in batches[0].stats}
    )
    return (
        np.concatenate([b.samples.index for b in batches]),
        np.concatenate([b.samples.program for b in batches]),
        np.concatenate([b.samples.time for b in batches]),
        np.concatenate([b.pixels for b in batches]),
        stats,
    )


@pytest.fixture(scope="module")
def default_shards(tmp_path_factory, small_shaders_module):
    out = tmp_path_factory.mktemp("default") / "shards"
    spec = SourceSpec(shaders=[str(small_shaders_module)], **BASE)
    generate(GenConfig(**vars(spec), out=str(out), count=COUNT, shard_size=10, format="png", workers=1))
    return shard_samples(out)


@pytest.fixture(scope="module")
def small_shaders_module(tmp_path_factory):
    import shutil

    from conftest import SMALL_SET
    from synpat.gen.programs import bundled_shaders_dir

    folder = tmp_path_factory.mktemp("shaders")
    for name in SMALL_SET:
        shutil.copy(bundled_shaders_dir() / f"{name}.glsl", folder)
    return folder


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_stream_equals_shards_for_each_setting(name, small_shaders_module, default_shards, tmp_path):
    spec = SourceSpec(shaders=[str(small_shaders_module)], **{**BASE, **SETTINGS[name]})
    out = tmp_path / "shards"
    summary = generate(GenConfig(**vars(spec), out=str(out), count=COUNT, shard_size=10, format="png", workers=1))
    shards = shard_samples(out)
    index, program, time, pixels, stats = streamed(spec, COUNT // BATCH)

    assert [int(s["__key__"]) for s in shards] == index.tolist()
    assert [int(s["cls"]) for s in shards] == program.tolist()
    assert [s["json"]["time"] for s in shards] == time.tolist()
    np.testing.assert_array_equal(np.stack([s["png"] for s in shards]), pixels)
    assert pixels.shape[1:] == (spec.size[1], spec.size[0], 3)
    if spec.stats:
        assert [s["json"]["stats"] for s in shards] == [stats_row(stats, i) for i in range(len(index))]
    if name == "filters":
        assert 0 < summary["dropped_samples"] == COUNT - len(index)
    if name == "filter_programs":
        assert summary["dropped_programs"] == 1 and program.max() == 1
    same = [s["json"] for s in shards] == [s["json"] for s in default_shards]
    assert same == (name == "check_limits")  # the limits only decide which programs pass: here all of them


def test_a_source_renders_any_range_alike(small_shaders):
    """The samples of [8, 16) are the same rendered alone or inside [0, 24), with sample filters too."""
    spec = SourceSpec(shaders=[str(small_shaders)], size=(24, 24), seed=2, min_std=0.16, stats=True)
    with PatternSource(spec) as source:
        whole = source.render(0, 24)
        part = source.render(8, 16)
    rows = np.flatnonzero((whole.samples.index >= 8) & (whole.samples.index < 16))
    assert whole.samples.index[rows].tolist() == part.samples.index.tolist() and len(whole.samples) < 24
    np.testing.assert_array_equal(whole.pixels[rows], part.pixels)
    np.testing.assert_array_equal(whole.stats["std"][rows], part.stats["std"])


def test_spec_validation_names_the_setting():
    for bad, flag in (
        ({"group": 0}, "--group"),
        ({"time_range": (5.0, 1.0)}, "--time-range"),
        ({"max_nan": 2.0}, "--max-nan"),
        ({"min_std": 3.0}, "--min-std"),
        ({"filter_programs": True}, "--filter-programs"),
        ({"mix": {"a": -1.0}}, "--mix"),
        ({"backend": "vulkan"}, "--backend"),
        ({"sample_rate": 0}, "--sample-rate"),
    ):
        with pytest.raises(UserError, match=flag):
            SourceSpec(shaders=["x"], **bad).validate()
    with pytest.raises(UserError, match="batch size"):
        PatternStream(StreamConfig(shaders=["x"], batch_size=0))


def test_synpat_gen_flags_are_the_config_fields():
    """Every GenConfig field (the sound programs' settings too, in a group of their own) is a flag with
    the field's default."""
    defaults = vars(build_parser().parse_args([]))
    assert defaults == asdict(GenConfig())
    assert set(SOUND) <= set(defaults)
    args = vars(
        build_parser().parse_args(
            ["--mix", "a=1,b=2", "--time-range", "1,2", "--size", "8x4", "--stats", "--group", "3", "--max-tv", "0.5"]
        )
    )
    cfg = GenConfig(**args)
    assert (cfg.mix, cfg.time_range, cfg.size, cfg.stats, cfg.group, cfg.max_tv) == (
        {"a": 1.0, "b": 2.0},
        (1.0, 2.0),
        (8, 4),
        True,
        3,
        0.5,
    )
    assert {f.name for f in fields(SourceSpec)} <= {f.name for f in fields(GenConfig)}

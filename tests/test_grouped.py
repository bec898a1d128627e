"""Many programs at speed: runs of one program in the sampler, a bounded cache of compiled
programs, grouped rendering equal to per-image rendering, and stream == shards with runs."""

import json

import numpy as np
import pytest
import webdataset as wds
from conftest import run_gen
from synpat.core.errors import UserError
from synpat.gen.programs import find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler, default_group
from synpat.gen.stream import PatternStream, StreamConfig


def test_runs_are_balanced_and_group_1_is_the_old_sampler():
    s = Sampler(7, seed=3, group=4).range(0, 7 * 4 * 3)
    runs = s.program.reshape(-1, 4)
    assert (runs == runs[:, :1]).all()  # each run is one program
    for block in runs[:, 0].reshape(3, 7):
        assert sorted(block) == list(range(7))  # each block of runs holds every program once
    assert len(set(s.seed)) == len(s) and len({tuple(p) for p in s.params}) == len(s)  # per-sample inputs still differ
    one = Sampler(7, seed=3).range(0, 50)
    np.testing.assert_array_equal(one.program, Sampler(7, seed=3, group=1).range(0, 50).program)
    np.testing.assert_array_equal(s.seed, Sampler(7, seed=3).range(0, 84).seed)  # only the program depends on group
    assert [default_group(n) for n in (16, 64, 65, 1000, 1024, 1025, 21000)] == [1, 1, 16, 16, 16, 64, 64]


def test_grouped_rendering_equals_one_image_at_a_time_byte_for_byte():
    programs = find_programs(["procedural:40@1"])
    samples = Sampler(40, seed=2, group=4).range(0, 64)
    grouped = Renderer(32, 32, backend="compute").render_many(programs, samples)
    single = Renderer(32, 32, backend="compute", max_batch=1)
    for row in range(len(samples)):
        one = samples.take(np.array([row]))
        np.testing.assert_array_equal(single.render(programs[int(one.program[0])], one)[0], grouped[row])
    assert len({int(p) for p in samples.program}) == 16 and grouped.reshape(64, -1).std(axis=1).min() > 1


def test_compiled_programs_are_bounded_and_an_evicted_program_renders_the_same():
    programs = find_programs(["procedural:12@2"])
    renderer = Renderer(32, 32, backend="compute", cache_programs=5)
    samples = Sampler(12, seed=1).range(0, 12)
    first = renderer.render_many(programs, samples)
    assert len(renderer._compiled) == 5
    again = renderer.render_many(programs, samples)  # every program was evicted and rebuilt
    np.testing.assert_array_equal(first, again)
    assert len(renderer._compiled) == 5


def test_stream_equals_shards_with_runs_and_the_manifest_records_the_group(tmp_path):
    out = tmp_path / "shards"
    proc = run_gen(
        "--shaders",
        "procedural:6@4",
        "--out",
        out,
        "--count",
        48,
        "--size",
        32,
        "--shard-size",
        16,
        "--seed",
        5,
        "--format",
        "png",
        "--group",
        4,
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["group"] == 4
    stream = PatternStream(StreamConfig(shaders=["procedural:6@4"], batch_size=8, size=(32, 32), seed=5, group=4))
    streamed = [next(stream) for _ in range(6)]
    samples = list(wds.WebDataset(str(out / "synpat-{000000..000002}.tar"), shardshuffle=False).decode("rgb8"))
    np.testing.assert_array_equal(np.concatenate([i for i, _ in streamed]), np.stack([s["png"] for s in samples]))
    labels = np.concatenate([l for _, l in streamed])
    np.testing.assert_array_equal(labels, [int(s["cls"]) for s in samples])
    assert (labels.reshape(-1, 4) == labels.reshape(-1, 4)[:, :1]).all()
    with pytest.raises(UserError, match="group"):
        PatternStream(StreamConfig(shaders=["procedural:6"], group=0))

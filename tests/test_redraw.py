"""One-colour samples are drawn again (synpat.gen.redraw): fade-ins keep their program and lose
their black frames, in shards and in the stream alike, and every sample's json reproduces it."""

import json
import re

import numpy as np
import pytest
import webdataset as wds
from conftest import run_gen
from synpat.gen.programs import find_programs
from synpat.gen.redraw import CONSTANT_RANGE, REDRAWS, Redraws
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler, Samples
from synpat.gen.stream import PatternStream, StreamConfig

# black until iTime 4 (40% of the default range), then a pattern that moves with iSeed
FADE_IN = """
void mainImage(out vec4 c, in vec2 p) {
    vec2 uv = p / iResolution.xy;
    float on = step(4.0, iTime);
    c = vec4(on * (0.5 + 0.5 * sin(9.0 * uv.x + float(iSeed % 97u) + 3.0 * uv.y)), on * uv.y, on * 0.4, 1.0);
}
"""
# one colour for odd iSeed: a draw is flat half of the time, whatever iTime is
ODD_SEED_FLAT = """
void mainImage(out vec4 c, in vec2 p) {
    float flat_ = float(iSeed & 1u);
    c = vec4(mix(p.x / iResolution.x, 0.3, flat_), mix(fract(iTime), 0.6, flat_), 0.2, 1.0);
}
"""
ALWAYS_FLAT = "void mainImage(out vec4 c, in vec2 p) { c = vec4(0.2, 0.4, 0.6, 1.0); }\n"


def spread(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N,) widest channel range."""
    flat = images.reshape(len(images), -1, 3).astype(int)
    return (flat.max(axis=1) - flat.min(axis=1)).max(axis=1)


@pytest.fixture
def fade_folder(tmp_path):
    folder = tmp_path / "programs"
    folder.mkdir()
    (folder / "fade_in.glsl").write_text(FADE_IN)
    (folder / "odd_seed_flat.glsl").write_text(ODD_SEED_FLAT)
    return folder


def test_a_redraw_keeps_index_and_program_and_is_a_pure_function_of_the_attempt():
    sampler = Sampler(5, seed=3)
    first = sampler.range(0, 200)
    again = sampler.redraw(first, 1)
    np.testing.assert_array_equal(again.index, first.index)
    np.testing.assert_array_equal(again.program, first.program)
    assert (again.time != first.time).all() and (again.seed != first.seed).mean() > 0.99
    assert (again.params != first.params).all()
    lo, hi = sampler.time_range
    assert lo <= again.time.min() and again.time.max() < hi and 0 <= again.params.min() and again.params.max() < 1
    np.testing.assert_array_equal(sampler.redraw(first, 1).seed, again.seed)  # pure
    assert (sampler.redraw(first, 2).time != again.time).all()  # attempts differ
    np.testing.assert_array_equal(sampler.redraw(first.take(np.arange(50, 60)), 1).time, again.time[50:60])
    assert Sampler(5, seed=4).redraw(first, 1).time[0] != again.time[0]  # the run's seed counts


def test_samples_replace_copies_and_leaves_the_original_alone():
    a = Sampler(3, seed=0).range(0, 6)
    b = Sampler(3, seed=1).range(10, 12)
    c = a.replace(np.array([1, 4]), b)
    np.testing.assert_array_equal(c.index, [0, 10, 2, 3, 11, 5])
    np.testing.assert_array_equal(c.time[[1, 4]], b.time)
    assert a.index[1] == 1 and isinstance(c, Samples)


def test_renderer_draws_one_colour_samples_again_and_counts_what_stays_flat(fade_folder, tmp_path):
    programs = find_programs([str(fade_folder)], 0)
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "always_flat.glsl").write_text(ALWAYS_FLAT)
    programs += find_programs([str(tmp_path / "flat")], 0)
    renderer = Renderer(24, backend="compute", max_batch=16)  # several chunks
    sampler = Sampler(len(programs), seed=2)
    samples = sampler.range(0, 60)
    plain = renderer.render_many(programs, samples)
    redraws = Redraws(sampler.redraw)
    images, rendered = renderer.render_varied(programs, samples, redraws)
    flat_before = spread(plain) <= CONSTANT_RANGE
    flat_after = spread(images) <= CONSTANT_RANGE
    always = samples.program == 2
    assert redraws.redrawn == int(flat_before.sum()) and flat_before[~always].sum() >= 10
    assert redraws.constant == int(flat_after.sum()) and flat_after[always].all()
    assert flat_after[~always].sum() <= flat_before[~always].sum() // 4  # ~1/16 of them stay flat
    np.testing.assert_array_equal(rendered.program, samples.program)
    np.testing.assert_array_equal(rendered.index, samples.index)
    kept = ~flat_before
    np.testing.assert_array_equal(images[kept], plain[kept])  # good draws untouched
    for name in ("time", "seed", "params"):
        np.testing.assert_array_equal(getattr(rendered, name)[kept], getattr(samples, name)[kept])
    changed = flat_before & ~always
    assert (rendered.time[changed] != samples.time[changed]).all()
    np.testing.assert_array_equal(renderer.render_many(programs, rendered), images)  # the record reproduces it
    fragment = Renderer(24, backend="fragment", max_batch=16)
    np.testing.assert_array_equal(fragment.render_varied(programs, samples, Redraws(sampler.redraw))[0], images)
    assert REDRAWS >= 1


def test_synpat_gen_writes_no_fade_in_black_frames_and_the_stream_shows_the_same(fade_folder, tmp_path):
    out = tmp_path / "shards"
    args = ("--shaders", fade_folder, "--count", 60, "--size", 24, "--shard-size", 20, "--seed", 5, "--format", "png")
    proc = run_gen(*args, "--out", out)
    assert proc.returncode == 0, proc.stderr
    summary = proc.stderr.strip().splitlines()[-1]
    assert "from 2 programs (0 rejected)" in summary, summary
    redrawn, constant = (
        int(x) for x in re.search(r"(\d+) one-colour samples drawn again \((\d+) still", summary).groups()
    )
    assert redrawn >= 15 and constant <= redrawn // 4  # ~45% of 60 first draws; ~1/16 of them stay flat
    samples = list(wds.WebDataset(str(out / "synpat-{000000..000002}.tar"), shardshuffle=False).decode("rgb8"))
    images = np.stack([s["png"] for s in samples])
    assert (spread(images) <= CONSTANT_RANGE).sum() == constant
    fade = [s for s in samples if s["json"]["program"] == "fade_in" and spread(s["png"][None])[0] > CONSTANT_RANGE]
    assert len(fade) >= 20 and min(s["json"]["time"] for s in fade) >= 4.0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["redraws"] == {"tries": REDRAWS, "constant_range": CONSTANT_RANGE}

    # each json reproduces its image
    programs = find_programs([str(fade_folder)], 5)
    meta = [s["json"] for s in samples]
    record = Samples(
        np.arange(60),
        np.array([m["class"] for m in meta]),
        np.array([m["time"] for m in meta], np.float32),
        np.array([m["seed"] for m in meta], np.uint32),
        np.array([m["params"] for m in meta], np.float32),
    )
    np.testing.assert_array_equal(Renderer(24, max_batch=20).render_many(programs, record), images)

    stream = PatternStream(StreamConfig(shaders=[str(fade_folder)], batch_size=12, size=(24, 24), seed=5))
    np.testing.assert_array_equal(np.concatenate([next(stream)[0] for _ in range(5)]), images)
    assert (stream.redraws.redrawn, stream.redraws.constant) == (redrawn, constant)

    again = run_gen(*args, "--out", tmp_path / "again")  # a second run writes the same bytes
    assert again.returncode == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "again").glob("*.tar")} == {
        p.name: p.read_bytes() for p in out.glob("*.tar")
    }


def test_filter_programs_judges_probes_after_redraws(tmp_path):
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / "late_fade.glsl").write_text(FADE_IN.replace("step(4.0, iTime)", "step(7.0, iTime)"))  # black 70%
    out = tmp_path / "shards"
    proc = run_gen(
        "--shaders",
        folder,
        "--out",
        out,
        "--count",
        20,
        "--size",
        24,
        "--shard-size",
        20,
        "--stats",
        "--min-std",
        0.02,
        "--filter-programs",
    )
    assert proc.returncode == 0, proc.stderr
    assert "filters dropped 0 of 20 samples and 0 programs" in proc.stderr.splitlines()[-1], proc.stderr


def test_one_colour_samples_a_filter_drops_are_not_counted_as_written(fade_folder, tmp_path):
    args = ("--shaders", fade_folder, "--count", 80, "--size", 24, "--shard-size", 40, "--seed", 5, "--format", "png")
    plain = run_gen(*args, "--out", tmp_path / "plain")
    flat = int(re.search(r"\((\d+) still one colour, written\)", plain.stderr).group(1))
    assert flat >= 1, plain.stderr  # this seed leaves some samples one colour
    proc = run_gen(*args, "--out", tmp_path / "filtered", "--stats", "--min-std", 0.01)
    summary = proc.stderr.strip().splitlines()[-1]
    assert "(0 still one colour, written)" in summary, summary
    assert int(re.search(r"filters dropped (\d+) of 80", summary).group(1)) >= flat

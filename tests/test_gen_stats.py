"""synpat-gen --stats, the statistic filters and --mix: real renders, real tars."""

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import run_gen
from synpat.gen.filters import PROBES, StatFilters, filter_programs
from synpat.gen.programs import Program, find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler
from synpat.gen.source import family_mix

COMMON = ("--size", "32", "--shard-size", "20", "--seed", "3", "--format", "png")


def samples(folder: Path) -> dict[str, dict]:
    """key -> the sample's json, over every shard of a folder."""
    out = {}
    for path in sorted(folder.glob("*.tar")):
        with tarfile.open(path) as tar:
            for m in tar:
                if m.name.endswith(".json"):
                    out[m.name.split(".")[0]] = json.loads(tar.extractfile(m).read())
    return out


def test_stats_in_json_and_max_tv_drops_exactly_the_samples_above(small_shaders, tmp_path):
    full = tmp_path / "full"
    proc = run_gen("--shaders", small_shaders, "--out", full, "--count", 50, "--stats", *COMMON)
    assert proc.returncode == 0, proc.stderr
    every = samples(full)
    assert len(every) == 50
    s = every["000000000"]["stats"]
    assert set(s) == {"colour_entropy", "brightness_entropy", "total_variation", "edge_density", "mean", "std"}
    assert 0 < s["total_variation"] < 1 and 0 < s["brightness_entropy"] <= 8 and len(s["std"]) == 3
    tvs = sorted(m["stats"]["total_variation"] for m in every.values())
    limit = tvs[30]  # keeps the 31 lowest (ties aside)
    want = {k for k, m in every.items() if m["stats"]["total_variation"] <= limit}

    part = tmp_path / "part"
    proc = run_gen("--shaders", small_shaders, "--out", part, "--count", 50, "--stats", "--max-tv", limit, *COMMON)
    assert proc.returncode == 0, proc.stderr
    kept = samples(part)
    assert set(kept) == want and 0 < len(want) < 50
    assert all(kept[k] == every[k] for k in kept)  # the same samples, unchanged
    assert f"filters dropped {50 - len(want)} of 50 samples" in proc.stderr.splitlines()[-1]
    filtered = json.loads((part / "manifest.json").read_text())["filtered"]
    assert filtered == {
        "filters": {"max_tv": limit},
        "programs_dropped": 0,
        "samples_dropped": 50 - len(want),
        "samples_kept": len(want),
    }

    # resume with the filters on: remove a shard, finish the run: the same bytes
    before = {p.name: p.read_bytes() for p in part.glob("*.tar")}
    (part / "synpat-000001.tar").unlink()
    proc = run_gen(
        "--shaders", small_shaders, "--out", part, "--count", 50, "--stats", "--max-tv", limit, "--resume", *COMMON
    )
    assert proc.returncode == 0, proc.stderr
    assert {p.name: p.read_bytes() for p in part.glob("*.tar")} == before
    assert json.loads((part / "manifest.json").read_text())["filtered"]["samples_dropped"] == 50 - len(want)
    # other filters than the run's: refused
    proc = run_gen(
        "--shaders", small_shaders, "--out", part, "--count", 50, "--stats", "--max-tv", 0.5, "--resume", *COMMON
    )
    assert proc.returncode == 2 and "stats" in proc.stderr and "Traceback" not in proc.stderr


def test_min_std_and_max_edge_filters():
    stats = {
        "total_variation": np.array([0.1, 0.2, 0.3]),
        "edge_density": np.array([0.0, 0.5, 0.1]),
        "std": np.array([[0.1, 0.1, 0.1], [0.3, 0.3, 0.3], [0.0, 0.0, 0.3]]),
    }
    assert StatFilters(min_std=0.09).passes(stats).tolist() == [True, True, True]
    assert StatFilters(min_std=0.15).passes(stats).tolist() == [False, True, False]
    assert StatFilters(max_edge=0.2).passes(stats).tolist() == [True, False, True]
    assert StatFilters(max_tv=0.25, max_edge=0.2).passes(stats).tolist() == [True, False, False]
    assert not StatFilters().active and StatFilters().passes(stats).all()


def test_filter_programs_drops_the_programs_whose_probes_fail(tmp_path):
    flat = Program("flat", "/p/flat.glsl", "void mainImage(out vec4 c, in vec2 f) { c = vec4(f.x / iResolution.x); }")
    noisy = Program(
        "noisy",
        "/p/noisy.glsl",
        """
        uint h(uint v) { v ^= v >> 16; v *= 0x7feb352du; v ^= v >> 15; return v; }
        void mainImage(out vec4 c, in vec2 f) {
            c = vec4(vec3(float(h(uint(f.x) * 977u + uint(f.y) * 131u + iSeed) & 255u) / 255.0), 1.0); }""",
    )
    kept, dropped = filter_programs(
        Renderer(32, backend="compute"), [flat, noisy], StatFilters(max_tv=0.1), (0.1, 10.0)
    )
    assert kept == [flat] and [p for p, _ in dropped] == [noisy]
    assert f"{PROBES} of {PROBES} probe images fail (median TV" in dropped[0][1]
    for p in (flat, noisy):
        (tmp_path / f"{p.name}.glsl").write_text(p.source)
    out = tmp_path / "out"
    proc = run_gen(
        "--shaders",
        tmp_path / "flat.glsl",
        tmp_path / "noisy.glsl",
        "--out",
        out,
        "--count",
        10,
        "--max-tv",
        0.1,
        "--filter-programs",
        *COMMON,
    )
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["name"] for p in manifest["programs"]] == ["flat"]
    assert [p["name"] for p in manifest["rejected"]] == ["noisy"] and "filtered out" in manifest["rejected"][0][
        "reason"
    ]
    assert manifest["filtered"]["programs_dropped"] == 1 and manifest["filtered"]["samples_dropped"] == 0
    assert len(samples(out)) == 10


def test_mix_shares_within_two_percent_over_10k(bundled_programs):
    mix = {"dead_leaves": 3.0, "fractaldb": 1.0, "statistical": 1.0, "random_network": 0.5}
    family_of, weights = family_mix(bundled_programs, mix)
    sampler = Sampler(len(bundled_programs), seed=7, mix=(family_of, weights))
    program = sampler.range(0, 10_000).program
    family = np.array([bundled_programs[p].family for p in program])
    total = sum(mix.values())
    for name, w in mix.items():
        assert abs((family == name).mean() - w / total) <= 0.02, name
    members = {p.name for p in bundled_programs if p.family == "dead_leaves"}
    used = {bundled_programs[p].name for p in program if bundled_programs[p].family == "dead_leaves"}
    assert used == members  # every member of a family is drawn
    np.testing.assert_array_equal(sampler.range(4321, 4400).program, program[4321:4400])  # stateless
    with pytest.raises(Exception, match="no program of family 'nope'"):
        family_mix(bundled_programs, {"nope": 1.0})


def test_mix_on_the_command_line(tmp_path):
    shaders = find_programs([Path(__file__).resolve().parents[1] / "shaders"])
    folder = tmp_path / "s"
    folder.mkdir()
    for p in shaders:
        if p.name in ("fbm", "marble", "dl_squares", "voronoi"):
            (folder / f"{p.name}.glsl").write_text(p.source)
    out = tmp_path / "out"
    proc = run_gen(
        "--shaders", folder, "--out", out, "--count", 40, "--mix", "dead_leaves=1,procedural_noise=1", *COMMON
    )
    assert proc.returncode == 0, proc.stderr
    got = samples(out)
    families = [m["family"] for m in got.values()]
    assert families.count("dead_leaves") == 20 and families.count("procedural_noise") == 20  # exact per block
    assert "voronoi" not in {m["program"] for m in got.values()}

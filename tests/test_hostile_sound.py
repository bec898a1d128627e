"""Sound programs as a hostile user and a newcomer meet them (issue 20's features): clips longer
than one row of compute work groups, files that are not sound programs in a folder of them,
procedural-sound seeds out of range, damaged sound shards fed to the viewer, the statistics and
pre-training. Small: clips of 0.25 s at 8 kHz, a few dozen at most."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_gen
from synpat.gen.programs import Program, find_programs, run_kind
from synpat.gen.sampler import Sampler
from synpat.gen.sound_renderer import SoundRenderer
from test_sound_gen import BEAT, TONE, one_error_line

RATE = 8000
COMMON = ("--duration", "0.25", "--sample-rate", str(RATE), "--shard-size", "8", "--seed", "5", "--workers", "1")


@pytest.fixture
def sounds(tmp_path) -> Path:
    folder = tmp_path / "sounds"
    folder.mkdir()
    (folder / "tone.glsl").write_text(TONE)
    (folder / "beat.glsl").write_text(BEAT)
    return folder


# -- long clips: more samples than one row of work groups ----------------------------------------


def test_a_clip_longer_than_one_row_of_compute_groups_renders_every_sample():
    """GL caps a dispatch at 65535 groups along x (64 samples each): 4,194,240 samples, 262 s at
    16 kHz, 11 s at 384 kHz. A longer clip rendered nothing at all (the dispatch failed silently), so
    every probe was silent and the program was rejected as such."""
    tone = Program(
        "tone", "tone.glsl", "vec2 mainSound(int samp, float time) { return vec2(0.5 * sin(628.31853 * time)); }\n"
    )
    probe = Sampler(1, seed=1).range(0, 1)
    waves = {}
    for backend in ("compute", "fragment"):
        with SoundRenderer(sample_rate=1000, duration=4200.0, backend=backend, max_batch=1) as renderer:
            assert renderer.length == 4_200_000 > 65535 * 64
            wave, levels, _ = renderer.render_measured([tone], probe)
            waves[backend] = wave
        assert levels[0, 0] == pytest.approx(0.125, rel=1e-3)  # mean square of a 0.5 sine
        assert np.abs(wave[0, 0, -1000:]).max() == pytest.approx(0.5, abs=1e-3)  # the last second too
    np.testing.assert_allclose(waves["compute"], waves["fragment"], atol=1e-5)


# -- files that are not sound programs among sound programs ---------------------------------------


def test_an_empty_file_and_a_mainsound_returning_float_are_rejected_programs_not_a_mixed_run(sounds, tmp_path):
    """An empty file (no mainImage either) made a sound folder 'image and sound programs in one run'
    (it 'draws images'), and so did `float mainSound(float time)`; each is one rejected program with
    its reason, and the sound programs are written."""
    (sounds / "empty.glsl").write_text("")
    (sounds / "mono.glsl").write_text("float mainSound(float time) { return 0.3 * sin(6.2831853 * 300.0 * time); }\n")
    assert run_kind(find_programs([sounds])) == "sound"
    out = tmp_path / "out"
    proc = run_gen("--shaders", sounds, "--out", out, "--count", 8, *COMMON)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"{sounds / 'empty.glsl'}: not a sound program (no `vec2 mainSound(int samp, float time)`)" in proc.stderr
    assert f"{sounds / 'mono.glsl'}: error: could not implicitly convert return value to vec2" in proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["name"] for p in manifest["programs"]] == ["beat", "tone"]
    assert sorted(r["name"] for r in manifest["rejected"]) == ["empty", "mono"]
    # an image program among them is still a mixed run
    (sounds / "img.glsl").write_text("void mainImage(out vec4 c, in vec2 p) { c = vec4(p.x); }\n")
    line = one_error_line(run_gen("--shaders", sounds, "--out", tmp_path / "mixed", "--count", 8, *COMMON))
    assert "image and sound programs in one run" in line and "img.glsl draws images" in line


# -- procedural-sound seeds -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["-1", str(2**64)])
def test_a_procedural_sound_seed_out_of_range_is_refused(seed, tmp_path):
    """procedural-sound:N@2**64 rendered seed 0's programs under another name (64-bit hashing), and
    @-1 was taken too; procedural:N@SEED refuses both."""
    out = tmp_path / "out"
    line = one_error_line(run_gen("--shaders", f"procedural-sound:2@{seed}", "--out", out, "--count", 4, *COMMON))
    assert f"--shaders procedural-sound:2@{seed}: expected a seed in 0..18446744073709551615 (64 bits)" in line
    assert not out.exists()

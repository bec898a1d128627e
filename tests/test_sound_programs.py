"""Sound programs on the real renderer (Mesa llvmpipe here): wrapping, rendering, checks, FLAC, statistics."""

import numpy as np
import pytest
from synpat.core.errors import UserError
from synpat.gen import sound_grammar
from synpat.gen.checks import CheckSettings, accept_programs
from synpat.gen.flac import decode_flac, encode_flac
from synpat.gen.programs import Program, find_programs, run_kind
from synpat.gen.redraw import Redraws
from synpat.gen.renderer import CompileError
from synpat.gen.sampler import Sampler
from synpat.gen.sound_renderer import SILENT_DBFS, SoundRenderer
from synpat.gen.sound_stats import log_mel, sound_stats

RATE = 8000
TONE_2 = "vec2 mainSound(int samp, float time) { return vec2(0.5 * sin(6.2831853 * 440.0 * time)); }"
TONE_1 = "vec2 mainSound( float time ) { return vec2(0.5 * sin(6.2831853 * 440.0 * time), 0.25); }"
NAN = "vec2 mainSound(float time) { return vec2(sqrt(-1.0 - time)); }"
SILENT = "vec2 mainSound(float time) { return vec2(0.0); }"
LOUD = "vec2 mainSound(float time) { return vec2(2.0 * sin(6.2831853 * 100.0 * time)); }"
# silent unless iParams.x > 0.5: a run draws the silent ones again
SOMETIMES = (
    "vec2 mainSound(float time) { return iParams.x > 0.5 ? vec2(0.3 * sin(6.2831853 * 300.0 * time)) : vec2(0.0); }"
)


def program(source: str, name: str = "t") -> Program:
    return Program(name=name, path=f"/sounds/{name}.glsl", source=source)


@pytest.fixture(scope="module")
def compute():
    return SoundRenderer(RATE, 0.5, 1, backend="compute", max_batch=4)


@pytest.fixture(scope="module")
def fragment():
    return SoundRenderer(RATE, 0.5, 1, backend="fragment", max_batch=4)


def peak_hz(waves: np.ndarray, rate: int) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(waves[:, 0], axis=1))
    spectrum[:, 0] = 0.0  # the mean (TONE_1's right channel is 0.25)
    return np.fft.rfftfreq(waves.shape[-1], 1.0 / rate)[spectrum.argmax(axis=1)]


@pytest.mark.parametrize("source", [TONE_2, TONE_1], ids=["samp-time", "time"])
def test_440_hz_peaks_at_440_on_both_backends_and_they_agree(source, compute, fragment):
    assert program(source).kind == "sound"
    samples = Sampler(1, seed=3).range(0, 9)  # 9 clips over 3 chunks of 4
    a, b = compute.render(program(source), samples), fragment.render(program(source), samples)
    assert a.shape == (9, 1, 4000) and a.dtype == np.float32
    np.testing.assert_array_equal(peak_hz(a, RATE), 440.0)
    np.testing.assert_allclose(a, b, atol=1e-5)
    # clip i starts at sample round(iTime x rate): its first value is the tone at that time
    start = np.round(samples.time.astype(np.float64) * RATE) / RATE
    np.testing.assert_allclose(
        a[:, 0, 0],
        0.5 * np.sin(2 * np.pi * 440 * start) * (1.0 if source == TONE_2 else 0.5)
        + (0.0 if source == TONE_2 else 0.125),
        atol=2e-3,
    )


def test_stereo_keeps_both_channels_and_mono_is_their_mean():
    samples = Sampler(1, seed=1).range(0, 3)
    stereo = SoundRenderer(RATE, 0.25, 2, backend="compute").render(program(TONE_1), samples)
    mono = SoundRenderer(RATE, 0.25, 1, backend="compute").render(program(TONE_1), samples)
    assert stereo.shape == (3, 2, 2000) and mono.shape == (3, 1, 2000)
    np.testing.assert_allclose(stereo[:, 1], 0.25)
    np.testing.assert_allclose(mono[:, 0], stereo.mean(axis=1), atol=1e-6)


def test_compile_errors_name_the_file_and_line(compute):
    with pytest.raises(CompileError, match=r"^/sounds/bad\.glsl:3: .*undeclared"):
        compute.compile(program("// a comment\nvec2 mainSound(float t) {\n    return vec2(nothing);\n}\n", "bad"))
    with pytest.raises(
        CompileError, match=r"in the call of mainSound: is there a `vec2 mainSound\(int samp, float time\)`"
    ):
        compute.compile(program("// kind: sound\nvec2 mainSound(vec3 p) { return p.xy; }\n", "wrong"))
    with pytest.raises(UserError, match="kind: sound.*none found"):
        _ = program("// kind: sound\nvoid mainImage(out vec4 c, in vec2 f) { c = vec4(1.0); }\n").kind


def test_nan_and_silent_programs_are_rejected_with_their_reason_and_good_ones_kept():
    programs = [
        program(TONE_2, "tone"),
        program(NAN, "nan"),
        program(SILENT, "silent"),
        program(SOMETIMES, "sometimes"),
    ]
    accepted, rejected = accept_programs(programs, CheckSettings(1, 1, kind="sound", sample_rate=RATE, duration=0.25))
    assert [p.name for p in accepted] == ["tone", "sometimes"]
    reasons = dict((p.name, r) for p, r in rejected)
    assert reasons["nan"] == "/sounds/nan.glsl: renders NaN in 100% of its probe clips' samples (--max-nan 0.99)"
    assert reasons["silent"].startswith(
        f"/sounds/silent.glsl: renders silence (8 of 8 probe clips below {SILENT_DBFS:g} dBFS"
    )


def test_silent_clips_are_drawn_again_and_loud_ones_clipped_and_counted(compute):
    sampler = Sampler(1, seed=4)
    samples = sampler.range(0, 40)
    redraws = Redraws(sampler.redraw)
    waves, levels, rendered = compute.render_measured([program(SOMETIMES)], samples, redraws)
    quiet = samples.params[:, 0] <= 0.5
    assert redraws.redrawn == int(quiet.sum()) >= 10
    assert redraws.constant <= redraws.redrawn // 4  # ~1/16 stay silent after 3 draws
    rms = np.sqrt((waves.astype(np.float64) ** 2).mean(axis=(1, 2)))
    assert (rms < 1e-3).sum() == redraws.constant
    np.testing.assert_array_equal(rendered.params[~quiet], samples.params[~quiet])  # good draws untouched
    assert (rendered.params[quiet & (rms > 1e-3), 0] > 0.5).all()
    loud, levels, _ = compute.render_measured([program(LOUD)], samples.take(np.arange(3)))
    assert loud.min() == -1.0 and loud.max() == 1.0
    assert 0.6 < levels[:, 2].min() and levels[:, 2].max() < 0.72  # |2 sin| > 1 for 2/3 of the samples
    nan, levels, _ = compute.render_measured([program(NAN)], samples.take(np.arange(2)))
    assert (nan == 0).all() and (levels[:, 1] == 1.0).all()


def test_same_samples_same_bytes_whatever_the_batch_and_the_readback_callback(compute):
    programs = find_programs(["bundled:sounds"])[:3]
    samples = Sampler(3, seed=7).range(0, 7)
    a = compute.render_many(programs, samples)
    b = SoundRenderer(RATE, 0.5, 1, backend="compute", max_batch=3).render_many(programs, samples)
    np.testing.assert_array_equal(a, b)
    # the callback path the CUDA copy uses: clips sorted by program, read while they are in the SSBO
    sorted_clips = np.empty_like(a)

    def read(first, n):
        compute.output_buffer.read_into(sorted_clips[first : first + n], size=n * a[0].nbytes)

    order, levels, _ = compute.render_in_program_order(programs, samples, read)
    np.testing.assert_array_equal(np.clip(sorted_clips, -1, 1), a[order])
    assert (np.diff(samples.program[order]) >= 0).all() and levels.shape == (7, 3)


def test_bundled_sound_programs_32_in_8_families_all_render_distinct_clips():
    programs = find_programs(["bundled:sounds"])
    families = {p.family for p in programs}
    assert len(programs) >= 32 and len(families) >= 8, (len(programs), families)
    assert run_kind(programs) == "sound"
    r = SoundRenderer(RATE, 1.0, 1, backend="compute", max_batch=8)
    samples = Sampler(1, seed=2).range(0, 4)
    for p in programs:
        assert r.check(p) is None, p.name
        waves = r.render(p, samples)
        assert len({w.tobytes() for w in waves}) == 4, f"{p.name}: clips are not distinct"
        assert np.sqrt((waves**2).mean()) > 1e-3, f"{p.name}: silent"


def test_bundled_image_set_leaves_the_sounds_out_and_mixing_kinds_is_one_line(bundled_programs):
    assert run_kind(bundled_programs) == "image"
    with pytest.raises(UserError, match=r"^--shaders: image and sound programs in one run \(.*\); give one kind$"):
        run_kind(bundled_programs[:1] + find_programs(["bundled:sounds"])[:1])


def test_sound_grammar_is_deterministic_distinct_and_parses():
    a, b = sound_grammar.program_sources(40, 3), sound_grammar.program_sources(40, 3)
    assert a == b and len({s.split("\n", 1)[1] for _, s in a}) == 40
    assert sound_grammar.program_sources(10, 3) == a[:10]  # a prefix of the larger set
    assert sound_grammar.program_sources(5, 4) != a[:5]
    assert [p.name for p in find_programs(["procedural-sound:3@3"])] == [n for n, _ in a[:3]]
    for bad in ("procedural-sound:x", "procedural-sound:0"):
        with pytest.raises(UserError, match="--shaders procedural-sound:"):
            find_programs([bad])


def test_synpat_programs_writes_the_sound_set_as_files(tmp_path):
    from synpat.gen.programs_cli import main

    assert main(["--n", "3", "--sound", "--seed", "2", "--out", str(tmp_path)]) == 0
    files = find_programs([str(tmp_path)])
    assert [p.source for p in files] == [p.source for p in find_programs(["procedural-sound:3@2"])]


def test_procedural_sound_1000_renders_1000_of_1000():
    programs = find_programs(["procedural-sound:1000"])
    r = SoundRenderer(RATE, 0.1, 1, backend="compute", max_batch=8)
    reasons = [r.check(p) for p in programs]
    assert [x for x in reasons if x] == []


def test_flac_round_trip_is_exact_to_16_bits_and_deterministic():
    t = np.arange(4000) / RATE
    wave = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.25 * np.cos(2 * np.pi * 100 * t)]).astype(np.float32)
    data = encode_flac(wave, RATE)
    assert data[:4] == b"fLaC" and data == encode_flac(wave.copy(), RATE)
    back, rate = decode_flac(data)
    assert rate == RATE and back.shape == (2, 4000)
    np.testing.assert_allclose(back, wave, atol=0.5 / 32767 + 1e-7)
    mono, _ = decode_flac(encode_flac(wave[:1], RATE))
    assert mono.shape == (1, 4000)


def test_sound_statistics_tell_tones_noise_and_clicks_apart():
    rate = 16000
    t = np.arange(2 * rate) / rate
    rng = np.random.default_rng(0)
    clicks = np.zeros_like(t)
    for k in range(20):
        clicks[int(k * 0.1 * rate) : int(k * 0.1 * rate) + 80] = rng.uniform(-1, 1, 80)
    waves = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), rng.uniform(-0.5, 0.5, t.size), clicks, np.zeros_like(t)])[
        :, None
    ].astype(np.float32)
    s = sound_stats(waves, rate)
    np.testing.assert_allclose(
        s["level_dbfs"][:2], [20 * np.log10(0.5 / np.sqrt(2)), 20 * np.log10(0.5 / np.sqrt(3))], atol=0.05
    )
    assert s["level_dbfs"][3] == -120.0
    assert abs(s["spectral_centroid"][0] - 440) < 5 and 3800 < s["spectral_centroid"][1] < 4200
    assert s["spectral_flatness"][0] < 0.01 < 0.4 < s["spectral_flatness"][1]
    assert s["onset_rate"][0] == s["onset_rate"][1] == 0 and 9 <= s["onset_rate"][2] <= 10
    mel = log_mel(waves, rate)
    assert mel.shape == (4, 128, 197)
    assert abs(int(mel[0].mean(axis=1).argmax()) - 128 * 0.25) < 20  # 440 Hz: a low mel band


@pytest.mark.gpu
def test_sound_interop_equals_readback():
    import torch
    from synpat.core.devices import gl_device_index
    from synpat.gen.gl_cuda import CudaSoundRenderer

    device = torch.device("cuda", 0)
    programs = find_programs(["bundled:sounds"])
    samples = Sampler(len(programs), seed=5).range(0, 40)
    with SoundRenderer(16000, 1.0, 1, device=gl_device_index(None, 0), max_batch=16) as renderer:
        host, levels, _ = renderer.render_measured(programs, samples)
        with CudaSoundRenderer(renderer, device) as cuda:
            waves, cuda_levels, _ = cuda.render_measured(programs, samples)
        assert waves.device == device and waves.shape == (40, 1, 16000)
        np.testing.assert_array_equal(waves.cpu().numpy(), host)
        np.testing.assert_array_equal(cuda_levels, levels)

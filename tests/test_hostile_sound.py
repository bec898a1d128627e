"""Sound programs as a hostile user and a newcomer meet them (issue 20's features): clips longer
than one row of compute work groups, files that are not sound programs in a folder of them,
procedural-sound seeds out of range, damaged sound shards fed to the viewer, the statistics and
pre-training. Small: clips of 0.25 s at 8 kHz, a few dozen at most."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import run_gen
from PIL import Image
from sound_fixtures import write_sound_shards
from synpat.core.errors import UserError
from synpat.gen.programs import Program, find_programs, run_kind
from synpat.gen.sampler import Sampler, Samples
from synpat.gen.shards import sample_key, write_shard
from synpat.gen.sound_renderer import SoundRenderer
from synpat.gen.sound_stats import log_mel, spectrogram_image
from synpat.train.input_kinds import SoundFormat, data_kind
from synpat.train.loaders import LoaderConfig
from synpat.train.pretrain_config import parse_config
from synpat.train.pretrain_inputs import plan_input
from synpat.train.sound_loaders import build_sound_loader
from test_sound_gen import BEAT, TONE, one_error_line

RATE = 8000
COMMON = ("--duration", "0.25", "--sample-rate", str(RATE), "--shard-size", "8", "--seed", "5", "--workers", "1")


def run_tool(module: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, timeout=300)


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


# -- damaged sound shards: synpat-view, synpat-stats ----------------------------------------------


def overwrite_member(tar: Path, suffix: str, data: bytes, nth: int = 0) -> str:
    """Overwrite the start of the ``nth`` member ending in ``suffix`` in place (the tar stays a tar,
    its index right): -> the member's name."""
    with tarfile.open(tar) as t:
        member = [m for m in t.getmembers() if m.name.endswith(suffix)][nth]
    with open(tar, "r+b") as f:
        f.seek(member.offset_data)
        f.write(data[: member.size])
    return member.name


@pytest.fixture
def sound_shards(tmp_path) -> Path:
    """16 quarter-second clips (sound_fixtures: numpy + soundfile) in 2 shards, with a manifest."""
    return write_sound_shards(tmp_path / "shards", count=16, shard_size=8, duration=0.25, sample_rate=RATE)


def view(*args) -> subprocess.CompletedProcess:
    return run_tool("synpat.gen.contact", *args)


def stats(*args) -> subprocess.CompletedProcess:
    return run_tool("synpat.gen.stats_report", *args)


def test_a_flac_of_garbage_bytes_is_one_line_naming_shard_and_sample(sound_shards, tmp_path):
    """A clip whose bytes are not FLAC was a PIL (view) or libsndfile (stats) traceback."""
    tar = sound_shards / "synpat-000001.tar"
    name = overwrite_member(tar, ".flac", b"\xde\xad\xbe\xef" * 64, nth=2)
    assert name == "000000010.flac"
    line = one_error_line(view(sound_shards, "--out", tmp_path / "sheet.png", "--per-program", 4))
    assert (
        line
        == f"synpat-view: error: {tar}: sample 000000010: not a readable image or FLAC clip (format not recognised)"
    )
    assert not (tmp_path / "sheet.png").exists()
    line = one_error_line(stats(sound_shards, "--out", tmp_path / "report"))
    assert line == f"synpat-stats: error: {tar}: sample 000000010: not a readable FLAC clip (Format not recognised.)"
    # a FLAC whose header is right and whose frames are garbage
    overwrite_member(tar, ".flac", b"fLaC" + b"\x00" * 40 + b"\xff" * 4000, nth=3)
    (tar.parent / "synpat-000000.tar").unlink()
    line = one_error_line(stats(tar, "--out", tmp_path / "report2"))
    assert line.startswith(f"synpat-stats: error: {tar}: sample 000000010: not a readable FLAC clip (")


def test_a_sound_manifest_over_image_members_is_one_line(sound_shards, tmp_path):
    """A folder whose manifest says sound but whose samples are images (a manifest copied over):
    synpat-stats names the first sample it cannot read as FLAC; synpat-view draws what is there."""
    images = tmp_path / "images"
    images.mkdir()
    png = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(png, "PNG")
    meta = {"program": "grey", "class": 0}
    rows = [(sample_key(i), {"png": png.getvalue(), "cls": b"0", "json": json.dumps(meta).encode()}) for i in range(4)]
    write_shard(images, "synpat-000000", rows)
    (images / "manifest.json").write_text((sound_shards / "manifest.json").read_text())
    line = one_error_line(stats(images, "--out", tmp_path / "report"))
    assert line == (
        f"synpat-stats: error: {images / 'synpat-000000.tar'}: sample 000000000: "
        "not a readable FLAC clip (Format not recognised.)"
    )
    drawn = view(images, "--out", tmp_path / "sheet.png", "--per-program", 2)
    assert drawn.returncode == 0, drawn.stderr
    assert f"synpat-view: 1 programs x 2 clips -> {tmp_path / 'sheet.png'}" in drawn.stderr
    sheet = view(sound_shards, "--out", tmp_path / "sounds.png", "--per-program", 8)  # 4 clips of each of 4 recipes
    assert f"synpat-view: 4 programs x 4 clips -> {tmp_path / 'sounds.png'}" in sheet.stderr  # said "x 8 images"
    assert Image.open(tmp_path / "sheet.png").size[1] == 96 + 8


def test_a_silent_clip_is_drawn_dark_not_bright():
    """A clip of digital silence (a silent clip written after its redraws) has a constant log-mel at
    the floor; scaled to its own maximum it came out the brightest colour of the ramp, the loudest
    tile of a contact sheet."""
    t = np.arange(RATE, dtype=np.float32) / RATE
    waves = np.stack([np.zeros(RATE, np.float32), 0.5 * np.sin(2 * np.pi * 440 * t)])[:, None]
    silent, tone = (spectrogram_image(m) for m in log_mel(waves, RATE))
    assert (silent == silent[0, 0]).all() and silent[0, 0].sum() < 60  # one dark colour
    assert tone.max() > 200 and tone.reshape(-1, 3).sum(1).max() > 3 * silent[0, 0].sum()


# -- damaged sound shards: the pre-training loaders -----------------------------------------------


def read_sounds(shards: Path, loader: str) -> int:
    cfg = LoaderConfig(data=str(shards), batch_size=4, loader=loader, num_workers=1, device="cpu")
    urls = sorted(map(str, shards.glob("*.tar")))
    return sum(len(labels) for _, labels in build_sound_loader(cfg, SoundFormat(RATE, 0.25, 1), urls))


@pytest.mark.parametrize("loader", ["dali", "torch"])
def test_a_flac_of_garbage_bytes_is_named_by_both_sound_loaders(sound_shards, loader):
    """DALI's failure was explained as 'no .jpg, .png or .webp member' (the image loaders' check);
    the torch loader's named a memory buffer ('Error opening <_io.BytesIO object at 0x...>')."""
    assert read_sounds(sound_shards, loader) == 16
    tar = sound_shards / "synpat-000001.tar"
    overwrite_member(tar, ".flac", b"\xde\xad\xbe\xef" * 64, nth=2)
    with pytest.raises(UserError) as err:
        read_sounds(sound_shards, loader)
    assert str(err.value) == (
        f"--data: {tar}: member 000000010.flac: cannot decode (not a readable FLAC clip (Format not recognised.))"
    )


@pytest.mark.parametrize("loader", ["dali", "torch"])
def test_image_members_under_a_sound_manifest_are_named_by_both_sound_loaders(tmp_path, loader):
    """A sound manifest over image samples: the missing .flac is named with what the sample holds."""
    shards = tmp_path / "images"
    shards.mkdir()
    png = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(png, "PNG")
    rows = [(sample_key(i), {"png": png.getvalue(), "cls": b"0", "json": b"{}"}) for i in range(8)]
    write_shard(shards, "synpat-000000", rows)
    with pytest.raises(UserError) as err:
        read_sounds(shards, loader)
    assert str(err.value) == (
        f"--data: {shards / 'synpat-000000.tar'}: sample 000000000: no .flac member "
        "(a training sample needs a clip and its .cls; it has cls, json, png)"
    )


# -- several folders in one --data ----------------------------------------------------------------


def test_one_data_of_two_kinds_or_two_sound_formats_is_one_line(sound_shards, tmp_path):
    """Only the first folder's manifest was read: 8 kHz clips after 16 kHz ones were taken as 16 kHz
    (an octave up, twice as fast), and image shards after sound ones were fed to the sound loader."""
    slow = write_sound_shards(tmp_path / "slow", count=8, shard_size=8, duration=0.25, sample_rate=RATE // 2)
    same = write_sound_shards(tmp_path / "same", count=8, shard_size=8, duration=0.25, sample_rate=RATE)
    images = tmp_path / "images"
    images.mkdir()
    (images / "manifest.json").write_text(json.dumps({"kind": "image"}))
    fmt = SoundFormat(RATE, 0.25, 1)
    assert data_kind(f"{sound_shards} {same}") == ("sound", fmt)
    assert data_kind(f"{sound_shards}/synpat-000000.tar {same}/synpat-{{000000..000000}}.tar") == ("sound", fmt)
    with pytest.raises(UserError) as err:
        data_kind(f"{sound_shards} {slow}")
    assert str(err.value) == (
        f"--data: {sound_shards} holds 0.25 s clips at 8000 Hz (mono) but {slow} holds 0.25 s clips at 4000 Hz "
        "(mono); one --data takes shards of one kind and format (--mix-data adds images to sound shards)"
    )
    with pytest.raises(UserError, match=f"--data: {images} holds images but {sound_shards} holds 0.25 s clips"):
        data_kind(f"{images} {sound_shards}")


# -- a stream of sound programs: its clip length --------------------------------------------------


@pytest.mark.parametrize(
    "duration,rate",
    [("1e9", "8000"), ("0.001", "8000"), ("1100", "8000")],
)
def test_a_stream_clip_too_long_or_shorter_than_a_frame_is_one_line(duration, rate):
    """--duration 1e9 was a traceback allocating 50 GB for the positional grid; --duration 0.001
    (8 samples, no 25 ms frame) trained on zero-padding, where a sound manifest saying the same is
    refused."""
    argv = ["--stream", "procedural-sound:2", "--duration", duration, "--sample-rate", rate, "--steps", "1"]
    cfg = parse_config([*argv, "--model", "mae_vit_tiny_patch16"])
    with pytest.raises(UserError) as err:
        plan_input(cfg)
    assert str(err.value) == (
        f"--duration {float(duration):g} at --sample-rate {rate}: expected clips of at least one 25 ms frame "
        "and at most 8,388,608 samples"
    )
    ok = plan_input(parse_config([*argv[:3], "1", *argv[4:], "--model", "mae_vit_tiny_patch16"]))
    assert (ok.kind, ok.size, ok.in_chans) == ("sound", (128, 96), 1)


@pytest.mark.parametrize("duration", ["0.00001", "1e9"])
def test_a_duration_of_no_sample_or_too_many_names_both_bounds(sounds, tmp_path, duration):
    """1e-05 s at 8 kHz (no sample) was refused as 'expected a positive number of seconds', which
    it is."""
    out = tmp_path / "out"
    line = one_error_line(run_gen("--shaders", sounds, "--out", out, "--count", 4, *COMMON, "--duration", duration))
    assert line == (
        f"synpat-gen: error: --duration: expected seconds from one sample (0.000125) to 1048.58 at --sample-rate "
        f"8000, got {float(duration)}"
    )
    assert not out.exists()


def test_times_past_what_float32_holds_to_the_sample_are_refused(sounds, tmp_path):
    """A 440 Hz tone at iTime 3e5 s rendered as a constant (float(samp) / iSampleRate stands still)
    and at 5000 s as steps; a --time-range reaching past 2^23 samples is one line, nothing written."""
    tone = Program("tone", "tone.glsl", TONE)
    with SoundRenderer(sample_rate=RATE, duration=0.25) as renderer:
        purity = []
        for start in (1.0, 1000.0, 3e5):
            probe = Samples(
                np.zeros(1, np.int64),
                np.zeros(1, np.int64),
                np.array([start], np.float32),
                np.ones(1, np.uint32),
                np.zeros((1, 4), np.float32),
            )
            spectrum = np.abs(np.fft.rfft(renderer.render(tone, probe)[0, 0])) ** 2
            purity.append(spectrum.max() / spectrum.sum())
    assert purity[0] > 0.999 and purity[1] > 0.99 and np.argmax(spectrum) == 0  # 3e5 s: DC
    out = tmp_path / "out"
    line = one_error_line(run_gen("--shaders", sounds, "--out", out, "--count", 4, *COMMON, "--time-range", "0,1048.5"))
    assert line == (
        "synpat-gen: error: --time-range 0,1048.5 with --duration 0.25: a sound program's time, float(samp) / "
        "iSampleRate in float32, is exact to the sample up to 8,388,608 samples (1048.58 s at 8000 Hz); expected "
        "MAX + duration up to that (later times play as steps, then as a constant)"
    )
    assert not out.exists()
    ok = run_gen("--shaders", sounds, "--out", out, "--count", 4, *COMMON, "--time-range", "0,1048.2")
    assert ok.returncode == 0, ok.stderr


def test_a_stream_folder_of_sound_programs_with_an_empty_file_is_a_sound_stream(sounds):
    """pretrain --stream judged kinds by Program.kind alone: an empty file 'was' an image program, so
    a folder of sound programs was 'image and sound programs in one stream'."""
    (sounds / "empty.glsl").write_text("")
    argv = ["--stream", str(sounds), "--duration", "1", "--steps", "1", "--model", "mae_vit_tiny_patch16"]
    assert plan_input(parse_config(argv)).kind == "sound"
    (sounds / "img.glsl").write_text("void mainImage(out vec4 c, in vec2 p) { c = vec4(p.x); }\n")
    with pytest.raises(UserError) as err:
        plan_input(parse_config(argv))
    assert str(err.value) == (
        f"--stream: image and sound programs in one run ({sounds / 'img.glsl'} draws images, {sounds / 'beat.glsl'} "
        "makes sound); give one kind (or --mix-data with shards)"
    )


def test_fewer_clips_than_a_batch_is_one_line_with_dali(sound_shards):
    """16 clips, batch 32: DALI's iterator raised 'It seems that there is no data in the pipeline'
    as a traceback (the torch loader's run already said it in one line); image shards alike."""
    cfg = LoaderConfig(data=str(sound_shards), batch_size=32, loader="dali", num_workers=1, device="cpu")
    with pytest.raises(UserError) as err:
        build_sound_loader(cfg, SoundFormat(RATE, 0.25, 1), sorted(map(str, sound_shards.glob("*.tar"))))
    assert (
        str(err.value) == "--data holds fewer than batch_size = 32 samples per rank: use more shards or a smaller batch"
    )


def test_sound_shards_without_their_manifest_get_sound_statistics(sound_shards, tmp_path):
    """A sound shard copied on its own (no manifest.json beside it) was measured as images: the
    colour entropy and edge density of its spectrogram pictures."""
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "clips.tar").write_bytes((sound_shards / "synpat-000000.tar").read_bytes())
    proc = stats(alone / "clips.tar", "--out", tmp_path / "report")
    assert proc.returncode == 0, proc.stderr
    programs = json.loads((tmp_path / "report" / "programs.json").read_text())
    assert len(programs) == 4 and {"level_dbfs_mean", "onset_rate_mean"} <= set(programs[0])
    assert "colour_entropy_mean" not in programs[0]
    sheet = view(alone / "clips.tar", "--out", tmp_path / "sheet.png", "--per-program", 2, "--tile", 32)
    assert "4 programs x 2 clips" in sheet.stderr
    assert Image.open(tmp_path / "sheet.png").size[0] == 150 + 2 * (3 * 32 + 4) + 4  # spectrogram tiles, 3:1

"""synpat-gen, the stream, synpat-view and synpat-stats on sound programs: real renders, real FLAC in real tars."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import webdataset as wds
from conftest import kill_gen, run_gen
from PIL import Image
from synpat.gen.flac import decode_flac, quantise
from synpat.gen.programs import bundled_shaders_dir
from synpat.gen.stream import PatternStream, StreamConfig

RATE = 8000
COMMON = ("--duration", "0.25", "--sample-rate", str(RATE), "--shard-size", "8", "--seed", "5", "--workers", "2")
TONE = "vec2 mainSound(int samp, float time) {\n    return vec2(0.5 * sin(6.2831853 * 440.0 * time));\n}\n"
BEAT = (
    "// family: beat\nvec2 mainSound(float time) {\n"
    "    return vec2(0.3 * sin(6.2831853 * (200.0 + 400.0 * iParams.x) * time), 0.2 * sin(6.2831853 * 100.0 * time));\n}\n"
)
NAN = "vec2 mainSound(float time) { return vec2(sqrt(-1.0 - time)); }\n"
SILENT = "vec2 mainSound(float time) { return vec2(0.0); }\n"


def tars(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.tar")) + sorted(folder.glob("*.idx"))}


def one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def sounds(tmp_path) -> Path:
    folder = tmp_path / "sounds"
    folder.mkdir()
    (folder / "tone.glsl").write_text(TONE)
    (folder / "beat.glsl").write_text(BEAT)
    return folder


def read_samples(folder: Path) -> list[dict]:
    ds = wds.WebDataset(sorted(str(p) for p in folder.glob("*.tar")), shardshuffle=False)
    return list(ds)


def test_sound_shards_hold_flac_clips_of_the_programs_with_their_metadata(sounds, tmp_path):
    out = tmp_path / "out"
    proc = run_gen("--shaders", sounds, "--out", out, "--count", 20, *COMMON)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 20 clips in 3 shards" in proc.stderr and "0.25 s 8000 Hz mono flac" in proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["kind"], manifest["sample_rate"], manifest["duration"], manifest["channels"]) == (
        "sound",
        RATE,
        0.25,
        1,
    )
    assert [p["name"] for p in manifest["programs"]] == ["beat", "tone"]
    samples = read_samples(out)
    assert len(samples) == 20 and set(samples[0]) >= {"flac", "cls", "json"}
    for s in samples:
        meta = json.loads(s["json"])
        assert int(s["cls"]) == meta["class"] and meta["program"] == ["beat", "tone"][meta["class"]]
        assert {"hash", "time", "seed", "params", "index"} <= set(meta)
        assert (meta["sample_rate"], meta["duration"], meta["channels"]) == (RATE, 0.25, 1)
        wave, rate = decode_flac(s["flac"])
        assert rate == RATE and wave.shape == (1, 2000)
        spectrum = np.abs(np.fft.rfft(wave[0]))
        peak = np.fft.rfftfreq(2000, 1.0 / RATE)[spectrum.argmax()]
        if meta["program"] == "tone":
            assert peak == 440.0
        else:  # the louder partial of the mixdown: 200 + 400 iParams.x Hz
            assert abs(peak - (200 + 400 * meta["params"][0])) <= 4


def test_stereo_keeps_both_channels(sounds, tmp_path):
    out = tmp_path / "stereo"
    proc = run_gen("--shaders", sounds / "beat.glsl", "--out", out, "--count", 4, *COMMON, "--channels", 2)
    assert proc.returncode == 0, proc.stderr
    wave, _ = decode_flac(read_samples(out)[0]["flac"])
    assert wave.shape == (2, 2000)
    right = np.abs(np.fft.rfft(wave[1]))
    assert np.fft.rfftfreq(2000, 1.0 / RATE)[right.argmax()] == 100.0


def test_same_seed_same_bytes_and_a_killed_run_resumes_to_them(sounds, tmp_path):
    args = ["--shaders", sounds, "--count", 40, *COMMON]
    a, b, killed = tmp_path / "a", tmp_path / "b", tmp_path / "killed"
    assert run_gen(*args, "--out", a).returncode == 0
    assert run_gen(*args, "--out", b).returncode == 0
    assert len(tars(a)) == 10 and tars(a) == tars(b)
    assert kill_gen(killed, 2, *args) == -signal.SIGKILL
    done = len(list(killed.glob("*.tar")))
    assert 2 <= done < 10
    resumed = run_gen(*args, "--out", killed, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{done} already done" in resumed.stderr
    assert tars(killed) == tars(a)
    other = run_gen(*args, "--out", killed, "--resume", "--duration", "0.5")
    assert "other settings (duration differ)" in one_error_line(other)


def test_two_ranks_write_the_shards_of_one(sounds, tmp_path):
    single, split = tmp_path / "single", tmp_path / "split"
    args = ["--shaders", str(sounds), "--count", "30", *COMMON]
    assert run_gen(*args, "--out", single).returncode == 0
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "synpat.gen.cli", *args, "--out", str(split), "--rank", str(r), "--world-size", "2"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in (0, 1)
    ]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert tars(split) == tars(single)


def test_silent_and_nan_programs_are_reported_with_their_reason_and_never_written(sounds, tmp_path):
    (sounds / "nan.glsl").write_text(NAN)
    (sounds / "silent.glsl").write_text(SILENT)
    out = tmp_path / "out"
    proc = run_gen("--shaders", sounds, "--out", out, "--count", 12, *COMMON)
    assert proc.returncode == 0, proc.stderr
    assert f"{sounds / 'nan.glsl'}: renders NaN in 100% of its probe clips' samples" in proc.stderr
    assert f"{sounds / 'silent.glsl'}: renders silence (8 of 8 probe clips below -60 dBFS" in proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["name"] for p in manifest["programs"]] == ["beat", "tone"]
    assert sorted(r["name"] for r in manifest["rejected"]) == ["nan", "silent"]
    assert {json.loads(s["json"])["program"] for s in read_samples(out)} == {"beat", "tone"}
    strict = run_gen("--shaders", sounds, "--out", tmp_path / "strict", "--count", 12, *COMMON, "--strict")
    assert "renders NaN" in one_error_line(strict) and not (tmp_path / "strict").exists()


def test_image_and_sound_programs_in_one_run_is_one_line_and_nothing_written(sounds, tmp_path):
    out = tmp_path / "mixed"
    proc = run_gen("--shaders", sounds, bundled_shaders_dir() / "fbm.glsl", "--out", out, "--count", 4, *COMMON)
    assert "image and sound programs in one run" in one_error_line(proc)
    assert not out.exists()
    bad = run_gen("--shaders", sounds, "--out", out, "--count", 4, *COMMON, "--min-std", "0.1")
    assert "filter images" in one_error_line(bad) and not out.exists()
    zero = run_gen("--shaders", sounds, "--out", out, "--count", 4, *COMMON, "--duration", "0")
    assert "--duration" in one_error_line(zero) and not out.exists()


def test_the_stream_yields_the_clips_the_shards_hold(sounds, tmp_path):
    out = tmp_path / "out"
    assert run_gen("--shaders", sounds, "--out", out, "--count", 16, *COMMON).returncode == 0
    cfg = StreamConfig(shaders=[str(sounds)], batch_size=8, seed=5, duration=0.25, sample_rate=RATE)
    with PatternStream(cfg) as stream:
        batches = [next(stream) for _ in range(2)]
    waves = np.concatenate([w for w, _ in batches])
    labels = np.concatenate([l for _, l in batches])
    assert waves.shape == (16, 1, 2000) and waves.dtype == np.float32 and labels.dtype == np.int64
    assert np.abs(waves).max() <= 1.0
    stored = read_samples(out)
    np.testing.assert_array_equal(labels, [int(s["cls"]) for s in stored])
    with PatternStream(cfg) as again:  # next_waves: the same batches (the sound loaders' call)
        w, l = again.next_waves()
        np.testing.assert_array_equal(w, waves[:8])
        np.testing.assert_array_equal(l, labels[:8])
    for wave, s in zip(waves, stored):
        np.testing.assert_array_equal(quantise(wave).T, np.round(decode_flac(s["flac"])[0] * 32767).astype(np.int16))


def test_view_and_stats_on_sound_shards(tmp_path):
    out = tmp_path / "bundled"
    proc = run_gen("--shaders", "bundled:sounds", "--out", out, "--per-shader", 2, *COMMON, "--stats")
    assert proc.returncode == 0, proc.stderr
    stored = read_samples(out)
    assert {"level_dbfs", "spectral_centroid", "spectral_flatness", "onset_rate"} == set(
        json.loads(stored[0]["json"])["stats"]
    )
    sheet = tmp_path / "sheet.png"
    view = subprocess.run(
        [
            sys.executable,
            "-m",
            "synpat.gen.contact",
            str(out),
            "--out",
            str(sheet),
            "--per-program",
            "2",
            "--tile",
            "32",
        ],
        capture_output=True,
        text=True,
    )
    assert view.returncode == 0, view.stderr
    image = np.asarray(Image.open(sheet))
    programs = len(json.loads((out / "manifest.json").read_text())["programs"])
    assert image.shape[0] == programs * 36 + 4 and image.shape[1] == 150 + 2 * (96 + 4) + 4
    report = tmp_path / "report"
    stats = subprocess.run(
        [sys.executable, "-m", "synpat.gen.stats_report", str(out), "--out", str(report)],
        capture_output=True,
        text=True,
    )
    assert stats.returncode == 0, stats.stderr
    families = json.loads((report / "families.json").read_text())
    assert len(families) >= 8 and {"level_dbfs_mean", "onset_rate_mean"} <= set(families[0])
    noise = next(f for f in families if f["family"] == "noise")
    fm = next(f for f in families if f["family"] == "fm")
    assert noise["spectral_flatness_mean"] > fm["spectral_flatness_mean"]
    assert (report / "scatter_centroid_flatness.png").exists() and (report / "contact_speech.png").exists()


def test_stats_on_sound_programs_renders_clips_and_measures_them(sounds, tmp_path):
    report = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "synpat.gen.stats_report", str(sounds), "--out", str(report), "--per-program", "2"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    rows = {r["program"]: r for r in json.loads((report / "programs.json").read_text())}
    assert set(rows) == {"beat", "tone"} and rows["tone"]["images"] == 2
    assert abs(rows["tone"]["spectral_centroid_mean"] - 440) < 5
    assert abs(rows["tone"]["level_dbfs_mean"] - 20 * np.log10(0.5 / np.sqrt(2))) < 0.1

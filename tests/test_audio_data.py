"""Audio reading, fbanks, dataset layouts and folds (real WAV files written here)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
import torch
from audio_fixtures import CLASSES, make_esc50, make_folder, make_speechcommands
from synpat.audio.clip_sets import assign_folds, load_task
from synpat.audio.fbank import AudioReadError, FbankShape, clip_fbank, compute_fbanks, read_wave
from synpat.core.errors import UserError


def tone(rate: int, seconds: float = 1.0, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(wave: torch.Tensor, rate: int = 16000) -> float:
    spectrum = torch.fft.rfft(wave).abs()
    return float(spectrum.argmax()) * rate / len(wave)


def test_plain_16k(tmp_path):
    sf.write(tmp_path / "a.wav", tone(16000), 16000)
    wave = read_wave(tmp_path / "a.wav")
    assert wave.shape == (16000,) and wave.dtype == torch.float32
    assert abs(float(wave.abs().max()) - 0.5) < 1e-3


def test_44k_is_resampled(tmp_path):
    sf.write(tmp_path / "a.wav", tone(44100, freq=1000.0), 44100)
    wave = read_wave(tmp_path / "a.wav")
    assert wave.shape == (16000,)
    assert abs(peak_hz(wave) - 1000.0) < 2.0
    assert abs(float(wave[1000:-1000].abs().max()) - 0.5) < 0.02


def test_stereo_is_mixed_down(tmp_path):
    left, right = tone(16000, freq=500.0), np.zeros(16000, np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, right], axis=1), 16000)
    wave = read_wave(tmp_path / "s.wav")
    assert wave.shape == (16000,)
    torch.testing.assert_close(wave, torch.from_numpy(left) / 2, atol=1e-4, rtol=0)


def test_8bit_pcm_is_scaled(tmp_path):
    sf.write(tmp_path / "u8.wav", tone(16000), 16000, subtype="PCM_U8")
    assert sf.info(str(tmp_path / "u8.wav")).subtype == "PCM_U8"
    wave = read_wave(tmp_path / "u8.wav")
    assert abs(float(wave.max()) - 0.5) < 0.02 and abs(float(wave.min()) + 0.5) < 0.02
    assert abs(float(wave.mean())) < 0.01  # unsigned offset removed


def test_zero_length_and_garbage_are_errors(tmp_path):
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    (tmp_path / "junk.wav").write_bytes(b"RIFF....not really a wave file" * 20)
    with pytest.raises(AudioReadError, match="empty"):
        read_wave(tmp_path / "empty.wav")
    with pytest.raises(AudioReadError, match="unreadable"):
        read_wave(tmp_path / "junk.wav")


def test_compute_fbanks_skips_and_counts(tmp_path, caplog):
    sf.write(tmp_path / "good.wav", tone(16000), 16000)
    sf.write(tmp_path / "stereo44.wav", np.stack([tone(44100), tone(44100)], 1), 44100)
    sf.write(tmp_path / "u8.wav", tone(8000), 8000, subtype="PCM_U8")
    sf.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    (tmp_path / "junk.wav").write_bytes(b"\x00\x01garbage" * 50)
    paths = [tmp_path / n for n in ("good.wav", "empty.wav", "stereo44.wav", "junk.wav", "u8.wav", "missing.wav")]
    shape = FbankShape(mel_bins=64, frames=100)
    with caplog.at_level(logging.WARNING):
        cache = compute_fbanks(paths, shape)
    assert cache.specs.shape == (3, 64, 100) and cache.specs.dtype == torch.float32
    assert cache.kept == [0, 2, 4]
    assert [p.split("/")[-1] for p, _ in cache.skipped] == ["empty.wav", "junk.wav", "missing.wav"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 3 and all("skipped" in w and "\n" not in w for w in warnings)
    assert "empty.wav" in warnings[0]
    # the same tone at 16 kHz, 44.1 kHz stereo and 8 kHz 8-bit gives nearly the same spectrogram
    assert float((cache.specs[0] - cache.specs[1]).abs().mean()) < 0.2
    with pytest.raises(AudioReadError, match="empty.wav"):
        compute_fbanks(paths, shape, strict=True)


def test_fbank_shape_pad_crop_determinism():
    shape = FbankShape(mel_bins=128, frames=500)
    short, long = torch.randn(8000), torch.randn(16000 * 7)
    a, b = clip_fbank(short, shape), clip_fbank(short, shape)
    assert a.shape == (128, 500) and clip_fbank(long, shape).shape == (128, 500)
    assert torch.equal(a, b)  # no dither
    assert shape.num_samples == 400 + 499 * 160
    # padding is silence: the padded tail is far below the signal
    assert float(a[:, 10:40].mean()) > float(a[:, 200:].mean()) + 5


def test_esc50_layout(tmp_path):
    root = make_esc50(tmp_path / "esc", per_class=5)
    task = load_task(f"esc50:{root}")
    assert task.classes == list(CLASSES)
    assert len(task.clips) == 20 and task.dataset_folds == [1, 2, 3, 4, 5]
    assert all(c.path.is_file() and len(c.labels) == 1 for c in task.clips)
    assert not task.multilabel and not task.has_split
    folds = assign_folds(task, 5, seed=0)
    assert folds == [c.fold for c in task.clips]
    with pytest.raises(UserError, match="defines 5 folds"):
        assign_folds(task, 3, seed=0)


def test_speechcommands_layout(tmp_path):
    root = make_speechcommands(tmp_path / "sc")
    task = load_task(f"speechcommands:{root}")
    assert task.classes == ["no", "up", "yes"]
    assert len(task.clips) == 15 and all("_background_noise_" not in str(c.path) for c in task.clips)
    splits = [c.split for c in task.clips]
    assert splits.count("valid") == 3 and splits.count("test") == 3 and splits.count("train") == 9
    assert task.has_split


def test_folder_layout_and_stratified_folds(tmp_path):
    root = make_folder(tmp_path / "f", per_class=6)
    (root / "notes.txt").write_text("not a class")
    (root / "tone" / "readme.md").write_text("not audio")
    task = load_task(f"folder:{root}")
    assert sorted(task.classes) == sorted(CLASSES) and len(task.clips) == 24
    folds = assign_folds(task, 3, seed=0)
    assert folds == assign_folds(task, 3, seed=0)  # deterministic
    assert len(folds) == len(task.clips) and set(folds) == {1, 2, 3}  # each clip in exactly one fold
    for name in CLASSES:  # stratified: 6 clips of each class over 3 folds -> 2 per fold
        per_fold = [sum(1 for c, f in zip(task.clips, folds) if c.labels[0] == name and f == k) for k in (1, 2, 3)]
        assert per_fold == [2, 2, 2]
    assert assign_folds(task, 3, seed=1) != folds


def test_csv_layout_multilabel_and_folds(tmp_path):
    root = make_folder(tmp_path / "f", per_class=2)
    rows = [
        "path,label,fold",
        "tone/tone_0.wav,tone,1",
        "tone/tone_1.wav,tone;noise,2",
        "noise/noise_0.wav,noise|chirp,1",
        "chirp/chirp_0.wav,chirp,2",
        "",
    ]
    (root / "list.csv").write_text("\n".join(rows))
    task = load_task(f"csv:{root / 'list.csv'}")
    assert task.multilabel and task.classes == ["chirp", "noise", "tone"]
    assert [c.labels for c in task.clips] == [("tone",), ("noise", "tone"), ("chirp", "noise"), ("chirp",)]
    assert [c.fold for c in task.clips] == [1, 2, 1, 2]
    assert task.clips[0].path == root / "tone" / "tone_0.wav"
    (root / "bad.csv").write_text("tone/tone_0.wav,tone,x\n")
    with pytest.raises(UserError, match="line 1"):
        load_task(f"csv:{root / 'bad.csv'}")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("esc50:/nonexistent/esc", "is not a folder"),
        ("wav:/tmp", "unknown data layout 'wav'"),
        ("esc50", "must be LAYOUT:PATH"),
        ("csv:/nonexistent.csv", "not found"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(UserError, match=message):
        load_task(spec)

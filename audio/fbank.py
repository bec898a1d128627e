"""Audio clips to log-mel filterbanks: read (soundfile), mono 16 kHz, fixed length, Kaldi fbank, cache.

Frames are 25 ms Hanning windows every 10 ms at 16 kHz, so `frames` fbank frames need
400 + (frames - 1) * 160 samples; shorter clips are zero-padded at the end, longer ones cut.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.compliance.kaldi as kaldi
import torchaudio.functional as AF
from synpat.train.batched_fbank import (  # 16 kHz, 25 ms, 10 ms: one source for both paths
    HOP,
    SAMPLE_RATE,
    WINDOW,
    BatchedFbank,
    frames_in,
    samples_for,
)

log = logging.getLogger(__name__)


class AudioReadError(Exception):
    """A clip that cannot be used (unreadable, empty, not finite); the message says why."""


@dataclass(frozen=True)
class FbankShape:
    """Spectrogram size fed to the model: mel bins x frames."""

    mel_bins: int = 128
    frames: int = 500

    @property
    def num_samples(self) -> int:
        """Waveform samples at 16 kHz that give exactly `frames` fbank frames."""
        return WINDOW + (self.frames - 1) * HOP


def read_wave(path: str | Path) -> torch.Tensor:
    """Read any soundfile-readable clip as mono float32 at 16 kHz: `(samples,)` in [-1, 1].

    Integer PCM (8-bit unsigned included) is scaled to [-1, 1) by libsndfile; channels are
    averaged; other sample rates are resampled (torchaudio, windowed sinc).
    """
    if not Path(path).is_file():  # libsndfile would say only "System error"
        raise AudioReadError("not found" if not Path(path).exists() else "not a file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)  # (samples, channels)
    except (sf.SoundFileError, RuntimeError, OSError) as err:
        raise AudioReadError(f"unreadable ({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    if data.shape[0] == 0:
        raise AudioReadError("empty (0 samples)")
    if not np.isfinite(data).all():
        raise AudioReadError("contains NaN or infinite samples")
    wave = torch.from_numpy(data.mean(axis=1))
    if rate != SAMPLE_RATE:
        wave = AF.resample(wave, rate, SAMPLE_RATE)
    return wave


def fit_length(wave: torch.Tensor, num_samples: int) -> torch.Tensor:
    """`(samples,)` -> `(num_samples,)`: zero-pad at the end or keep the start."""
    if wave.shape[0] >= num_samples:
        return wave[:num_samples]
    return torch.nn.functional.pad(wave, (0, num_samples - wave.shape[0]))


def log_mel(wave: torch.Tensor, mel_bins: int) -> torch.Tensor:
    """Kaldi fbank of a 16 kHz `(samples,)` wave (>= 400 samples): `(frames, mel_bins)` float32, no dither."""
    return kaldi.fbank(
        wave[None],
        htk_compat=True,
        sample_frequency=SAMPLE_RATE,
        use_energy=False,
        window_type="hanning",
        num_mel_bins=mel_bins,
        dither=0.0,
        frame_length=25.0,
        frame_shift=10.0,
    )


@functools.lru_cache(maxsize=8)
def _batched_fbank(mel_bins: int, device: torch.device) -> BatchedFbank:
    return BatchedFbank(mel_bins).to(device)


def log_mel_batch(waves: torch.Tensor, mel_bins: int, max_frames: int = 1 << 15) -> torch.Tensor:
    """`log_mel` of every row of a 16 kHz `(n, samples)` batch (samples >= 400): `(n, frames, mel_bins)`,
    by the batched fbank of training (train/batched_fbank.py) on the batch's device, about `max_frames`
    frames a pass (a pass reads the samples of its frames only: frames are independent)."""
    n, samples = waves.shape
    frames, step = frames_in(samples), max(1, max_frames // max(1, n))
    fbank = _batched_fbank(mel_bins, waves.device)
    passes = [
        fbank(waves[:, first * HOP : first * HOP + samples_for(min(step, frames - first))])  # (n, mel, count)
        for first in range(0, frames, step)
    ]
    return torch.cat(passes, dim=2).transpose(1, 2)


def clip_fbank(wave: torch.Tensor, shape: FbankShape) -> torch.Tensor:
    """16 kHz `(samples,)` wave -> `(mel_bins, frames)` log-mel spectrogram of its first frames*10 ms."""
    spec = log_mel(fit_length(wave, shape.num_samples), shape.mel_bins)  # (frames, mel)
    return spec.T.contiguous()


@dataclass
class FbankCache:
    """Spectrograms of a list of files, computed once: `specs (N, mel_bins, frames) float32`;
    `kept[i]` is the index (into the input list) of `specs[i]`; `skipped` lists (path, reason)."""

    specs: torch.Tensor
    kept: list[int]
    skipped: list[tuple[str, str]]


def compute_fbanks(paths: Sequence[str | Path], shape: FbankShape, strict: bool = False) -> FbankCache:
    """Read and transform every file once. Bad files are skipped with a one-line warning
    naming the file, or raise AudioReadError when `strict`."""
    specs, kept, skipped = [], [], []
    for index, path in enumerate(paths):
        try:
            specs.append(clip_fbank(read_wave(path), shape))
        except AudioReadError as err:
            if strict:
                raise AudioReadError(f"{path}: {err}") from None
            log.warning("skipped %s: %s", path, err)
            skipped.append((str(path), str(err)))
            continue
        kept.append(index)
    stacked = torch.stack(specs) if specs else torch.empty(0, shape.mel_bins, shape.frames)
    return FbankCache(specs=stacked, kept=kept, skipped=skipped)

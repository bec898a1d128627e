"""Sound statistics and log-mel spectrograms of clips, numpy only (synpat.gen installs without torch).

All functions take a batch, waves (N, C, S) float32 in [-1, 1] (C channels are mixed down to mono
first), and work on the whole batch at once: frames come from a strided view, one FFT call.

  level_dbfs          RMS level in dBFS (a full-scale sine is -3 dBFS); silent clips -120
  spectral_centroid   power-weighted mean frequency over the clip, Hz
  spectral_flatness   geometric over arithmetic mean of the power spectrum, averaged over frames
                      (0: pure tones, 1: white noise)
  onset_rate          onsets a second: peaks of the positive log-mel flux (over the clip's top
                      ONSET_RANGE decades) above its median plus ONSET_K standard deviations and
                      ONSET_FLOOR, at least ONSET_GAP seconds apart
"""

from __future__ import annotations

import numpy as np

N_MELS = 128
WINDOW_SECONDS = 0.025  # 25 ms frames, 10 ms hop (the AudioMAE fbank's)
HOP_SECONDS = 0.010
ONSET_K = 1.5
ONSET_GAP = 0.05
ONSET_RANGE = 6.0  # decades of mel power below the clip's loudest that the flux sees (60 dB)
ONSET_FLOOR = 0.5  # least flux (mean log10 rise over the mel bands) of an onset
FLOOR = 1e-10
STATS = ("level_dbfs", "spectral_centroid", "spectral_flatness", "onset_rate")


def mono(waves: np.ndarray) -> np.ndarray:
    """waves (N, C, S) -> (N, S) float32, the mean of the channels."""
    return waves.mean(axis=1, dtype=np.float32) if waves.shape[1] > 1 else waves[:, 0]


def _fft_size(sample_rate: int) -> int:
    return 1 << int(np.ceil(np.log2(WINDOW_SECONDS * sample_rate)))


def power_spectrogram(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """x (N, S) float32 -> (N, T, F) float32 power of Hann-windowed frames (T frames of HOP_SECONDS)."""
    n_fft = _fft_size(sample_rate)
    hop = max(1, int(round(HOP_SECONDS * sample_rate)))
    if x.shape[1] < n_fft:
        x = np.pad(x, ((0, 0), (0, n_fft - x.shape[1])))
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=1)[:, ::hop]  # (N, T, n_fft)
    spec = np.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=-1)
    return (spec.real**2 + spec.imag**2).astype(np.float32)


def mel_filters(sample_rate: int, n_fft: int, n_mels: int = N_MELS) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular filters on the HTK mel scale, 20 Hz to Nyquist."""

    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    edges = hz(np.linspace(mel(20.0), mel(sample_rate / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins - lo) / np.maximum(mid - lo, 1e-9)
    down = (hi - bins) / np.maximum(hi - mid, 1e-9)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


def log_mel(waves: np.ndarray, sample_rate: int, n_mels: int = N_MELS) -> np.ndarray:
    """waves (N, C, S) -> (N, n_mels, T) float32 log10 mel power (low frequencies first)."""
    power = power_spectrogram(mono(waves), sample_rate)
    fb = mel_filters(sample_rate, _fft_size(sample_rate), n_mels)
    return np.log10(np.maximum(power @ fb.T, FLOOR)).transpose(0, 2, 1)


def sound_stats(waves: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """waves (N, C, S) float32 -> {statistic: (N,) float64} (module notes)."""
    x = mono(waves)
    rms = np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=1))
    power = power_spectrogram(x, sample_rate).astype(np.float64)  # (N, T, F)
    freqs = np.fft.rfftfreq(_fft_size(sample_rate), 1.0 / sample_rate)
    total = power.sum(axis=(1, 2))
    centroid = (power.sum(axis=1) @ freqs) / np.maximum(total, FLOOR)
    p = power + FLOOR
    flat_frames = np.exp(np.log(p).mean(axis=2)) / p.mean(axis=2)  # (N, T)
    loud = power.sum(axis=2) > FLOOR * power.shape[2]
    flatness = np.where(loud, flat_frames, 0.0).sum(1) / np.maximum(loud.sum(1), 1)
    fb = mel_filters(sample_rate, _fft_size(sample_rate))
    mel = np.log10(np.maximum(power @ fb.T.astype(np.float64), FLOOR))  # (N, T, M)
    mel = np.maximum(mel, mel.max(axis=(1, 2), keepdims=True) - ONSET_RANGE)  # the clip's top decades
    flux = np.maximum(np.diff(mel, axis=1), 0.0).mean(axis=2)  # (N, T - 1)
    return {
        "level_dbfs": 20.0 * np.log10(np.maximum(rms, 1e-6)),
        "spectral_centroid": centroid,
        "spectral_flatness": flatness,
        "onset_rate": onset_count(flux) / (x.shape[1] / sample_rate),
    }


def onset_count(flux: np.ndarray) -> np.ndarray:
    """flux (N, T) positive log-mel flux -> (N,) onsets: local maxima within ONSET_GAP above
    median + ONSET_K x std of the clip's flux (and above a floor, so a steady tone has none)."""
    gap = max(1, int(round(ONSET_GAP / HOP_SECONDS)))
    threshold = np.median(flux, axis=1, keepdims=True) + ONSET_K * flux.std(axis=1, keepdims=True)
    padded = np.pad(flux, ((0, 0), (gap, gap)), constant_values=-np.inf)
    window = np.lib.stride_tricks.sliding_window_view(padded, 2 * gap + 1, axis=1)  # (N, T, 2 gap + 1)
    peak = flux >= window.max(axis=2)
    return ((flux > threshold) & (flux > ONSET_FLOOR) & peak).sum(axis=1).astype(np.float64)


def stats_row(stats: dict[str, np.ndarray], row: int) -> dict:
    """One clip's statistics for its json, rounded."""
    return {k: round(float(stats[k][row]), 4) for k in STATS}


_COLOURS = np.array(
    [
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    dtype=np.float32,
)  # dark to bright, an inferno-like ramp


def spectrogram_image(mel: np.ndarray, dynamic_range: float = 8.0) -> np.ndarray:
    """mel (M, T) log10 power -> (M, T, 3) uint8, high frequencies at the top, the top
    ``dynamic_range`` decades (10 dB each) of the clip mapped onto a colour ramp; the ramp's top is
    never below FLOOR + ``dynamic_range``, so a silent clip (all FLOOR) is drawn dark, not bright."""
    top = max(float(mel.max()), np.log10(FLOOR) + dynamic_range)
    v = np.clip((mel - (top - dynamic_range)) / dynamic_range, 0.0, 1.0)[::-1]
    pos = v * (len(_COLOURS) - 1)
    i = np.minimum(pos.astype(np.int64), len(_COLOURS) - 2)
    f = (pos - i)[..., None]
    return np.round(_COLOURS[i] * (1 - f) + _COLOURS[i + 1] * f).astype(np.uint8)

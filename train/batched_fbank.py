"""Kaldi-style log-mel filterbanks of a whole batch of waves at once, on the training device.

The same features as `torchaudio.compliance.kaldi.fbank` computes one clip at a time in
audio/fbank.py (htk_compat, no energy, Hanning window, no dither, 25 ms frames every 10 ms at
16 kHz, snip_edges): per frame the DC offset is removed, pre-emphasis 0.97 applied, the Hanning
window, zero padding to 512 points, the power spectrum, the mel filterbank (20 Hz to Nyquist) and
the log (floored at float epsilon). Framing is one `unfold`, the FFT one `rfft` over every frame
of every clip: no per-clip Python, so it runs where the batch is (GPU in training).
"""

from __future__ import annotations

import math

import torch
import torchaudio.compliance.kaldi as kaldi

SAMPLE_RATE = 16000  # Hz: the rate every spectrogram is computed at
WINDOW = 400  # samples in 25 ms
HOP = 160  # samples in 10 ms
PREEMPHASIS = 0.97
LOW_FREQ = 20.0  # Hz, Kaldi's default lowest mel edge
CPU_FRAMES = 1024  # frames per pass on a CPU: the pass's temporaries (~2 MB each) stay in cache


def frames_in(samples: int) -> int:
    """Fbank frames in a wave of `samples` samples at 16 kHz (Kaldi's snip_edges count; 0 if < one window)."""
    return 0 if samples < WINDOW else 1 + (samples - WINDOW) // HOP


def samples_for(frames: int) -> int:
    """16 kHz samples that give exactly `frames` frames."""
    return WINDOW + (frames - 1) * HOP


class BatchedFbank(torch.nn.Module):
    """waves (B, S) float at 16 kHz -> log-mel (B, mel_bins, frames) float32, frames = frames_in(S).

    The mel matrix and window are buffers: `.to(device)` moves them with the module.
    """

    def __init__(self, mel_bins: int = 128):
        super().__init__()
        self.mel_bins = mel_bins
        self.n_fft = 2 ** math.ceil(math.log2(WINDOW))  # 512: Kaldi's round_to_power_of_two
        banks, _ = kaldi.get_mel_banks(mel_bins, self.n_fft, float(SAMPLE_RATE), LOW_FREQ, 0.0, 100.0, -500.0, 1.0)
        # (mel_bins, n_fft/2) -> (n_fft/2 + 1, mel_bins): a zero row for the Nyquist bin, as Kaldi pads it
        self.register_buffer("mel", torch.nn.functional.pad(banks.float(), (0, 1)).T.contiguous(), persistent=False)
        self.register_buffer("window", torch.hann_window(WINDOW, periodic=False, dtype=torch.float32), persistent=False)

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        if waves.device.type == "cpu":  # whole batches of long clips overflow the cache: a few clips per pass
            clips = max(1, CPU_FRAMES // max(1, frames_in(waves.shape[-1])))
            if clips < waves.shape[0]:
                return torch.cat([self.transform(part) for part in waves.split(clips)])
        return self.transform(waves)

    def transform(self, waves: torch.Tensor) -> torch.Tensor:
        """waves (B, S) -> (B, mel_bins, frames) in one pass."""
        frames = waves.float().unfold(-1, WINDOW, HOP)  # (B, F, 400)
        frames = frames - frames.mean(dim=-1, keepdim=True)  # DC offset
        previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)  # x[j-1], x[-1] = x[0]
        frames = (frames - PREEMPHASIS * previous) * self.window
        power = torch.fft.rfft(frames, n=self.n_fft).abs().pow(2)  # (B, F, 257)
        mel = power @ self.mel  # (B, F, mel_bins)
        return mel.clamp_min(torch.finfo(torch.float32).eps).log().transpose(1, 2).contiguous()

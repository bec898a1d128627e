"""The batched fbank of training (train/batched_fbank.py) against the per-clip Kaldi fbank of audio/fbank.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from synpat.audio.fbank import log_mel
from synpat.train.batched_fbank import BatchedFbank, frames_in, samples_for

RATE = 16000


def clips(samples: int) -> torch.Tensor:
    """(5, samples): a sine, a chord with DC offset, white noise, a quiet click train, silence."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(samples) / RATE
    clicks = torch.zeros(samples)
    clicks[::797] = 0.01
    return torch.stack(
        [
            0.5 * torch.sin(2 * np.pi * 440 * t),
            0.2 + 0.3 * torch.sin(2 * np.pi * 110 * t) + 0.2 * torch.sin(2 * np.pi * 3300 * t),
            torch.rand(samples, generator=g) * 2 - 1,
            clicks,
            torch.zeros(samples),
        ]
    )


@pytest.mark.parametrize("samples,mel_bins", [(16000, 128), (samples_for(37) + 99, 64), (400, 128)])
def test_matches_the_per_clip_kaldi_fbank(samples, mel_bins):
    waves = clips(samples)
    batched = BatchedFbank(mel_bins)(waves)
    reference = torch.stack([log_mel(w, mel_bins).T for w in waves])
    assert batched.shape == reference.shape == (5, mel_bins, frames_in(samples))
    torch.testing.assert_close(batched, reference, rtol=0, atol=1e-4)
    assert batched[0].argmax(dim=0).float().mean() < batched[2].argmax(dim=0).float().mean()  # sine: low bins


def test_frame_arithmetic():
    assert frames_in(399) == 0 and frames_in(400) == 1 and frames_in(16000) == 98 and frames_in(163840) == 1022
    assert all(frames_in(samples_for(f)) == f for f in (1, 96, 1024))


@pytest.mark.gpu
def test_on_cuda_matches_the_cpu():
    waves = clips(16000)
    fbank = BatchedFbank(128)
    torch.testing.assert_close(fbank.to("cuda")(waves.cuda()).cpu(), fbank.cpu()(waves), rtol=0, atol=1e-3)


def test_a_cpu_batch_of_long_clips_goes_in_passes_with_the_same_result():
    waves = torch.cat([clips(16000)] * 3)  # 15 clips of 98 frames: passes of 1024 // 98 = 10 clips
    fbank = BatchedFbank(128)
    torch.testing.assert_close(fbank(waves), fbank.transform(waves), rtol=0, atol=1e-5)

"""Training-time augmentation of normalised spectrogram batches `x: (N, 1, mel, frames)`.

Randomness comes from a numpy Generator so a seed fixes every mask, shift and mix.
"""

from __future__ import annotations

import numpy as np
import torch


def spec_augment(x: torch.Tensor, freq_mask: int, time_mask: int, rng: np.random.Generator) -> torch.Tensor:
    """SpecAugment: per clip one band of up to `freq_mask` mel bins and one of up to `time_mask`
    frames set to 0 (the dataset mean after normalisation). Returns a new tensor."""
    n, _, mel, frames = x.shape
    keep = torch.ones(n, 1, mel, frames, dtype=torch.bool)
    for axis, widest, size in ((2, freq_mask, mel), (3, time_mask, frames)):
        widths = rng.integers(0, min(widest, size) + 1, size=n)
        starts = rng.integers(0, size - widths + 1)
        pos = torch.arange(size)
        band = (pos[None] >= torch.as_tensor(starts)[:, None]) & (pos[None] < torch.as_tensor(starts + widths)[:, None])
        keep &= ~(band[:, None, :, None] if axis == 2 else band[:, None, None, :])
    return x * keep.to(x.device, x.dtype)


def time_roll(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Roll every clip circularly along time by its own random shift in [0, frames)."""
    n, _, _, frames = x.shape
    shifts = torch.as_tensor(rng.integers(0, frames, size=n), device=x.device)
    index = (torch.arange(frames, device=x.device)[None] - shifts[:, None]) % frames  # (N, frames)
    return torch.gather(x, 3, index[:, None, None, :].expand_as(x))


def mixup(
    x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix the batch with a shuffled copy of itself: lam ~ Beta(alpha, alpha) per batch;
    `y: (N, C)` soft/multi-hot targets are mixed with the same lam."""
    lam = float(rng.beta(alpha, alpha))
    perm = torch.as_tensor(rng.permutation(x.shape[0]), device=x.device)
    return lam * x + (1 - lam) * x[perm], lam * y + (1 - lam) * y[perm]

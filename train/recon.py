"""Reconstruction pictures: for each image a column of original | masked | reconstruction."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from synpat.core.files import write_atomic
from synpat.train.image_aug import MEAN, STD

GAP = 2  # pixels between tiles


def to_uint8(imgs: torch.Tensor) -> np.ndarray:
    """ImageNet-normalised imgs (N, 3, H, W) -> (N, H, W, 3) uint8."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    x = (imgs.detach().float().cpu() * std + mean).clamp(0, 1)
    return (x * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def spectrogram_to_uint8(specs: torch.Tensor) -> np.ndarray:
    """Standardised spectrograms (N, 1, mel, frames) -> (N, mel, frames, 3) uint8 grey, low frequencies
    at the bottom, -3 to +3 standard deviations from black to white."""
    x = ((specs.detach().float().cpu().flip(2) + 3) / 6).clamp(0, 1)
    return (x * 255 + 0.5).to(torch.uint8).expand(-1, 3, -1, -1).permute(0, 2, 3, 1).numpy()


def recon_rows(model, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> list[np.ndarray]:
    """imgs (N, C, H, W), pred (N, L, ph*pw*C), mask (N, L) -> three (N, H, W, 3) uint8 rows: the
    originals; the visible patches on grey; the prediction in the masked patches pasted beside the
    visible ones (MAE's 'reconstruction + visible'). C = 3: images; C = 1: spectrograms."""
    (ph, pw), channels = model.arch.encoder.patch, imgs.shape[1]
    to_uint8_of = to_uint8 if channels == 3 else spectrogram_to_uint8
    pixel_mask = model.unpatchify(mask.float()[..., None].expand(-1, -1, ph * pw * channels).cpu())  # 1 = masked
    imgs = imgs.float().cpu()
    recon = model.reconstruct(imgs, pred.float().cpu())
    grey = torch.zeros_like(imgs)  # 0 in normalised space = the ImageNet mean colour (the mean level of a spectrogram)
    return [
        to_uint8_of(imgs),
        to_uint8_of(imgs * (1 - pixel_mask) + grey * pixel_mask),
        to_uint8_of(imgs * (1 - pixel_mask) + recon * pixel_mask),
    ]


def grid(rows: list[np.ndarray]) -> np.ndarray:
    """rows of (N, H, W, 3) uint8 -> one (R*(H+GAP)-GAP, N*(W+GAP)-GAP, 3) picture on white."""
    n, h, w, _ = rows[0].shape
    out = np.full((len(rows) * (h + GAP) - GAP, n * (w + GAP) - GAP, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for i in range(n):
            out[r * (h + GAP) : r * (h + GAP) + h, i * (w + GAP) : i * (w + GAP) + w] = row[i]
    return out


def save_recon(path: str | Path, model, imgs, pred, mask) -> None:
    """Write the original | masked | reconstruction picture as a PNG, atomically."""
    buf = io.BytesIO()
    Image.fromarray(grid(recon_rows(model, imgs, pred, mask))).save(buf, format="PNG")
    write_atomic(Path(path), buf.getvalue())

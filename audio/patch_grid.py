"""Patch shape and stride of the audio ViT's spectrogram tokens, set at fine-tuning instead of fixed by
the image encoder.

A 1 s clip is 96 frames: square 16x16 patches leave 6 time columns for a whole word. A patch
`MELxFRAMES` (e.g. 16x4, time-narrow) and a stride smaller than the patch (overlapping tokens, as
AST's 16x16 patches with stride 10) give the encoder more time resolution. A pre-trained
`(D, 1, p, p)` patch embedding is resampled to the new kernel with timm's `resample_patch_embed`
(the pseudo-inverse of bicubic resizing, FlexiViT), so a resized patch keeps the response of the
pre-trained one to the resized content.
"""

from __future__ import annotations

import torch
from synpat.core.errors import UserError


def grid_of(input_shape: tuple[int, int], patch: tuple[int, int], stride: tuple[int, int]) -> tuple[int, int]:
    """(rows, cols) of tokens that patches of `patch` at `stride` fit into `input_shape` (mel, frames)."""
    rows, cols = ((size - p) // s + 1 for size, p, s in zip(input_shape, patch, stride))
    if min(rows, cols) < 1:
        raise UserError(f"input {input_shape[0]}x{input_shape[1]} is smaller than one {patch[0]}x{patch[1]} patch")
    return rows, cols


def resize_kernel(weight: torch.Tensor, patch: tuple[int, int]) -> torch.Tensor:
    """Patch-embedding weight `(D, C, h, w)` -> `(D, C, *patch)` (unchanged when it already fits)."""
    if tuple(weight.shape[-2:]) == tuple(patch):
        return weight
    from timm.layers import resample_patch_embed  # imported here: timm pulls in torch._dynamo and triton (hear)

    return resample_patch_embed(weight.float(), list(patch)).to(weight.dtype)

"""The pre-training augmentation: RandomResizedCrop(scale 0.2-1, ratio 3/4-4/3) -> horizontal
flip -> ImageNet normalisation -> CHW float.

Two implementations of the same definition: ``dali_augment`` (a DALI graph, used by both DALI
pipelines, shards and stream) and ``torch_augment`` (the batched torch reference: one
affine_grid + grid_sample for the whole batch, on whatever device the batch is on).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SCALE = (0.2, 1.0)
RATIO = (3 / 4, 4 / 3)


def dali_augment(images, size: int, scale: tuple[float, float] = SCALE):
    """images: DALI HWC uint8 batch -> (B, 3, size, size) float, normalised."""
    import nvidia.dali.fn as fn
    import nvidia.dali.types as types

    images = fn.random_resized_crop(images, size=(size, size), random_area=scale, random_aspect_ratio=RATIO)
    return fn.crop_mirror_normalize(
        images,
        mirror=fn.random.coin_flip(),
        dtype=types.FLOAT,
        output_layout="CHW",
        mean=[255 * m for m in MEAN],
        std=[255 * s for s in STD],
    )


def dali_augment_boxes(images, boxes, size: int):
    """images: DALI HWC uint8 batch; boxes: DALI CPU batch of (4,) float crops from crop_boxes (centre x,
    centre y, signed width, height) -> (B, 3, size, size) float, normalised. The crops are given, not drawn
    by DALI, so a batch's augmentation is a function of its step (exact resume)."""
    import nvidia.dali.fn as fn
    import nvidia.dali.math as dmath
    import nvidia.dali.types as types

    cx, cy, sw, h = (boxes[i] for i in range(4))
    w = dmath.abs(sw)
    # DALI's ROI follows the layout's spatial order: (y, x) for HWC.
    start = fn.stack(cy - h / 2, cx - w / 2)
    end = fn.stack(cy + h / 2, cx + w / 2)
    images = fn.resize(images, size=(size, size), roi_start=start, roi_end=end, roi_relative=True)
    return fn.crop_mirror_normalize(
        images,
        mirror=fn.cast(sw < 0, dtype=types.INT32),
        dtype=types.FLOAT,
        output_layout="CHW",
        mean=[255 * m for m in MEAN],
        std=[255 * s for s in STD],
    )


def crop_boxes(n: int, scale: tuple[float, float], generator: torch.Generator) -> torch.Tensor:
    """(n, 4) float: random crops (centre x, centre y, width, height) as fractions of the image."""
    u = torch.rand(n, 5, generator=generator)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    log_r = math.log(RATIO[0]) + (math.log(RATIO[1]) - math.log(RATIO[0])) * u[:, 1]
    ratio = torch.exp(log_r)
    w = torch.sqrt(area * ratio).clamp(max=1.0)
    h = torch.sqrt(area / ratio).clamp(max=1.0)
    cx = w / 2 + (1 - w) * u[:, 2]
    cy = h / 2 + (1 - h) * u[:, 3]
    flip = (u[:, 4] < 0.5).float() * 2 - 1  # -1 mirrors
    return torch.stack([cx, cy, w * flip, h], dim=1)


def torch_augment(
    images: torch.Tensor, size: int, generator: torch.Generator, scale: tuple[float, float] = SCALE
) -> torch.Tensor:
    """images: (B, H, W, 3) uint8 (any device) -> (B, 3, size, size) float32, normalised."""
    b = images.shape[0]
    x = images.permute(0, 3, 1, 2).float().div_(255)
    box = crop_boxes(b, scale, generator).to(images.device)
    theta = torch.zeros(b, 2, 3, device=images.device)
    theta[:, 0, 0], theta[:, 0, 2] = box[:, 2], 2 * box[:, 0] - 1
    theta[:, 1, 1], theta[:, 1, 2] = box[:, 3], 2 * box[:, 1] - 1
    grid = F.affine_grid(theta, [b, 3, size, size], align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std

"""The optimisation recipe: AdamW parameter groups with layer-wise lr decay, warm-up + cosine schedule."""
from __future__ import annotations

import math
import re

import torch
from timm.models.vision_transformer import VisionTransformer

BLOCK_NAME = re.compile(r"^blocks\.(\d+)\.")   # timm ViT parameter names of block i
NO_DECAY_TENSORS = ("cls_token", "mask_token", "pos_embed", "decoder_pos_embed")


def decays(name: str, param: torch.Tensor) -> bool:
    """AdamW weight decay is for weight matrices, not biases, norms, tokens or position codes."""
    return param.ndim > 1 and name not in NO_DECAY_TENSORS


def layer_id(name: str, depth: int) -> int:
    """0 for the embedding (patch embed, class token, position code), i+1 for blocks.i, depth+1 after."""
    if name.startswith(("patch_embed.", "cls_token", "pos_embed")):
        return 0
    match = BLOCK_NAME.match(name)
    return int(match.group(1)) + 1 if match else depth + 1


def param_groups(model: VisionTransformer, weight_decay: float, layer_decay: float) -> list[dict]:
    """Trainable parameters grouped by (layer, decay?) with `lr_scale = layer_decay ** (depth + 1 - layer)`;
    biases, norms and tokens get no weight decay."""
    depth = len(model.blocks)
    groups: dict[tuple[int, bool], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        layer = layer_id(name, depth)
        no_decay = not decays(name, param)
        group = groups.setdefault((layer, no_decay), {
            "params": [],
            "weight_decay": 0.0 if no_decay else weight_decay,
            "lr_scale": layer_decay ** (depth + 1 - layer),
        })
        group["params"].append(param)
    return list(groups.values())


def lr_at(epoch: float, base_lr: float, warmup_epochs: float, epochs: int, min_lr: float) -> float:
    """Linear warm-up from 0 to base_lr over warmup_epochs, then half-cosine to min_lr at `epochs`."""
    if epoch < warmup_epochs:
        return base_lr * epoch / warmup_epochs
    span = max(epochs - warmup_epochs, 1e-8)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (epoch - warmup_epochs) / span)))


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Apply `lr` times each group's lr_scale."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group["lr_scale"]

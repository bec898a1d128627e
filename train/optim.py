"""The one optimisation recipe of pre-training and fine-tuning: AdamW parameter groups (weight decay
for weight matrices only, optional layer-wise lr decay) and the warm-up + cosine schedule."""

from __future__ import annotations

import math
import re

import torch

BLOCK_NAME = re.compile(r"^blocks\.(\d+)\.")  # timm ViT parameter names of block i
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


def param_groups(model: torch.nn.Module, weight_decay: float, layer_decay: float = 1.0) -> list[dict]:
    """Trainable parameters of a ViT-like model (one with `blocks`) grouped by (lr_scale, weight decay),
    `lr_scale = layer_decay ** (depth + 1 - layer)`; biases, norms and tokens get no weight decay.
    With layer_decay 1 that is two groups: decayed weights and the rest."""
    depth = len(model.blocks)
    groups: dict[tuple[float, float], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        scale = layer_decay ** (depth + 1 - layer_id(name, depth))
        decay = weight_decay if decays(name, param) else 0.0
        groups.setdefault((scale, decay), {"params": [], "weight_decay": decay, "lr_scale": scale})["params"].append(
            param
        )
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
        group["lr"] = lr * group.get("lr_scale", 1.0)


class WarmupCosine:
    """Per optimiser step: `lr_at` with steps for epochs (linear warm-up from 0 to peak_lr over
    `warmup_steps`, then half-cosine to min_lr at `total_steps`). DeepSpeed calls `step()` after each
    optimiser step and checkpoints `state_dict()`."""

    def __init__(self, optimizer, peak_lr: float, warmup_steps: int, total_steps: int, min_lr: float):
        self.optimizer, self.peak_lr, self.min_lr = optimizer, peak_lr, min_lr
        self.warmup_steps, self.total_steps = warmup_steps, total_steps
        self.steps = 0
        self._apply()

    def lr(self) -> float:
        return lr_at(self.steps, self.peak_lr, self.warmup_steps, self.total_steps, self.min_lr)

    def _apply(self) -> None:
        set_lr(self.optimizer, self.lr())

    def step(self, **_) -> None:
        self.steps += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.steps = state["steps"]
        self._apply()

"""The audio ViT: a timm VisionTransformer on 1-channel spectrograms with a fixed 2-D sin-cos position code.

One architecture serves transfer, fine-tuning and the HEAR API. Its weights live in a `.safetensors`
file with a JSON beside it (`<stem>.json`) holding the architecture ("arch") and the input shape.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from timm.models.vision_transformer import VisionTransformer

from synpat.core.errors import UserError
from synpat.train.posembed import sincos_pos_embed_2d


@dataclass(frozen=True)
class EncoderArch:
    """Shape of a ViT encoder (what cannot be read from a spectrogram's size)."""

    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int = 16
    mlp_ratio: float = 4.0
    qkv_bias: bool = True

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping) -> "EncoderArch":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})


PRESETS: dict[str, EncoderArch] = {
    "vit_tiny": EncoderArch(embed_dim=192, depth=12, num_heads=3),
    "vit_small": EncoderArch(embed_dim=384, depth=12, num_heads=6),
    "vit_base": EncoderArch(embed_dim=768, depth=12, num_heads=12),
}


def check_input_shape(shape: tuple[int, int], patch_size: int) -> None:
    """Raise UserError unless mel bins and frames are positive multiples of the patch size."""
    mel, frames = shape
    if mel <= 0 or frames <= 0 or mel % patch_size or frames % patch_size:
        raise UserError(f"input shape {mel}x{frames} is not a positive multiple of the patch size {patch_size}")


def build_audio_vit(
    arch: EncoderArch,
    input_shape: tuple[int, int],
    num_classes: int = 0,
    drop_path: float = 0.0,
    patchout: float = 0.0,
) -> VisionTransformer:
    """A 1-channel timm ViT for `(N, 1, mel, frames)` input with global average pooling of patch tokens.

    The position code is the fixed sin-cos one for the (mel/p) x (frames/p) grid (frames not a
    multiple of p: the last frames % p frames are not seen); the class token's position code is zero.
    `patchout` is the fraction of patch tokens dropped at random while training (timm PatchDropout).
    `num_classes=0` gives an encoder whose output is the pooled `(N, embed_dim)` feature.
    """
    model = VisionTransformer(
        img_size=input_shape,
        patch_size=arch.patch_size,
        in_chans=1,
        num_classes=num_classes,
        global_pool="avg",
        embed_dim=arch.embed_dim,
        depth=arch.depth,
        num_heads=arch.num_heads,
        mlp_ratio=arch.mlp_ratio,
        qkv_bias=arch.qkv_bias,
        drop_path_rate=drop_path,
        patch_drop_rate=patchout,
    )
    rows, cols = model.patch_embed.grid_size
    with torch.no_grad():
        model.pos_embed.zero_()
        model.pos_embed[0, 1:] = sincos_pos_embed_2d(arch.embed_dim, rows, cols)
    model.pos_embed.requires_grad_(False)
    return model


def load_encoder_state(model: VisionTransformer, state: Mapping[str, torch.Tensor]) -> None:
    """Copy encoder weights (a transfer output or a fine-tuned model) into `model`.

    The position code stays the model's own (it is a function of the grid); a classifier head in
    `state` is ignored; an MAE-style final `norm.*` initialises the pooled-feature `fc_norm.*`.
    """
    own = model.state_dict()
    wanted = {k for k in own if k != "pos_embed" and not k.startswith("head.")}
    renamed = {("fc_norm." + k[5:] if k.startswith("norm.") else k): v for k, v in state.items()}
    missing = sorted(wanted - renamed.keys())
    if missing:
        raise UserError(f"encoder weights lack {len(missing)} tensors the model needs, e.g. {missing[:3]}")
    for key in wanted:
        if renamed[key].shape != own[key].shape:
            raise UserError(f"tensor {key} has shape {tuple(renamed[key].shape)}, the model needs {tuple(own[key].shape)}")
    model.load_state_dict({k: renamed[k] for k in wanted}, strict=False)


def meta_path(weights: str | Path) -> Path:
    """The JSON that describes a weights file: `<stem>.json` beside it."""
    return Path(weights).with_suffix(".json")


def read_model_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Load an audio model `.safetensors` and its JSON; returns (state dict, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} not found")
    if not meta_path(path).is_file():
        raise UserError(f"{meta_path(path)} not found: an audio model needs its JSON beside the weights")
    try:
        meta = json.loads(meta_path(path).read_text())
    except (ValueError, OSError) as err:
        raise UserError(f"{meta_path(path)}: not readable JSON ({err})") from None
    if not isinstance(meta, dict) or "arch" not in meta or "input_shape" not in meta:
        raise UserError(f"{meta_path(path)} has no 'arch'/'input_shape': not a synpat audio model")
    try:
        return load_file(str(path)), meta
    except (SafetensorError, OSError) as err:
        raise UserError(f"{path}: not a readable safetensors file ({err})") from None

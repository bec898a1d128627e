"""The one description of ViT shapes: `ViTArch` and the named sizes every stage uses
(MAE encoders, audio encoders, exported metadata, `--model` choices)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class ViTArch:
    """Shape of a ViT encoder: what cannot be read from its input size."""

    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int = 16
    mlp_ratio: float = 4.0
    qkv_bias: bool = True

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping) -> ViTArch:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})


VIT_SIZES: dict[str, ViTArch] = {
    "vit_tiny": ViTArch(embed_dim=192, depth=12, num_heads=3),
    "vit_small": ViTArch(embed_dim=384, depth=12, num_heads=6),
    "vit_base": ViTArch(embed_dim=768, depth=12, num_heads=12),
    "vit_large": ViTArch(embed_dim=1024, depth=24, num_heads=16),
}


def timm_name(arch: ViTArch) -> str | None:
    """The timm model with this shape at 224 px ('vit_base_patch16_224'), None for a shape timm has no name for."""
    size = next((name for name, known in VIT_SIZES.items() if known == arch), None)
    return f"{size}_patch{arch.patch_size}_224" if size else None

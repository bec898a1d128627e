"""The one description of ViT shapes: `ViTArch` and the named sizes every stage uses
(MAE encoders, audio encoders, exported metadata, `--model` choices)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

from synpat.core.errors import UserError


@dataclass(frozen=True)
class ViTArch:
    """Shape of a ViT encoder: what cannot be read from its input size."""

    embed_dim: int
    depth: int
    num_heads: int
    patch_size: int | tuple[int, int] = 16  # square side, or (rows, cols): (mel bins, frames) on spectrograms
    mlp_ratio: float = 4.0
    qkv_bias: bool = True

    @property
    def patch(self) -> tuple[int, int]:
        """(rows, cols) of one patch: (p, p) for a square patch_size."""
        size = self.patch_size
        return (size, size) if isinstance(size, int) else tuple(size)

    def to_json(self) -> dict:
        """patch_size as written: a number when square (the JSON of every earlier encoder), else [rows, cols]."""
        obj = asdict(self)
        if not isinstance(self.patch_size, int):
            obj["patch_size"] = list(self.patch_size)
        return obj

    @classmethod
    def from_json(cls, obj: Mapping) -> ViTArch:
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in obj.items() if k in names}
        size = values.get("patch_size")
        if isinstance(size, list) and len(size) == 2:
            values["patch_size"] = size[0] if size[0] == size[1] else tuple(size)
        return cls(**values)


def with_patch(arch: ViTArch, patch: tuple[int, int]) -> ViTArch:
    """`arch` with patches of (rows, cols); a square one is stored as its side."""
    return replace(arch, patch_size=patch[0] if patch[0] == patch[1] else tuple(patch))


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


def parse_pair(text: str, name: str) -> tuple[int, int] | None:
    """'16x4' -> (16, 4) (rows, cols: mel bins, frames); '' -> None; anything else a UserError naming `name`."""
    if not text.strip():
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or not int(match.group(1)) or not int(match.group(2)):
        raise UserError(f"bad config value {name}={text!r}: expected MELxFRAMES of positive numbers, e.g. '16x4'")
    return int(match.group(1)), int(match.group(2))

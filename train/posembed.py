"""Fixed 2-D sine-cosine position codes, shared by the MAE (image grid) and the audio encoder
(mel x frames grid), so pre-training and transfer lay positions out the same way."""

from __future__ import annotations

import torch
from synpat.core.errors import UserError


def sincos_pos_embed_2d(embed_dim: int, rows: int, cols: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position code for a rows x cols patch grid, row-major (timm's token order).

    Returns `(rows * cols, embed_dim)` float32. The first embed_dim/2 channels encode the column
    (time) index and the last embed_dim/2 the row (mel) index, each as [sin | cos] over
    embed_dim/4 geometric frequencies 1/10000^(k/(embed_dim/4)): the layout MAE uses for images,
    so pre-trained blocks see horizontal/vertical position where they learned it.
    """
    if embed_dim % 4:
        raise UserError(f"embed_dim {embed_dim} must be divisible by 4 for a 2-D sin-cos position code")
    quarter = embed_dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)  # (D/4,)
    row, col = torch.meshgrid(
        torch.arange(rows, dtype=torch.float64), torch.arange(cols, dtype=torch.float64), indexing="ij"
    )

    def encode(pos: torch.Tensor) -> torch.Tensor:  # pos: (rows*cols,) -> (rows*cols, D/2)
        angle = pos[:, None] * omega[None, :]
        return torch.cat([angle.sin(), angle.cos()], dim=1)

    return torch.cat([encode(col.reshape(-1)), encode(row.reshape(-1))], dim=1).float()


def pos_embed_with_cls(embed_dim: int, rows: int, cols: int) -> torch.Tensor:
    """-> (1, 1 + rows*cols, embed_dim): a zero row for the class token, then the 2-D sin-cos code
    (timm's `pos_embed` layout with one prefix token)."""
    return torch.cat([torch.zeros(1, embed_dim), sincos_pos_embed_2d(embed_dim, rows, cols)])[None]

"""The audio ViT encoder's inference pass in plain torch: the HEAR API embeds audio without timm.

timm imports torchvision, whose ops import torch._dynamo, which imports triton; the HEAR tools import
TensorFlow first, and TensorFlow next to triton crashes the process. This module holds the same
tensors under the same names as `vit_audio.build_audio_vit` (timm's VisionTransformer, global_pool
'avg'), so `vit_audio.load_encoder_state` fills it, and computes the same numbers (a test compares
the two). Its grid may be narrower than the model's: the sin-cos position code of the first `cols`
columns is used, so a short clip costs only its own patches.
"""

from __future__ import annotations

import torch
from synpat.train.posembed import pos_embed_with_cls
from synpat.train.vit_arch import ViTArch
from torch import nn
from torch.nn import functional as F

LN_EPS = 1e-6  # timm's ViT LayerNorm epsilon


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int, bias: bool):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, N, D) -> (B, N, D)."""
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d))


class _Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Block(nn.Module):
    def __init__(self, arch: ViTArch):
        super().__init__()
        dim = arch.embed_dim
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=LN_EPS), nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = _Attention(dim, arch.num_heads, arch.qkv_bias)
        self.mlp = _Mlp(dim, int(dim * arch.mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _PatchEmbed(nn.Module):
    def __init__(self, arch: ViTArch):
        super().__init__()
        self.proj = nn.Conv2d(1, arch.embed_dim, arch.patch, stride=arch.patch)


class PlainAudioViT(nn.Module):
    """Encoder for `(B, 1, mel, frames)` spectrograms; `frames` any multiple of the patch's width up to
    the model's own, `mel` the model's own."""

    def __init__(self, arch: ViTArch, input_shape: tuple[int, int]):
        super().__init__()
        self.rows, self.cols = input_shape[0] // arch.patch[0], input_shape[1] // arch.patch[1]
        self.patch_embed = _PatchEmbed(arch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, arch.embed_dim))
        self.blocks = nn.Sequential(*(_Block(arch) for _ in range(arch.depth)))
        self.fc_norm = nn.LayerNorm(arch.embed_dim, eps=LN_EPS)
        code = pos_embed_with_cls(arch.embed_dim, self.rows, self.cols)  # (1, 1 + rows*cols, D)
        self.register_buffer("grid_pos", code[:, 1:].reshape(1, self.rows, self.cols, -1), persistent=False)

    def patch_tokens(self, spec: torch.Tensor) -> torch.Tensor:
        """spec: (B, 1, mel, cols*pw) -> patch tokens after the last block (B, rows, cols, D)
        (timm's forward_features without the class token)."""
        x = self.patch_embed.proj(spec)  # (B, D, rows, cols)
        b, d, rows, cols = x.shape
        x = x.permute(0, 2, 3, 1) + self.grid_pos[:, :, :cols]  # (B, rows, cols, D)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x.reshape(b, rows * cols, d)], dim=1)
        return self.blocks(x)[:, 1:].reshape(b, rows, cols, d)

"""Masked autoencoder (MAE) with a ViT encoder assembled from timm's `PatchEmbed` and `Block`.

The encoder's parameters carry timm's VisionTransformer names (`patch_embed.*`, `cls_token`,
`pos_embed`, `blocks.N.*`, `norm.*`), so `encoder_state_dict()` loads strictly into
`timm.create_model(arch.timm_name, num_classes=0)` and gives the same features. The decoder
(`decoder_*`, `mask_token`) exists only for pre-training. Structure after He et al., "Masked
Autoencoders Are Scalable Vision Learners" (2021): encode the visible 25% of the patches,
decode all patches from the visible tokens plus mask tokens, MSE on the masked patches only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

import torch
from synpat.train.posembed import pos_embed_with_cls
from synpat.train.vit_arch import VIT_SIZES, ViTArch, timm_name, with_patch
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block
from torch import nn

LayerNorm = partial(nn.LayerNorm, eps=1e-6)  # timm's ViT norm


@dataclass(frozen=True)
class MAEArch:
    encoder: ViTArch
    decoder_dim: int
    decoder_depth: int
    decoder_heads: int

    @property
    def timm_name(self) -> str | None:
        """The timm ViT the encoder loads into ('vit_base_patch16_224')."""
        return timm_name(self.encoder)


MODELS: dict[str, MAEArch] = {  # the factories: name -> encoder size + decoder shape
    "mae_vit_tiny_patch16": MAEArch(VIT_SIZES["vit_tiny"], 128, 4, 4),
    # CPU scale: 8 px patches give 64 px images 64 patches (16 visible) instead of 16 (4 visible)
    "mae_vit_tiny_patch8": MAEArch(replace(VIT_SIZES["vit_tiny"], patch_size=8), 128, 4, 4),
    "mae_vit_small_patch16": MAEArch(VIT_SIZES["vit_small"], 256, 4, 8),
    "mae_vit_base_patch16": MAEArch(VIT_SIZES["vit_base"], 512, 8, 16),
    "mae_vit_large_patch16": MAEArch(VIT_SIZES["vit_large"], 512, 8, 16),
}

ENCODER_PREFIXES = ("patch_embed.", "blocks.", "norm.")
ENCODER_TENSORS = ("cls_token", "pos_embed")


class MAE(nn.Module):
    def __init__(
        self,
        arch: MAEArch,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        mask_ratio: float = 0.75,
        norm_pix_loss: bool = True,
    ):
        """img_size: a square side, or (H, W) (a spectrogram's (mel bins, frames): the position grid is
        then (H/ph) rows of frequency x (W/pw) columns of time, (ph, pw) = arch.encoder.patch);
        in_chans: 3 for images, 1 for spectrograms."""
        super().__init__()
        self.arch, self.img_size, self.in_chans = arch, img_size, in_chans
        self.mask_ratio, self.norm_pix_loss = mask_ratio, norm_pix_loss
        enc = arch.encoder
        (ph, pw), dim, ddim = enc.patch, enc.embed_dim, arch.decoder_dim

        # encoder (timm names)
        self.patch_embed = PatchEmbed(img_size, (ph, pw), in_chans, dim)
        grid = self.patch_embed.grid_size
        self.num_patches = grid[0] * grid[1]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(pos_embed_with_cls(dim, *grid), requires_grad=False)
        self.blocks = nn.ModuleList(
            Block(dim, enc.num_heads, enc.mlp_ratio, qkv_bias=enc.qkv_bias, norm_layer=LayerNorm)
            for _ in range(enc.depth)
        )
        self.norm = LayerNorm(dim)

        # decoder
        self.decoder_embed = nn.Linear(dim, ddim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, ddim))
        self.decoder_pos_embed = nn.Parameter(pos_embed_with_cls(ddim, *grid), requires_grad=False)
        self.decoder_blocks = nn.ModuleList(
            Block(ddim, arch.decoder_heads, enc.mlp_ratio, qkv_bias=True, norm_layer=LayerNorm)
            for _ in range(arch.decoder_depth)
        )
        self.decoder_norm = LayerNorm(ddim)
        self.decoder_pred = nn.Linear(ddim, ph * pw * in_chans)
        self._init_weights()

    def _init_weights(self) -> None:
        """Xavier-uniform linears (the patch projection viewed as one), N(0, 0.02) tokens, unit norms."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        w = self.patch_embed.proj.weight
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)

    # -- patches ------------------------------------------------------------------------------

    def patchify(self, imgs: torch.Tensor) -> torch.Tensor:
        """imgs: (N, C, H, W) -> (N, L, ph*pw*C), patches row-major, pixels (py, px, c) inside a patch."""
        n, c, h, w = imgs.shape
        ph, pw = self.arch.encoder.patch
        x = imgs.reshape(n, c, h // ph, ph, w // pw, pw)
        return x.permute(0, 2, 4, 3, 5, 1).reshape(n, (h // ph) * (w // pw), ph * pw * c)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, L, ph*pw*C) -> imgs (N, C, H, W); the inverse of patchify."""
        (ph, pw), c = self.arch.encoder.patch, self.in_chans
        rows, cols = self.patch_embed.grid_size
        x = x.reshape(x.shape[0], rows, cols, ph, pw, c)
        return x.permute(0, 5, 1, 3, 2, 4).reshape(x.shape[0], c, rows * ph, cols * pw)

    # -- encoder / decoder --------------------------------------------------------------------

    def features(self, imgs: torch.Tensor) -> torch.Tensor:
        """Unmasked encoder, as timm's `forward_features`: imgs (N, C, H, W) -> (N, 1 + L, D)."""
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:]
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
        x = torch.cat([cls, x], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def encode_masked(self, imgs: torch.Tensor, noise: torch.Tensor):
        """Encode the patches with the smallest `noise`; the rest are masked.

        imgs: (N, C, H, W); noise: (N, L) float, one number per patch.
        -> latent (N, 1 + K, D) with K = L * (1 - mask_ratio) visible tokens after the class token,
           mask (N, L) float (1 = masked), restore (N, L) long (index of each patch in the shuffled order).
        """
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:]  # (N, L, D)
        n, length, dim = x.shape
        keep = int(length * (1 - self.mask_ratio))
        shuffle = torch.argsort(noise, dim=1)  # ascending: kept first
        restore = torch.argsort(shuffle, dim=1)
        visible = shuffle[:, :keep]  # (N, K)
        x = torch.gather(x, 1, visible[..., None].expand(-1, -1, dim))  # (N, K, D)
        mask = torch.ones(n, length, device=x.device, dtype=x.dtype)
        mask[:, :keep] = 0
        mask = torch.gather(mask, 1, restore)  # back to patch order
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(n, -1, -1)
        x = torch.cat([cls, x], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x), mask, restore

    def decode(self, latent: torch.Tensor, restore: torch.Tensor) -> torch.Tensor:
        """latent (N, 1 + K, D), restore (N, L) -> predicted patches (N, L, ph*pw*C)."""
        x = self.decoder_embed(latent)  # (N, 1 + K, Dd)
        n, visible, ddim = x.shape
        masks = self.mask_token.expand(n, restore.shape[1] + 1 - visible, -1)
        x_ = torch.cat([x[:, 1:], masks], dim=1)  # (N, L, Dd) shuffled order
        x_ = torch.gather(x_, 1, restore[..., None].expand(-1, -1, ddim))  # patch order
        x = torch.cat([x[:, :1], x_], dim=1) + self.decoder_pos_embed
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    def loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error on masked patches (float32); with norm_pix_loss each target patch is
        standardised by its own mean and variance. imgs (N, C, H, W), pred (N, L, ph*pw*C), mask (N, L)."""
        target = self.patchify(imgs).float()
        if self.norm_pix_loss:
            mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1e-6) ** 0.5
        per_patch = ((pred.float() - target) ** 2).mean(dim=-1)  # (N, L)
        mask = mask.float()
        return (per_patch * mask).sum() / mask.sum()

    def forward(self, imgs: torch.Tensor, noise: torch.Tensor):
        """imgs (N, C, H, W), noise (N, L) -> (loss scalar, pred (N, L, ph*pw*C), mask (N, L))."""
        latent, mask, restore = self.encode_masked(imgs, noise)
        pred = self.decode(latent, restore)
        return self.loss(imgs, pred, mask), pred, mask

    def reconstruct(self, imgs: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """Predicted patches back in image space: pred (N, L, ph*pw*C) -> (N, C, H, W). With norm_pix_loss
        the prediction is de-standardised with the mean/variance of the true patch (as MAE shows it)."""
        if self.norm_pix_loss:
            target = self.patchify(imgs).float()
            mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
            pred = pred.float() * (var + 1e-6) ** 0.5 + mean
        return self.unpatchify(pred.float())

    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's tensors under timm VisionTransformer names."""
        return {k: v for k, v in self.state_dict().items() if k in ENCODER_TENSORS or k.startswith(ENCODER_PREFIXES)}


def build_mae(name: str, patch: tuple[int, int] | None = None, **kwargs) -> MAE:
    """`name` from MODELS (e.g. 'mae_vit_base_patch16'), its patch replaced by `patch` (rows, cols) when
    given (128x2: full-band 2-frame tokens on spectrograms); kwargs go to MAE (img_size, mask_ratio, ...)."""
    arch = MODELS[name]
    if patch is not None:
        arch = replace(arch, encoder=with_patch(arch.encoder, patch))
    return MAE(arch, **kwargs)

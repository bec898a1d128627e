"""The MAE model: timm-compatible encoder, masking, loss, patches."""

from __future__ import annotations

import pytest
import timm
import torch
from synpat.train.mae import MODELS, build_mae
from timm.models.vision_transformer import VisionTransformer


@pytest.mark.parametrize("name", sorted(MODELS))
def test_encoder_loads_into_timm_and_gives_the_same_features(name):
    torch.manual_seed(0)
    mae = build_mae(name).eval()
    enc = MODELS[name].encoder
    with torch.device("meta"):  # skip timm's own initialisation: every tensor is replaced
        vit = (
            timm.create_model(MODELS[name].timm_name, pretrained=False, num_classes=0)
            if MODELS[name].timm_name
            else VisionTransformer(
                patch_size=enc.patch_size,
                embed_dim=enc.embed_dim,
                depth=enc.depth,
                num_heads=enc.num_heads,
                num_classes=0,
            )
        ).eval()
    vit.load_state_dict(mae.encoder_state_dict(), strict=True, assign=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ours, theirs = mae.features(x), vit.forward_features(x)
    assert ours.shape == theirs.shape == (1, 1 + (224 // enc.patch_size) ** 2, enc.embed_dim)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_encoder_at_another_size_loads_into_timm():
    mae = build_mae("mae_vit_tiny_patch16", img_size=64).eval()
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=0, img_size=64).eval()
    vit.load_state_dict(mae.encoder_state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(mae.features(x), vit.forward_features(x), rtol=0, atol=1e-5)


def test_sizes_match_the_mae_paper():
    """ViT-B MAE with its 512-d x 8-block decoder has 111.9M parameters, 85.8M of them the encoder."""
    mae = build_mae("mae_vit_base_patch16")
    total = sum(p.numel() for p in mae.parameters())
    encoder = sum(v.numel() for v in mae.encoder_state_dict().values())
    assert round(total / 1e6, 1) == 111.9
    assert round(encoder / 1e6, 1) == 85.8
    assert MODELS["mae_vit_tiny_patch16"].decoder_dim < 512


def test_position_codes_are_fixed_sincos():
    mae = build_mae("mae_vit_tiny_patch16", img_size=64)
    for pos in (mae.pos_embed, mae.decoder_pos_embed):
        assert not pos.requires_grad
        assert pos.shape[1] == 1 + 16
        assert torch.all(pos[0, 0] == 0)  # class token row
        assert pos[0, 1:].abs().max() <= 1 and len(torch.unique(pos[0, 1:], dim=0)) == 16


def test_patchify_round_trip_and_layout():
    mae = build_mae("mae_vit_tiny_patch16", img_size=64)
    imgs = torch.randn(2, 3, 64, 64)
    patches = mae.patchify(imgs)
    assert patches.shape == (2, 16, 16 * 16 * 3)
    torch.testing.assert_close(mae.unpatchify(patches), imgs, rtol=0, atol=0)
    # patch 5 = row 1, column 1; its first pixel is (16, 16), channels last
    torch.testing.assert_close(patches[0, 5, :3], imgs[0, :, 16, 16])


def test_masking_keeps_the_lowest_noise_quarter():
    torch.manual_seed(0)
    mae = build_mae("mae_vit_tiny_patch16", img_size=64)
    noise = torch.rand(3, 16)
    latent, mask, restore = mae.encode_masked(torch.randn(3, 3, 64, 64), noise)
    assert latent.shape == (3, 1 + 4, 192)
    assert torch.all(mask.sum(1) == 12)
    kept = noise.argsort(1)[:, :4]
    assert torch.all(mask.gather(1, kept) == 0)
    assert torch.equal(noise.argsort(1).gather(1, restore), torch.arange(16).expand(3, -1))


def test_loss_counts_masked_patches_only():
    torch.manual_seed(0)
    mae = build_mae("mae_vit_tiny_patch16", img_size=64)
    imgs = torch.randn(2, 3, 64, 64)
    pred = torch.randn(2, 16, 768)
    mask = torch.zeros(2, 16)
    mask[:, :12] = 1
    changed = pred.clone()
    changed[:, 12:] += 5  # visible patches: no effect
    assert mae.loss(imgs, pred, mask) == mae.loss(imgs, changed, mask)
    changed[:, 0] += 5  # a masked patch: raises the loss
    assert mae.loss(imgs, changed, mask) > mae.loss(imgs, pred, mask)
    # norm_pix_loss: the exact standardised target scores 0
    target = mae.patchify(imgs)
    target = (target - target.mean(-1, keepdim=True)) / (target.var(-1, keepdim=True) + 1e-6) ** 0.5
    assert mae.loss(imgs, target, mask) < 1e-10
    torch.testing.assert_close(mae.reconstruct(imgs, target), imgs, rtol=0, atol=1e-4)


def test_forward_backward_reaches_every_trainable_parameter():
    mae = build_mae("mae_vit_tiny_patch16", img_size=32)
    loss, pred, mask = mae(torch.randn(2, 3, 32, 32), torch.rand(2, 4))
    loss.backward()
    assert pred.shape == (2, 4, 768) and mask.shape == (2, 4)
    missing = [n for n, p in mae.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum())]
    assert not missing

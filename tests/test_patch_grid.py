"""Patch shape and stride of the audio ViT (audio/patch_grid.py, vit_audio.build_audio_vit)."""

import pytest
import torch
from synpat.audio.patch_grid import grid_of, resize_kernel
from synpat.audio.vit_audio import build_audio_vit, load_encoder_state
from synpat.core.errors import UserError
from synpat.train.vit_arch import ViTArch, parse_pair


def test_parse_pair_and_errors():
    assert parse_pair("16x4", "patch") == (16, 4)
    assert parse_pair(" 8 X 8 ", "patch") == (8, 8)
    assert parse_pair("", "patch") is None
    for bad in ("16", "0x4", "16x-4", "axb"):
        with pytest.raises(UserError, match="patch="):
            parse_pair(bad, "patch")


def test_grid_counts_overlapping_tokens():
    assert grid_of((128, 96), (16, 16), (16, 16)) == (8, 6)
    assert grid_of((128, 96), (16, 16), (16, 10)) == (8, 9)  # AST-style time overlap: (96-16)//10+1
    assert grid_of((128, 96), (16, 4), (16, 4)) == (8, 24)
    with pytest.raises(UserError, match="smaller than one"):
        grid_of((8, 96), (16, 4), (16, 4))


@pytest.mark.parametrize("patch,stride,tokens", [((16, 4), None, 8 * 24), ((16, 16), (16, 8), 8 * 11)])
def test_model_runs_with_patch_and_stride(patch, stride, tokens):
    torch.manual_seed(0)
    vit = build_audio_vit(ViTArch(64, 1, 2, patch_size=16), (128, 96), num_classes=3, patch=patch, stride=stride)
    assert vit.pos_embed.shape == (1, 1 + tokens, 64)
    assert vit.patch_embed.proj.weight.shape[-2:] == patch
    assert vit.patch_embed(torch.zeros(2, 1, 128, 96)).shape == (2, tokens, 64)
    assert vit(torch.randn(2, 1, 128, 96)).shape == (2, 3)


def test_pretrained_kernel_is_resampled_to_keep_its_response():
    """A smooth 16x16 kernel (as pre-trained ones are) resized to 16x4 answers a time-constant input
    as the square one does (within 5%), where a freshly initialised 16x4 kernel does not."""
    torch.manual_seed(0)
    square = build_audio_vit(ViTArch(64, 1, 2, patch_size=16), (16, 16), num_classes=0)
    with torch.no_grad():
        square.patch_embed.proj.weight.copy_(
            torch.nn.functional.interpolate(torch.randn(64, 1, 4, 4), size=(16, 16), mode="bilinear")
        )
    narrow = build_audio_vit(ViTArch(64, 1, 2, patch_size=16), (16, 4), num_classes=0, patch=(16, 4))
    before = narrow.patch_embed(torch.ones(1, 1, 16, 4))
    with pytest.raises(UserError, match="patch_embed.proj.weight has shape"):  # only on request
        load_encoder_state(narrow, square.state_dict())
    load_encoder_state(narrow, square.state_dict(), resample=True)
    column = torch.randn(1, 1, 16, 1)
    want = square.patch_embed(column.expand(1, 1, 16, 16))
    got = narrow.patch_embed(column.expand(1, 1, 16, 4))
    assert float((got - want).norm() / want.norm()) < 0.05
    assert float((before - square.patch_embed(torch.ones(1, 1, 16, 16))).norm() / want.norm()) > 0.5
    assert resize_kernel(square.patch_embed.proj.weight, (16, 16)) is square.patch_embed.proj.weight

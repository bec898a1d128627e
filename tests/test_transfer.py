"""synpat-transfer: image ViT encoder -> 1-channel audio encoder."""

from __future__ import annotations

import json

import pytest
import timm
import torch
from audio_fixtures import make_image_encoder
from safetensors.torch import load_file, save_file
from synpat.audio.transfer import main, transfer_file
from synpat.audio.vit_audio import build_audio_vit, load_encoder_state
from synpat.train.posembed import sincos_pos_embed_2d
from synpat.train.vit_arch import ViTArch


@pytest.fixture()
def encoder(tmp_path):
    return make_image_encoder(tmp_path / "enc.safetensors")


def test_grey_image_property(encoder, tmp_path):
    """A grey image on 3 channels through the old patch embedding == 1 channel through the new one."""
    out = tmp_path / "audio.safetensors"
    assert main([str(encoder), "--out", str(out), "--input-shape", "64x128"]) == 0
    old, new = load_file(str(encoder)), load_file(str(out))
    assert new["patch_embed.proj.weight"].shape == (96, 1, 16, 16)
    grey = torch.randn(2, 1, 64, 128)
    before = torch.nn.functional.conv2d(
        grey.expand(-1, 3, -1, -1), old["patch_embed.proj.weight"], old["patch_embed.proj.bias"], stride=16
    )
    after = torch.nn.functional.conv2d(grey, new["patch_embed.proj.weight"], new["patch_embed.proj.bias"], stride=16)
    assert before.shape == (2, 96, 4, 8)
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    # blocks are copied unchanged, and the whole thing loads strictly into a 1-channel timm ViT
    torch.testing.assert_close(new["blocks.1.attn.qkv.weight"], old["blocks.1.attn.qkv.weight"])
    vit = timm.models.vision_transformer.VisionTransformer(
        img_size=(64, 128), in_chans=1, num_classes=0, embed_dim=96, depth=2, num_heads=3
    )
    vit.load_state_dict(new, strict=True)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["input_shape"] == [64, 128] and meta["grid"] == [4, 8]
    assert meta["arch"] == {
        "embed_dim": 96,
        "depth": 2,
        "num_heads": 3,
        "patch_size": 16,
        "mlp_ratio": 4.0,
        "qkv_bias": True,
    }
    assert meta["transfer"]["patch_embed"].startswith("summed over 3")


def test_pos_embed_is_sincos_for_the_grid(encoder, tmp_path):
    out = tmp_path / "a.safetensors"
    transfer_file(encoder, out, (128, 1024))
    pos = load_file(str(out))["pos_embed"]
    assert pos.shape == (1, 1 + 8 * 64, 96)
    assert torch.count_nonzero(pos[0, 0]) == 0  # class token: zero position code
    torch.testing.assert_close(pos[0, 1:], sincos_pos_embed_2d(96, 8, 64))
    # row-major grid: token 1 is (row 0, col 1); time code in the first half, mel code in the second
    code = sincos_pos_embed_2d(96, 8, 64).reshape(8, 64, 96)
    torch.testing.assert_close(code[2, :, 48:], code[2, 0:1, 48:].expand(64, -1))  # mel code constant in time
    torch.testing.assert_close(code[:, 3, :48], code[0:1, 3, :48].expand(8, -1))  # time code constant over mel
    assert not torch.allclose(code[0, 0, :48], code[0, 1, :48])
    assert not torch.allclose(code[0, 3, 48:], code[7, 3, 48:])
    assert len({tuple(v.round(decimals=5).tolist()) for v in code.reshape(-1, 96)}) == 8 * 64


def test_mae_checkpoint_without_json(encoder, tmp_path):
    """A training checkpoint {'model': MAE state dict with decoder_* and mask_token}, no JSON: shapes decide."""
    state = load_file(str(encoder))
    state["mask_token"] = torch.zeros(1, 1, 64)
    state["decoder_embed.weight"] = torch.zeros(64, 96)
    state["decoder_pred.weight"] = torch.zeros(768, 64)
    ckpt = tmp_path / "checkpoint-10.pth"
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}, "epoch": 10}, ckpt)
    meta = transfer_file(ckpt, tmp_path / "b.safetensors", (128, 128), num_heads=3)
    assert meta["arch"]["depth"] == 2 and meta["arch"]["embed_dim"] == 96 and meta["arch"]["num_heads"] == 3
    assert {"mask_token", "decoder_embed.weight", "decoder_pred.weight"} <= set(meta["transfer"]["dropped"])
    out = load_file(str(tmp_path / "b.safetensors"))
    assert not any(k.startswith(("decoder", "mask_token", "module.")) for k in out)
    # default heads when nothing says: embed_dim // 64
    assert transfer_file(ckpt, tmp_path / "c.safetensors", (128, 128))["arch"]["num_heads"] == 1


def test_transferred_encoder_feeds_finetune_model(encoder, tmp_path):
    out = tmp_path / "a.safetensors"
    transfer_file(encoder, out, (64, 128))
    model = build_audio_vit(ViTArch(96, 2, 3), (64, 96), num_classes=5)
    load_encoder_state(model, load_file(str(out)))
    torch.testing.assert_close(model.fc_norm.weight, load_file(str(out))["norm.weight"])
    assert model(torch.randn(2, 1, 64, 96)).shape == (2, 5)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "not found"),
        ("garbage", "not a readable torch checkpoint"),
        ("unrecognised", "unrecognised state dict"),
        ("shape", "not a positive multiple of the patch 16x16"),
        ("json", "says embed_dim=128"),
    ],
)
def test_errors_are_one_line(case, message, encoder, tmp_path, capsys):
    src, shape = encoder, "128x1024"
    if case == "missing":
        src = tmp_path / "nope.safetensors"
    elif case == "garbage":
        src = tmp_path / "junk.pth"
        src.write_bytes(b"this is not a checkpoint" * 10)
    elif case == "unrecognised":
        src = tmp_path / "resnet.safetensors"
        save_file({"conv1.weight": torch.zeros(8, 3, 7, 7), "fc.weight": torch.zeros(10, 8)}, str(src))
    elif case == "shape":
        shape = "100x1024"
    elif case == "json":
        encoder.with_suffix(".json").write_text(json.dumps({"embed_dim": 128, "depth": 2, "num_heads": 4}))
    assert main([str(src), "--out", str(tmp_path / "o.safetensors"), "--input-shape", shape]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("synpat-transfer: error:") and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "o.safetensors").exists()


def test_pretrainer_mae_state_dict(tmp_path):
    """The pre-trainer's MAE (synpat.train.mae): its whole state dict, decoder included, transfers."""
    from synpat.train.mae import build_mae

    mae = build_mae("mae_vit_tiny_patch16", img_size=64)
    ckpt = tmp_path / "mae.pt"
    torch.save({"module": mae.state_dict()}, ckpt)
    meta = transfer_file(ckpt, tmp_path / "audio.safetensors", (128, 256))
    assert meta["arch"]["embed_dim"] == 192 and meta["arch"]["depth"] == 12 and meta["arch"]["num_heads"] == 3
    out = load_file(str(tmp_path / "audio.safetensors"))
    assert set(out) == {k for k in mae.encoder_state_dict()}
    torch.testing.assert_close(
        out["patch_embed.proj.weight"], mae.state_dict()["patch_embed.proj.weight"].sum(1, keepdim=True)
    )

"""The audio ViT: a timm VisionTransformer on 1-channel spectrograms with a fixed 2-D sin-cos position code.

One architecture serves transfer, fine-tuning and the HEAR API. Its weights live in a `.safetensors`
file with a JSON beside it (`<stem>.json`) holding the architecture ("arch") and the input shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from synpat.audio.patch_grid import grid_of, resize_kernel
from synpat.core.errors import UserError
from synpat.train.posembed import pos_embed_with_cls
from synpat.train.vit_arch import ViTArch
from synpat.train.weights import read_weights

if TYPE_CHECKING:  # timm is imported where a model is built: it pulls in torch._dynamo and triton (see vit_plain)
    from timm.models.vision_transformer import VisionTransformer


MAX_PATCHES = 16384  # 128 mel bins x 32768 frames (5.5 min) at 16 px: beyond it attention (patches^2) cannot train


def check_input_shape(shape: tuple[int, int], patch: tuple[int, int], embed_dim: int | None = None) -> None:
    """Raise UserError unless mel bins and frames are positive multiples of the patch's (rows, cols)
    giving at most MAX_PATCHES patches (the message says the memory a larger shape would need)."""
    mel, frames = shape
    if mel <= 0 or frames <= 0 or mel % patch[0] or frames % patch[1]:
        raise UserError(f"input shape {mel}x{frames} is not a positive multiple of the patch {patch[0]}x{patch[1]}")
    patches = (mel // patch[0]) * (frames // patch[1])
    if patches > MAX_PATCHES:
        table = f"its position table alone needs {(patches + 1) * embed_dim * 4 / 2**30:.1f} GiB, " if embed_dim else ""
        raise UserError(
            f"input shape {mel}x{frames} gives {patches} patches of {patch[0]}x{patch[1]}, more than "
            f"{MAX_PATCHES} ({table}one attention map {patches**2 * 4 / 2**30:.0f} GiB); use fewer "
            "mel bins or frames"
        )


def build_audio_vit(
    arch: ViTArch,
    input_shape: tuple[int, int],
    num_classes: int = 0,
    drop_path: float = 0.0,
    patchout: float = 0.0,
    patch: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
) -> VisionTransformer:
    """A 1-channel timm ViT for `(N, 1, mel, frames)` input with global average pooling of patch tokens.

    The position code is the fixed sin-cos one for the (mel/ph) x (frames/pw) grid (frames not a
    multiple of pw: the last frames % pw frames are not seen); the class token's position code is zero.
    `patchout` is the fraction of patch tokens dropped at random while training (timm PatchDropout).
    `num_classes=0` gives an encoder whose output is the pooled `(N, embed_dim)` feature.
    `patch` (mel, frames) replaces the encoder's own `arch.patch`; `stride` (default: the
    patch) below the patch makes tokens overlap (audio/patch_grid.py).
    """
    from timm.models.vision_transformer import VisionTransformer

    patch = patch or arch.patch
    stride = stride or patch
    model = VisionTransformer(
        img_size=input_shape,
        patch_size=patch,
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
    if stride != patch:  # timm's PatchEmbed strides by its kernel: re-make the conv and the token grid
        embed = model.patch_embed
        embed.proj = torch.nn.Conv2d(1, arch.embed_dim, kernel_size=patch, stride=stride)
        embed.grid_size = grid_of(input_shape, patch, stride)
        embed.num_patches = embed.grid_size[0] * embed.grid_size[1]
        embed.strict_img_size = True
        model.pos_embed = torch.nn.Parameter(torch.zeros(1, 1 + embed.num_patches, arch.embed_dim))
    with torch.no_grad():
        model.pos_embed.copy_(pos_embed_with_cls(arch.embed_dim, *model.patch_embed.grid_size))
    model.pos_embed.requires_grad_(False)
    return model


def load_encoder_state(model: torch.nn.Module, state: Mapping[str, torch.Tensor], resample: bool = False) -> None:
    """Copy encoder weights (a transfer output or a fine-tuned model) into `model` (a timm
    VisionTransformer from `build_audio_vit`, or the same tensors in `vit_plain.PlainAudioViT`).

    The position code stays the model's own (it is a function of the grid); a classifier head in
    `state` is ignored; an MAE-style final `norm.*` initialises the pooled-feature `fc_norm.*`.
    """
    own = model.state_dict()
    kernel = own["patch_embed.proj.weight"].shape[-2:]
    if resample and "patch_embed.proj.weight" in state:
        state = {**state, "patch_embed.proj.weight": resize_kernel(state["patch_embed.proj.weight"], tuple(kernel))}
    wanted = {k for k in own if k != "pos_embed" and not k.startswith("head.")}
    renamed = {("fc_norm." + k[5:] if k.startswith("norm.") else k): v for k, v in state.items()}
    missing = sorted(wanted - renamed.keys())
    if missing:
        raise UserError(f"encoder weights lack {len(missing)} tensors the model needs, e.g. {missing[:3]}")
    for key in wanted:
        if renamed[key].shape != own[key].shape:
            raise UserError(
                f"tensor {key} has shape {tuple(renamed[key].shape)}, the model needs {tuple(own[key].shape)}"
            )
    model.load_state_dict({k: renamed[k] for k in wanted}, strict=False)


def read_model_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """An audio model `.safetensors` and its JSON (which names "arch" and "input_shape") -> (state dict, metadata);
    a JSON whose architecture disagrees with the weights is a UserError naming both."""
    state, meta = read_weights(path, required_meta=("arch", "input_shape"))
    why = arch_disagreement(state, meta["arch"])
    if why:
        raise UserError(f"{path}: {why}; the JSON beside the weights must describe them")
    return state, meta


def positive(value, kind: type | tuple[type, ...] = int) -> bool:
    """A finite number of `kind` above zero (a JSON true is no number)."""
    return isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def checked_arch(where: Path | str, value) -> ViTArch:
    """A model JSON's "arch" (`value`; `where`: the JSON) as a ViTArch; UserError naming the JSON and what was
    expected unless it holds positive whole numbers (patch_size one or [rows, cols])."""
    try:
        arch = ViTArch.from_json(value)
    except (TypeError, AttributeError):
        arch = None
    if not (
        arch
        and all(positive(getattr(arch, k)) for k in ("embed_dim", "depth", "num_heads"))
        and (positive(arch.patch_size) or (isinstance(arch.patch_size, tuple) and all(map(positive, arch.patch_size))))
        and arch.embed_dim % arch.num_heads == 0
        and positive(arch.mlp_ratio, (int, float))
        and isinstance(arch.qkv_bias, bool)
    ):
        raise UserError(
            f"{where}: arch {value!r}: expected an object of positive integers embed_dim, depth, "
            "num_heads (dividing embed_dim), patch_size (or [rows, cols]), a positive mlp_ratio, a true/false qkv_bias"
        )
    return arch


def recorded_tokens(where: Path | str, value) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """A fine-tuned model JSON's "patch_stride" [[rows, cols], [rows, cols]] (`value`; None when absent): the
    (patch, stride) of its tokens, which an older JSON records beside the encoder's square "arch"."""
    if value is None:
        return None
    if not (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(pair, list) and len(pair) == 2 and all(map(positive, pair)) for pair in value)
    ):
        raise UserError(
            f"{where}: patch_stride {value!r}: expected [[rows, cols], [rows, cols]] of positive whole numbers"
        )
    return tuple(value[0]), tuple(value[1])


def arch_disagreement(state: Mapping[str, torch.Tensor], arch: Mapping) -> str | None:
    """Where an "arch" JSON (depth, embed_dim, patch_size) disagrees with the encoder weights ``state``, or None."""
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("blocks.") and k.split(".")[1].isdigit()}
    found = {"depth": max(blocks) + 1 if blocks else 0}
    proj = state.get("patch_embed.proj.weight")  # (embed_dim, channels, patch rows, patch cols)
    said = arch.get("patch_size")
    if proj is not None and proj.dim() == 4:
        found["embed_dim"] = proj.shape[0]
        kernel = list(proj.shape[-2:])
        if isinstance(said, list) and len(said) == 2 and all(map(positive, said)) and said != kernel:
            return f"its JSON says patch_size {said}, its weights have {kernel}"  # [rows, cols]: the kernel's own
        # a fine-tuned kernel may be MELxFRAMES other than the square patch an older JSON names (its
        # "patch_stride" says which)
        if kernel[0] == kernel[1]:
            found["patch_size"] = kernel[0]
    for key, have in found.items():
        # a value that is not a whole number is the JSON reader's to refuse (it names what it expected)
        if isinstance(arch.get(key), int) and not isinstance(arch[key], bool) and arch[key] != have:
            return f"its JSON says {key} {arch[key]}, its weights have {have}"
    return None

"""Turn an image ViT encoder into a 1-channel audio encoder (`synpat-transfer`).

The patch-embedding weight `(D, C, p, p)` is summed over its C input channels, so a grey image
repeated on C channels through the old embedding equals the 1-channel image through the new
one; the position code becomes the fixed 2-D sin-cos one for the (mel/p) x (frames/p) grid
(zero for the class token). Decoder tensors (MAE), mask token, classifier head and the old
position code are dropped. The output is a timm ViT state dict (global_pool='token' names:
patch_embed.*, cls_token, pos_embed, blocks.N.*, norm.*) plus `<stem>.json` describing it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save
from synpat.audio.vit_audio import check_input_shape
from synpat.core.errors import UserError
from synpat.core.files import write_atomic, write_json_atomic
from synpat.core.settings import option, parse_settings, run_cli, settings_parser
from synpat.train.optim import BLOCK_NAME
from synpat.train.posembed import pos_embed_with_cls
from synpat.train.vit_arch import ViTArch
from synpat.train.weights import meta_path, read_meta, read_tensors
from timm.models.vision_transformer import VisionTransformer

_WRAPPERS = ("module", "model", "state_dict")
_PREFIXES = ("module.", "_orig_mod.")
_DROPPED = re.compile(r"^(decoder_|decoder\.|mask_token$|head\.|pos_embed$)")


def parse_shape(text: str) -> tuple[int, int]:
    """'128x1024' -> (128, 1024): mel bins x frames."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise UserError(f"input shape {text!r} is not MELxFRAMES (e.g. 128x1024)")
    return int(match.group(1)), int(match.group(2))


def unwrap_state_dict(obj: object, path: Path) -> dict[str, torch.Tensor]:
    """Find the ViT encoder state dict in a checkpoint ('module'/'model'/'state_dict' wrappers,
    'module.'/'_orig_mod.' prefixes); raise UserError if there is none."""
    while (
        isinstance(obj, Mapping)
        and "patch_embed.proj.weight" not in obj
        and not any(k.endswith("patch_embed.proj.weight") for k in obj if isinstance(k, str))
    ):
        inner = next((obj[w] for w in _WRAPPERS if isinstance(obj.get(w), Mapping)), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise UserError(f"{path}: unrecognised content ({type(obj).__name__}), expected a ViT state dict")
    state = {}
    for key, value in obj.items():
        if not isinstance(value, torch.Tensor):
            continue
        for prefix in _PREFIXES:
            key = key.removeprefix(prefix)
        state[key] = value
    needed = ("patch_embed.proj.weight", "cls_token", "blocks.0.attn.qkv.weight", "blocks.0.mlp.fc1.weight")
    if not all(k in state for k in needed):
        sample = ", ".join(sorted(state)[:4]) or "no tensors"
        raise UserError(f"{path}: unrecognised state dict, expected timm ViT keys {', '.join(needed)} (found {sample})")
    return state


def infer_arch(state: Mapping[str, torch.Tensor], declared: Mapping, num_heads: int | None, path: Path) -> ViTArch:
    """Architecture from tensor shapes, checked against the exporter's JSON (`declared`) when there is one.
    Heads: JSON, else `num_heads`, else embed_dim // 64."""
    weight = state["patch_embed.proj.weight"]
    if weight.ndim != 4:
        raise UserError(f"{path}: patch_embed.proj.weight has shape {tuple(weight.shape)}, expected (D, C, rows, cols)")
    embed_dim = state["cls_token"].shape[-1]
    depth = 1 + max(int(m.group(1)) for k in state if (m := BLOCK_NAME.match(k)))
    heads = declared.get("num_heads") or num_heads or max(1, embed_dim // 64)
    if num_heads and num_heads != heads:
        raise UserError(f"--num-heads {num_heads} contradicts num_heads {heads} in {meta_path(path)}")
    if embed_dim % heads:
        raise UserError(f"embed_dim {embed_dim} is not divisible by {heads} heads")
    arch = ViTArch(
        embed_dim=int(embed_dim),
        depth=depth,
        num_heads=int(heads),
        patch_size=int(weight.shape[-1])
        if weight.shape[-1] == weight.shape[-2]
        else tuple(map(int, weight.shape[-2:])),
        mlp_ratio=state["blocks.0.mlp.fc1.weight"].shape[0] / embed_dim,
        qkv_bias="blocks.0.attn.qkv.bias" in state,
    )
    written = arch.to_json()  # patch_size as a JSON holds it
    for key in ("embed_dim", "depth", "patch_size"):
        if key in declared and declared[key] != written[key]:
            raise UserError(f"{meta_path(path)} says {key}={declared[key]} but the weights have {written[key]}")
    return arch


def transfer_state(
    state: Mapping[str, torch.Tensor], arch: ViTArch, input_shape: tuple[int, int]
) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Image encoder state -> 1-channel audio encoder state; returns (new state, dropped keys).

    patch_embed.proj.weight: (D, C, ph, pw) -> (D, 1, ph, pw) by summing over C.
    pos_embed: (1, 1 + rows*cols, D), zero for the class token, sin-cos for the patch grid.
    """
    out, dropped = {}, []
    has_norm = "norm.weight" in state
    for key, value in state.items():
        if _DROPPED.match(key) or (key.startswith("fc_norm.") and has_norm):
            dropped.append(key)
            continue
        key = "norm." + key[8:] if key.startswith("fc_norm.") else key
        out[key] = value.float()
    out["patch_embed.proj.weight"] = state["patch_embed.proj.weight"].float().sum(dim=1, keepdim=True)
    rows, cols = grid_size(input_shape, arch)
    pos = pos_embed_with_cls(arch.embed_dim, rows, cols)
    out["pos_embed"] = pos
    return out, sorted(dropped)


def grid_size(input_shape: tuple[int, int], arch: ViTArch) -> tuple[int, int]:
    """(rows, cols) of patches in an input of (mel bins, frames)."""
    return input_shape[0] // arch.patch[0], input_shape[1] // arch.patch[1]


def check_loads_in_timm(state: Mapping[str, torch.Tensor], arch: ViTArch, input_shape: tuple[int, int]) -> None:
    """Raise UserError unless `state` loads strictly into a 1-channel timm VisionTransformer."""
    model = VisionTransformer(
        img_size=input_shape,
        patch_size=arch.patch_size,
        in_chans=1,
        num_classes=0,
        global_pool="token",
        embed_dim=arch.embed_dim,
        depth=arch.depth,
        num_heads=arch.num_heads,
        mlp_ratio=arch.mlp_ratio,
        qkv_bias=arch.qkv_bias,
    )
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise UserError(
            "encoder is not a plain timm ViT: "
            f"missing {result.missing_keys[:3]}, unsupported {result.unexpected_keys[:3]}"
        )


def transfer_file(
    src: str | Path,
    out: str | Path,
    input_shape: tuple[int, int],
    num_heads: int | None = None,
    trust_pickle: bool = False,
) -> dict:
    """Read SRC, transfer it, write OUT (.safetensors) and OUT's JSON; returns the JSON written."""
    src, out = Path(src), Path(out)
    state = unwrap_state_dict(read_tensors(src, trust_pickle), src)
    declared = read_meta(src)
    arch = infer_arch(state, declared, num_heads, src)
    check_input_shape(input_shape, arch.patch, arch.embed_dim)
    new_state, dropped = transfer_state(state, arch, input_shape)
    check_loads_in_timm(new_state, arch, input_shape)
    channels = state["patch_embed.proj.weight"].shape[1]
    meta = {
        "kind": "transferred",
        "arch": arch.to_json(),
        "input_shape": list(input_shape),
        "grid": list(grid_size(input_shape, arch)),
        "source": str(src.resolve()),
        "source_json": declared or None,
        "transfer": {
            "patch_embed": f"summed over {channels} input channel(s) to 1",
            "pos_embed": "2-D sin-cos (first half time/column, second half mel/row), zero for the class token",
            "dropped": dropped,
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, save({k: v.contiguous() for k, v in new_state.items()}))
    write_json_atomic(meta_path(out), meta)
    return meta


@dataclass
class TransferSettings:
    src: str = option(
        "", "exported encoder .safetensors (+ <stem>.json), timm/MAE state dict or training checkpoint", positional=True
    )
    out: str = option("", "output .safetensors (its JSON is written beside it)")
    input_shape: str = option("128x1024", "spectrogram MELxFRAMES, multiples of the patch size")
    num_heads: int = option(0, "attention heads when no JSON says (0 = embed_dim // 64)")
    trust_pickle: bool = option(False, "allow full pickle loading of a .pth/.pt checkpoint")


def validate(cfg: TransferSettings) -> TransferSettings:
    if not cfg.src:
        raise UserError("no encoder to transfer: give SRC")
    if not cfg.out.endswith(".safetensors"):
        raise UserError(f"--out {cfg.out!r} must end in .safetensors")
    if cfg.num_heads < 0:
        raise UserError(f"bad config value num_heads={cfg.num_heads}: must be >= 0")
    parse_shape(cfg.input_shape)
    return cfg


def _main(argv: Sequence[str] | None) -> None:
    parser = settings_parser(TransferSettings, "synpat-transfer", __doc__.split("\n")[0])
    cfg = validate(parse_settings(TransferSettings, argv, parser))
    meta = transfer_file(cfg.src, cfg.out, parse_shape(cfg.input_shape), cfg.num_heads or None, cfg.trust_pickle)
    arch, grid = meta["arch"], meta["grid"]
    print(
        f"wrote {cfg.out}: ViT {arch['embed_dim']}d x {arch['depth']} blocks, {arch['num_heads']} heads, "
        f"patch {'x'.join(map(str, ViTArch.from_json(arch).patch))}, grid {grid[0]}x{grid[1]}, patch embed {meta['transfer']['patch_embed']}, "
        f"{len(meta['transfer']['dropped'])} tensors dropped"
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("synpat-transfer", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""The pre-trained encoder as the audio stage reads it: `encoder.safetensors` under timm
VisionTransformer names plus `encoder.json` naming the timm model and its shape."""

from __future__ import annotations

from pathlib import Path

import timm
import torch
from safetensors.torch import save
from synpat.core.files import write_atomic, write_json_atomic
from synpat.train.mae import MAE
from synpat.train.weights import read_weights

WEIGHTS, META = "encoder.safetensors", "encoder.json"


def full_fp32_state(engine) -> dict[str, torch.Tensor]:
    """The whole model's parameters as float32 CPU tensors: the optimiser's fp32 master copy where
    DeepSpeed keeps one (bf16/fp16, ZeRO 1-3), else the weights. Collective: call on every rank."""
    if hasattr(engine, "full_fp32_state"):  # the torch engine: its weights are the fp32 masters
        return engine.full_fp32_state()
    import deepspeed  # a DeepSpeed engine: DeepSpeed is loaded already
    from deepspeed.utils import safe_get_full_fp32_param

    params = dict(engine.module.named_parameters())
    flat_masters = fp16_optimizer_masters(getattr(engine, "optimizer", None))
    state = {}
    with deepspeed.zero.GatheredParameters(list(params.values()), enabled=engine.zero_optimization_stage() == 3):
        for name, param in params.items():
            master = safe_get_full_fp32_param(param) if param.requires_grad else None
            master = flat_masters.get(id(param)) if master is None else master
            state[name] = (param.detach() if master is None else master).float().cpu().clone()
    return state


def fp16_optimizer_masters(optimizer) -> dict[int, torch.Tensor]:
    """id(param) -> its fp32 master for DeepSpeed's fp16 optimiser without ZeRO (FP16_Optimizer keeps
    the masters as one flat fp32 tensor per group: `fp32_groups_flat`, laid out as `fp16_groups`,
    which safe_get_full_fp32_param does not see); {} for any other optimiser."""
    groups, flats = getattr(optimizer, "fp16_groups", None), getattr(optimizer, "fp32_groups_flat", None)
    if not groups or not flats or len(groups) != len(flats):
        return {}
    masters = {}
    for params, flat in zip(groups, flats):
        offset = 0
        for param in params:
            masters[id(param)] = flat[offset : offset + param.numel()].view_as(param)
            offset += param.numel()
    return masters


def encoder_meta(model: MAE) -> dict:
    """What `timm.create_model` needs to rebuild the encoder: its timm name, the ViTArch fields
    (the audio stage reads these keys), input size and channels."""
    return {
        "model": model.arch.timm_name,
        **model.arch.encoder.to_json(),
        "img_size": model.img_size,
        "in_chans": model.in_chans,
        "global_pool": "token",
        "pos_embed": "sincos-2d (fixed)",
    }


def spectrogram_meta(model: MAE, kind: str, norm_mean: float, norm_std: float) -> dict:
    """The keys that make an encoder pre-trained on spectrograms (1 channel, (mel, frames) input) an
    audio model as synpat-finetune --init and the HEAR API read it: its ViTArch ("arch"), "input_shape"
    [mel, frames] and the fbank standardisation it was trained with."""
    return {
        "kind": f"pretrained-{kind}",
        "arch": model.arch.encoder.to_json(),
        "input_shape": list(model.img_size),
        "norm_mean": norm_mean,
        "norm_std": norm_std,
    }


def export_encoder(model: MAE, state: dict[str, torch.Tensor], out: str | Path, **extra) -> Path:
    """Write OUT/encoder.safetensors (the encoder part of `state`, timm names) and OUT/encoder.json
    (encoder_meta + `extra`), each atomically. Returns the .safetensors path."""
    out = Path(out)
    encoder = {k: v.contiguous() for k, v in state.items() if k in model.encoder_state_dict()}
    write_atomic(out / WEIGHTS, save(encoder))
    write_json_atomic(out / META, {**encoder_meta(model), **extra})
    return out / WEIGHTS


def load_encoder(folder: str | Path) -> torch.nn.Module:
    """The exported encoder as a timm VisionTransformer (strict load, no head)."""
    state, meta = read_weights(Path(folder) / WEIGHTS, required_meta=("model", "img_size", "in_chans"))
    model = timm.create_model(
        meta["model"], pretrained=False, num_classes=0, img_size=meta["img_size"], in_chans=meta["in_chans"]
    )
    model.load_state_dict(state, strict=True)
    return model

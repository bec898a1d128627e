"""The fine-tuning recipe: one dataclass holds every default; a JSON file and then CLI flags override it.

Defaults are MaskSpec's ESC-50 recipe as DESIGN §3 states it (batch 64, 80 epochs, blr 1e-3,
lr = blr * batch / 256, layer decay 0.75, 5 warmup epochs, cosine to 1e-6, wd 0.05, drop path
0.1, mixup 0.3, 128 x 500 input, ~100 of 248 patch tokens dropped).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Sequence

from synpat.gen.errors import UserError
from synpat.train.cli import Parser
from synpat.train.vit_audio import PRESETS


def _opt(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass
class FinetuneConfig:
    init: str = _opt("none", "audio encoder .safetensors (synpat-transfer output or a fine-tuned model), or 'none'")
    data: str = _opt("", "dataset spec: esc50:ROOT | speechcommands:ROOT | folder:ROOT | csv:FILE")
    out: str = _opt("", "output folder (results.json, confusion.png, best.safetensors)")
    model: str = _opt("vit_base", f"architecture when --init none: {'|'.join(PRESETS)}")
    embed_dim: int = _opt(0, "override the preset's width (0 = preset; --init none only)")
    depth: int = _opt(0, "override the preset's block count (0 = preset; --init none only)")
    num_heads: int = _opt(0, "override the preset's heads (0 = preset; --init none only)")
    mel_bins: int = _opt(128, "mel bins of the fbank")
    frames: int = _opt(500, "fbank frames (10 ms each) per clip; clips are padded/cut")
    batch_size: int = _opt(64, "clips per optimiser step")
    epochs: int = _opt(80, "epochs per fold")
    blr: float = _opt(1e-3, "base learning rate; lr = blr * batch_size / 256")
    layer_decay: float = _opt(0.75, "layer-wise lr decay (block i of L gets decay^(L+1-i))")
    warmup_epochs: float = _opt(5.0, "linear warm-up epochs, then cosine")
    min_lr: float = _opt(1e-6, "lr at the end of the cosine")
    weight_decay: float = _opt(0.05, "AdamW weight decay (not on biases, norms, tokens)")
    drop_path: float = _opt(0.1, "stochastic depth rate")
    mixup: float = _opt(0.3, "mixup Beta(a, a) on spectrograms; 0 = off")
    label_smoothing: float = _opt(0.1, "label smoothing, single-label tasks with mixup off")
    freq_mask: int = _opt(24, "SpecAugment: widest frequency mask (mel bins)")
    time_mask: int = _opt(96, "SpecAugment: widest time mask (frames)")
    time_roll: bool = _opt(True, "roll each training spectrogram by a random time shift")
    patchout: float = _opt(0.4, "fraction of patch tokens dropped at random while training")
    folds: int = _opt(5, "cross-validation folds (the dataset's own when it has them)")
    linear_probe: bool = _opt(False, "freeze the encoder, train only the classifier head")
    seed: int = _opt(0, "seed for folds, initialisation and augmentation")
    device: str = _opt("auto", "auto | cpu | cuda | cuda:N")
    threads: int = _opt(0, "torch CPU threads (0 = torch's default)")
    strict: bool = _opt(False, "stop at the first unreadable clip instead of skipping it")

    @property
    def lr(self) -> float:
        return self.blr * self.batch_size / 256


_POSITIVE = ("mel_bins", "frames", "batch_size", "epochs", "folds")
_NON_NEGATIVE = ("embed_dim", "depth", "num_heads", "blr", "warmup_epochs", "min_lr", "weight_decay", "mixup",
                 "freq_mask", "time_mask", "threads")


def _coerce(name: str, value, default):
    """Check a JSON value against the field's type (ints are accepted for floats)."""
    kind = type(default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UserError(f"config key {name!r}: {value!r} is not a {kind.__name__}")
    return value


def validate(cfg: FinetuneConfig) -> FinetuneConfig:
    """Raise UserError for a value outside its range; return cfg."""
    def bad(name: str, why: str) -> UserError:
        return UserError(f"bad config value {name}={getattr(cfg, name)!r}: {why}")

    for name in _POSITIVE:
        if getattr(cfg, name) <= 0:
            raise bad(name, "must be > 0")
    for name in _NON_NEGATIVE:
        if getattr(cfg, name) < 0:
            raise bad(name, "must be >= 0")
    if not 0 < cfg.layer_decay <= 1:
        raise bad("layer_decay", "must be in (0, 1]")
    for name in ("drop_path", "label_smoothing", "patchout"):
        if not 0 <= getattr(cfg, name) < 1:
            raise bad(name, "must be in [0, 1)")
    if cfg.model not in PRESETS:
        raise bad("model", f"use one of {', '.join(PRESETS)}")
    if not cfg.data:
        raise UserError("no dataset: give --data LAYOUT:PATH")
    if not cfg.out:
        raise UserError("no output folder: give --out DIR")
    if cfg.device != "auto" and not (cfg.device == "cpu" or cfg.device.startswith("cuda")):
        raise bad("device", "use auto, cpu, cuda or cuda:N")
    return cfg


def load_json_overrides(path: str | Path) -> dict:
    """Read a --config file: a JSON object whose keys are FinetuneConfig fields."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} not found")
    try:
        obj = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"config file {path}: invalid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise UserError(f"config file {path}: expected a JSON object")
    defaults = asdict(FinetuneConfig())
    unknown = sorted(set(obj) - set(defaults))
    if unknown:
        raise UserError(f"config file {path}: unknown key(s) {', '.join(unknown)}")
    return {k: _coerce(k, v, defaults[k]) for k, v in obj.items()}


def build_parser(prog: str) -> Parser:
    """One flag per FinetuneConfig field (`--batch-size`, `--time-roll/--no-time-roll`, ...) plus --config."""
    parser = Parser(prog=prog, description="Fine-tune (or linearly probe) an audio ViT with k-fold cross-validation.",
                    argument_default=argparse.SUPPRESS)
    parser.add_argument("--config", help="JSON file of config overrides (flags override it in turn)")
    for f in fields(FinetuneConfig):
        flag = "--" + f.name.replace("_", "-")
        text = f"{f.metadata['help']} (default {f.default})"
        if isinstance(f.default, bool):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(flag, dest=f.name, type=type(f.default), metavar=f.name.upper(), help=text)
    return parser


def parse_config(argv: Sequence[str] | None, prog: str = "synpat-finetune") -> FinetuneConfig:
    """Defaults <- --config JSON <- flags; validated."""
    args = vars(build_parser(prog).parse_args(argv))
    values = load_json_overrides(args.pop("config")) if "config" in args else {}
    values.update(args)
    return validate(FinetuneConfig(**values))

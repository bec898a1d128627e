"""The fine-tuning recipe: one dataclass holds every default; a JSON file and then CLI flags override it.

Defaults are MaskSpec's ESC-50 recipe as DESIGN §3 states it (batch 64, 80 epochs, blr 1e-3,
lr = blr * batch / 256, layer decay 0.75, 5 warmup epochs, cosine to 1e-6, wd 0.05, drop path
0.1, mixup 0.3, 128 x 500 input, ~100 of 248 patch tokens dropped).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from synpat.core.errors import UserError
from synpat.core.settings import check_ranges, option, parse_settings, settings_parser
from synpat.train.vit_arch import VIT_SIZES


@dataclass
class FinetuneConfig:
    init: str = option("none", "audio encoder .safetensors (synpat-transfer output or a fine-tuned model), or 'none'")
    data: str = option("", "dataset spec: esc50:ROOT | speechcommands:ROOT | folder:ROOT | csv:FILE")
    out: str = option("", "output folder (results.json, confusion.png, best.safetensors)")
    model: str = option("vit_base", f"architecture when --init none: {'|'.join(VIT_SIZES)}")
    embed_dim: int = option(0, "override the preset's width (0 = preset; --init none only)")
    depth: int = option(0, "override the preset's block count (0 = preset; --init none only)")
    num_heads: int = option(0, "override the preset's heads (0 = preset; --init none only)")
    mel_bins: int = option(128, "mel bins of the fbank")
    frames: int = option(500, "fbank frames (10 ms each) per clip; clips are padded/cut")
    batch_size: int = option(64, "clips per optimiser step")
    epochs: int = option(80, "epochs per fold")
    blr: float = option(1e-3, "base learning rate; lr = blr * batch_size / 256")
    layer_decay: float = option(0.75, "layer-wise lr decay (block i of L gets decay^(L+1-i))")
    warmup_epochs: float = option(5.0, "linear warm-up epochs, then cosine")
    min_lr: float = option(1e-6, "lr at the end of the cosine")
    weight_decay: float = option(0.05, "AdamW weight decay (not on biases, norms, tokens)")
    drop_path: float = option(0.1, "stochastic depth rate")
    mixup: float = option(0.3, "mixup Beta(a, a) on spectrograms; 0 = off")
    label_smoothing: float = option(0.1, "label smoothing, single-label tasks with mixup off")
    freq_mask: int = option(24, "SpecAugment: widest frequency mask (mel bins)")
    time_mask: int = option(96, "SpecAugment: widest time mask (frames)")
    time_roll: bool = option(True, "roll each training spectrogram by a random time shift")
    patchout: float = option(0.4, "fraction of patch tokens dropped at random while training")
    folds: int = option(5, "cross-validation folds (the dataset's own when it has them)")
    linear_probe: bool = option(False, "freeze the encoder, train only the classifier head")
    seed: int = option(0, "seed for folds, initialisation and augmentation")
    device: str = option("auto", "auto | cpu | cuda | cuda:N")
    threads: int = option(0, "torch CPU threads (0 = torch's default)")
    strict: bool = option(False, "stop at the first unreadable clip instead of skipping it")

    @property
    def lr(self) -> float:
        return self.blr * self.batch_size / 256


_POSITIVE = ("mel_bins", "frames", "batch_size", "epochs", "folds")
_NON_NEGATIVE = ("embed_dim", "depth", "num_heads", "blr", "warmup_epochs", "min_lr", "weight_decay", "mixup",
                 "freq_mask", "time_mask", "threads")


def validate(cfg: FinetuneConfig) -> FinetuneConfig:
    """Raise UserError for a value outside its range; return cfg."""
    def bad(name: str, why: str) -> UserError:
        return UserError(f"bad config value {name}={getattr(cfg, name)!r}: {why}")

    check_ranges(cfg, _POSITIVE, _NON_NEGATIVE)
    if not 0 < cfg.layer_decay <= 1:
        raise bad("layer_decay", "must be in (0, 1]")
    for name in ("drop_path", "label_smoothing", "patchout"):
        if not 0 <= getattr(cfg, name) < 1:
            raise bad(name, "must be in [0, 1)")
    if cfg.model not in VIT_SIZES:
        raise bad("model", f"use one of {', '.join(VIT_SIZES)}")
    if not cfg.data:
        raise UserError("no dataset: give --data LAYOUT:PATH")
    if not cfg.out:
        raise UserError("no output folder: give --out DIR")
    if cfg.device != "auto" and not (cfg.device == "cpu" or cfg.device.startswith("cuda")):
        raise bad("device", "use auto, cpu, cuda or cuda:N")
    return cfg


def parse_config(argv: Sequence[str] | None, prog: str = "synpat-finetune") -> FinetuneConfig:
    """Defaults <- --config file <- --set <- flags; validated."""
    parser = settings_parser(FinetuneConfig, prog,
                             "Fine-tune (or linearly probe) an audio ViT with k-fold cross-validation.")
    return validate(parse_settings(FinetuneConfig, argv, parser))

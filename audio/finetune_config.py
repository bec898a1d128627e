"""The fine-tuning recipe: one dataclass holds every default; a config file, then `--set`, then flags override it.

Defaults follow MaskSpec's ESC-50 recipe (docs/design.md §3: batch 64, 80 epochs, blr 1e-3, lr = blr *
batch / 256, 5 warm-up epochs, cosine to 1e-6, wd 0.05, drop path 0.1, mixup 0.3, patchout 0.4)
with what depends on the data derived from it instead of fixed for 5 s clips. A field left at 0 (-1 for
the mask widths) is worked out in one step, synpat.audio.finetune.resolve, before anything is read:
- architecture (embed_dim, depth, num_heads): the --init file's, else the --model preset's;
- folds: the dataset's own, else 5 (none with an official train/test split);
- input shape: the --init file's (a transferred encoder's grid is fixed), else 128 mel x the
  median clip length rounded to the patch size;
- SpecAugment widths: 19% of the mel bins / frames (AST's 24 of 128 and 96 of 512), with a
  warning when a set width hides more than half of its axis;
- layer decay: 0.5 ** (1 / (depth + 1)), so the patch embedding learns at half the head's rate
  whatever the depth (0.95 for 12 blocks; MaskSpec's 0.75 left a transferred image encoder's
  embedding at 2% of the head's rate, too little to move it from images to spectrograms).
`min_steps` (off by default; synpat-experiment sets 1000) stretches a small task's schedule, epochs and
warm-up alike, to that many optimiser steps: 290 training clips at batch 32 make 10 steps an epoch, so 30
epochs stop after 300 steps with the loss still falling (docs/experiments.md, "Enough steps").
The linear probe follows MAE's probe recipe instead: frozen encoder features computed once,
a BatchNorm (no affine) + linear head, no mixup, SpecAugment or weight decay.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from synpat.core.errors import UserError
from synpat.core.settings import check_ranges, option, parse_settings, settings_parser
from synpat.train.vit_arch import VIT_SIZES, parse_pair


@dataclass
class FinetuneConfig:
    init: str = option("none", "audio encoder .safetensors (synpat-transfer output or a fine-tuned model), or 'none'")
    data: str = option("", "dataset spec: esc50:ROOT | speechcommands:ROOT | folder:ROOT | csv:FILE")
    out: str = option("", "output folder (results.json, confusion.png, best.safetensors)")
    model: str = option("vit_base", f"architecture when --init none: {'|'.join(VIT_SIZES)} (--init: the file's)")
    embed_dim: int = option(0, "override the preset's width (0 = preset; --init none only)")
    depth: int = option(0, "override the preset's block count (0 = preset; --init none only)")
    num_heads: int = option(0, "override the preset's heads (0 = preset; --init none only)")
    mel_bins: int = option(0, "mel bins of the fbank (0 = the --init file's, else 128)")
    frames: int = option(
        0, "fbank frames (10 ms each) per clip, padded/cut (0 = the --init file's, else the median clip)"
    )
    patch: str = option(
        "",
        "patch MELxFRAMES, e.g. '16x4' for time-narrow tokens ('' = the encoder's square patch; "
        "a pre-trained patch embedding is resampled to it)",
    )
    stride: str = option("", "patch stride MELxFRAMES, below the patch for overlapping tokens as AST ('' = the patch)")
    batch_size: int = option(64, "clips per optimiser step")
    epochs: int = option(80, "epochs per fold")
    blr: float = option(1e-3, "base learning rate; lr = blr * batch_size / 256")
    layer_decay: float = option(0.0, "layer-wise lr decay, block i of L gets decay^(L+1-i) (0 = 0.5^(1/(L+1)))")
    warmup_epochs: float = option(5.0, "linear warm-up epochs, then cosine")
    min_steps: int = option(
        0,
        "optimiser steps a fold trains for at least: fewer epochs x batches per epoch stretch the schedule "
        "(epochs and warm-up alike) to it, so a small task is not stopped after a few hundred steps (0 = off)",
    )
    min_lr: float = option(1e-6, "lr at the end of the cosine")
    weight_decay: float = option(0.05, "AdamW weight decay (not on biases, norms, tokens)")
    drop_path: float = option(0.1, "stochastic depth rate")
    mixup: float = option(0.3, "mixup Beta(a, a) on spectrograms; 0 = off")
    label_smoothing: float = option(0.1, "label smoothing, single-label tasks with mixup off")
    freq_mask: int = option(-1, "SpecAugment: widest frequency mask in mel bins (-1 = 19% of them, 0 = off)")
    time_mask: int = option(-1, "SpecAugment: widest time mask in frames (-1 = 19% of them, 0 = off)")
    time_roll: bool = option(True, "roll each training spectrogram by a random time shift")
    patchout: float = option(0.4, "fraction of patch tokens dropped at random while training")
    folds: int = option(0, "cross-validation folds (0 = the dataset's own, else 5)")
    test_folds: str = option("", "comma-separated folds to hold out, e.g. '1,3' (default: every fold)")
    val_fraction: float = option(
        0.1, "share of each round's training clips held out to pick the best epoch (0 = last epoch)"
    )
    val_split: str = option(
        "clips",
        "how that share is drawn: clips (per class, at random) or groups (whole sources: voices, instruments, "
        "recordings, from the esc50 listing's src_file or source column, so the kept epoch is the one that "
        "does best on sources the round does not train on)",
    )
    epoch_curves: bool = option(
        False,
        "record every epoch's validation score and loss and the test fold's score in results.json "
        "(rounds[].curve), to study how the kept epoch is chosen; the test scores choose nothing "
        "(one more pass over the test clips an epoch)",
    )
    linear_probe: bool = option(False, "freeze the encoder, train a BatchNorm + linear head on its features")
    seed: int = option(0, "seed for folds, initialisation and augmentation")
    device: str = option("auto", "auto | cpu | cuda | cuda:N")
    threads: int = option(0, "torch CPU threads (0 = torch's default)")
    strict: bool = option(False, "stop at the first unreadable clip instead of skipping it")

    @property
    def val_by_groups(self) -> bool:
        """Validation clips are drawn as whole sources (--val-split groups with a share to draw)."""
        return self.val_split == "groups" and self.val_fraction > 0

    @property
    def lr(self) -> float:
        return self.blr * self.batch_size / 256

    def schedule(self, clips: int) -> tuple[int, float]:
        """(epochs, warm-up epochs) of a round with `clips` training clips: the configured ones, stretched
        alike (the warm-up keeps its share) when they give fewer than min_steps optimiser steps. The linear
        probe skips a last batch of one clip (its BatchNorm needs two), so that batch makes no step."""
        last = clips % self.batch_size
        batches = max(1, clips // self.batch_size + (last > (1 if self.linear_probe else 0)))
        if self.epochs * batches >= self.min_steps:
            return self.epochs, self.warmup_epochs
        epochs = -(-self.min_steps // batches)  # integer ceiling: a float loses steps past 2**53
        return epochs, self.warmup_epochs * epochs / self.epochs


VAL_SPLITS = ("clips", "groups")
_POSITIVE = ("batch_size", "epochs", "blr")
_NON_NEGATIVE = (
    "mel_bins",
    "frames",
    "folds",
    "embed_dim",
    "depth",
    "num_heads",
    "warmup_epochs",
    "min_steps",
    "min_lr",
    "weight_decay",
    "mixup",
    "threads",
)


def validate(cfg: FinetuneConfig) -> FinetuneConfig:
    """Raise UserError for a value outside its range; return cfg."""

    def bad(name: str, why: str) -> UserError:
        return UserError(f"bad config value {name}={getattr(cfg, name)!r}: {why}")

    check_ranges(cfg, _POSITIVE, _NON_NEGATIVE)
    for name in ("blr", "min_lr", "weight_decay", "warmup_epochs", "mixup", "layer_decay", "val_fraction"):
        if not math.isfinite(getattr(cfg, name)):
            raise bad(name, "not a finite number")
    if cfg.min_lr > cfg.lr:
        raise bad("min_lr", f"must not exceed the peak lr blr * batch_size / 256 = {cfg.lr:g}")
    if not 0 <= cfg.layer_decay <= 1:
        raise bad("layer_decay", "must be in (0, 1], or 0 for the depth's default")
    if cfg.freq_mask < -1 or cfg.time_mask < -1:
        raise bad("freq_mask" if cfg.freq_mask < -1 else "time_mask", "must be -1 (derive), 0 (off) or a width")
    if cfg.folds == 1:
        raise bad("folds", "cross-validation needs at least 2 folds")
    if cfg.linear_probe and cfg.batch_size < 2:
        raise bad("batch_size", "the linear probe's BatchNorm needs batches of 2 clips or more")
    test_folds(cfg)
    parse_pair(cfg.patch, "patch")
    parse_pair(cfg.stride, "stride")
    for name in ("drop_path", "label_smoothing", "patchout", "val_fraction"):
        if not 0 <= getattr(cfg, name) < 1:
            raise bad(name, "must be in [0, 1)")
    if cfg.val_split not in VAL_SPLITS:
        raise bad("val_split", f"use one of {', '.join(VAL_SPLITS)}")
    if cfg.model not in VIT_SIZES:
        raise bad("model", f"use one of {', '.join(VIT_SIZES)}")
    if not cfg.data:
        raise UserError("no dataset: give --data LAYOUT:PATH")
    if not cfg.out:
        raise UserError("no output folder: give --out DIR")
    if cfg.device != "auto" and not (cfg.device == "cpu" or cfg.device.startswith("cuda")):
        raise bad("device", "use auto, cpu, cuda or cuda:N")
    return cfg


def test_folds(cfg: FinetuneConfig) -> list[int]:
    """--test-folds '1,3' -> [1, 3]; [] for every fold."""
    try:
        folds = [int(f) for f in cfg.test_folds.split(",") if f.strip()]
    except ValueError:
        raise UserError(f"bad config value test_folds={cfg.test_folds!r}: expected fold numbers like '1,3'") from None
    if any(f < 1 for f in folds) or len(set(folds)) != len(folds):
        raise UserError(f"bad config value test_folds={cfg.test_folds!r}: folds are distinct numbers from 1")
    return folds


def parse_config(argv: Sequence[str] | None, prog: str = "synpat-finetune") -> FinetuneConfig:
    """Defaults <- --config file <- --set <- flags; validated."""
    parser = settings_parser(
        FinetuneConfig, prog, "Fine-tune (or linearly probe) an audio ViT with k-fold cross-validation."
    )
    return validate(parse_settings(FinetuneConfig, argv, parser))

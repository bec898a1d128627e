"""Fine-tune or linearly probe an audio ViT with k-fold cross-validation (`synpat-finetune`).

Every clip's fbank is computed once per run and kept in memory; each round normalises with its
training clips' mean/std, holds out a validation share of its training clips to pick the epoch
whose weights it keeps, and scores its test fold once with them. OUT gets results.json (per
round and mean ± std), confusion.png (held-out predictions of all rounds, single-label tasks)
and best.safetensors + best.json (the round model with the best validation score, with config,
class names and normalisation), all written atomically. --out is checked before any training.
"""

from __future__ import annotations

import logging
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile as sf
import torch
import torch.nn.functional as F
from safetensors.torch import save
from synpat.audio.augmentation import mixup, spec_augment, time_roll
from synpat.audio.clip_sets import GROUP_COLUMNS, AudioTask, assign_folds, load_task
from synpat.audio.confusion_png import write_confusion_png
from synpat.audio.fbank import HOP, SAMPLE_RATE, WINDOW, AudioReadError, FbankShape, compute_fbanks
from synpat.audio.finetune_config import FinetuneConfig, parse_config, test_folds
from synpat.audio.metrics import accuracy, confusion, mean_average_precision
from synpat.audio.patch_grid import grid_of
from synpat.audio.vit_audio import (
    build_audio_vit,
    check_input_shape,
    checked_arch,
    load_encoder_state,
    read_model_file,
    recorded_tokens,
)
from synpat.core.devices import torch_device
from synpat.core.errors import UserError
from synpat.core.files import write_atomic, write_json_atomic
from synpat.core.progress import Progress
from synpat.core.settings import run_cli
from synpat.train.optim import lr_at, param_groups, set_lr
from synpat.train.vit_arch import VIT_SIZES, ViTArch, parse_pair, with_patch
from synpat.train.weights import meta_path


@dataclass
class Split:
    """One train/evaluate round: rows into the cached clips. `val` (taken from the training folds)
    picks the epoch whose weights are kept; `test` is scored once, with those weights."""

    name: str
    train: list[int]
    val: list[int]
    test: list[int]


@dataclass
class FoldResult:
    split: Split
    metrics: dict  # test scores with the kept weights
    val_score: float  # the kept epoch's validation score (nan without a validation set)
    epoch: int  # the kept epoch (1-based)
    epochs: int  # the epochs trained (the schedule's, stretched to --min-steps)
    scores: torch.Tensor  # (len(test), C) held-out class scores
    state: dict
    norm: tuple[float, float]
    curve: list[dict]  # per epoch {epoch, val, val_loss, test} with --epoch-curves, else []


class Resolved(NamedTuple):
    """A run's settings with nothing left to work out, and the encoder it starts from."""

    cfg: FinetuneConfig  # every "0/-1 = derive" field filled in (see finetune_config)
    arch: ViTArch
    init_state: dict | None  # the --init file's weights, or None for --init none
    init_meta: dict | None  # the --init file's metadata


def resolve(cfg: FinetuneConfig, task: AudioTask) -> Resolved:
    """The one step that works out what the config leaves to the data and the --init file: the
    architecture (embed_dim, depth, num_heads), the input shape (mel_bins, frames), the SpecAugment
    widths (freq_mask, time_mask), layer_decay, folds, and the model's name. Warns (stderr) where a
    setting hides most of the input."""
    arch, state, meta = _arch(cfg)
    cfg = _recipe(cfg, arch, meta, task)
    return Resolved(
        replace(cfg, embed_dim=arch.embed_dim, depth=arch.depth, num_heads=arch.num_heads, folds=task_folds(cfg, task)),
        arch,
        state,
        meta,
    )


def task_folds(cfg: FinetuneConfig, task: AudioTask) -> int:
    """The cross-validation folds of a run: 0 for an official split, else --folds, the dataset's own, or 5."""
    return 0 if task.has_split else (cfg.folds or len(task.dataset_folds) or 5)


def _arch(cfg: FinetuneConfig) -> tuple[ViTArch, dict | None, dict | None]:
    """(architecture, initial encoder state or None, init file's metadata or None)."""
    if cfg.init != "none":
        state, meta = read_model_file(cfg.init)
        arch = checked_arch(meta_path(cfg.init), meta["arch"])
        tokens = recorded_tokens(meta_path(cfg.init), meta.get("patch_stride"))  # a fine-tuned model's own patch
        return (with_patch(arch, tokens[0]) if tokens else arch), state, meta
    preset = VIT_SIZES[cfg.model]
    arch = replace(
        preset,
        embed_dim=cfg.embed_dim or preset.embed_dim,
        depth=cfg.depth or preset.depth,
        num_heads=cfg.num_heads or preset.num_heads,
    )
    if arch.embed_dim % arch.num_heads or arch.embed_dim % 4:
        raise UserError(f"embed_dim {arch.embed_dim} must be divisible by 4 and by num_heads {arch.num_heads}")
    return arch, None, None


def median_clip_frames(paths: Sequence[Path]) -> int | None:
    """The median length of the clips in 10 ms fbank frames (from the files' headers); None if none is readable."""
    frames = []
    for path in paths:
        try:
            info = sf.info(str(path))
        except (sf.SoundFileError, RuntimeError, OSError):
            continue
        samples = info.frames * SAMPLE_RATE / max(info.samplerate, 1)
        frames.append(max(1, 1 + int((samples - WINDOW) // HOP)))
    return int(statistics.median(frames)) if frames else None


def typical_clip(task: AudioTask) -> int | None:
    """Median clip length of the task in fbank frames, from the headers of at most ~1000 clips spread over it."""
    return median_clip_frames([c.path for c in task.clips[:: max(1, len(task.clips) // 1000)]])


def frames_for(median: int | None, patch: int) -> int:
    """Input frames for clips of `median` frames: rounded to the patch's width `patch` (500 when unknown)."""
    return max(patch, round((median or 500) / patch) * patch)


def input_shape(mel_bins: int, frames: int, median: int | None, patch: int) -> tuple[int, int]:
    """(mel bins, frames) of the input: the given ones, else 128 and the median clip (`median`
    frames, typical_clip) rounded to the patch's width `patch` in frames. synpat-experiment transfers to this shape."""
    return mel_bins or 128, frames or frames_for(median, patch)


def _recipe(cfg: FinetuneConfig, arch: ViTArch, init_meta: dict | None, task: AudioTask) -> FinetuneConfig:
    """resolve's part that follows the data: input shape, SpecAugment widths, layer decay, model name."""
    ph, pw = arch.patch
    mel, frames = cfg.mel_bins, cfg.frames
    if init_meta is not None:
        init_mel, init_frames = init_meta["input_shape"]
        for name, given, own in (("mel_bins", mel, init_mel), ("frames", frames, init_frames)):
            if given and given != own:
                raise UserError(
                    f"--{name.replace('_', '-')} {given} contradicts {cfg.init}'s input shape "
                    f"{init_mel}x{init_frames}: transfer again with --input-shape, or leave it out"
                )
        mel, frames = init_mel, init_frames
    median = typical_clip(task)
    mel, frames = input_shape(mel, frames, median, pw)
    if mel < ph or frames < pw:
        raise UserError(f"input {mel}x{frames} is smaller than one {ph}x{pw} patch")
    grid_of((mel, frames), *patch_geometry(cfg, arch))
    check_input_shape((mel - mel % ph, frames - frames % pw), (ph, pw), arch.embed_dim)  # a huge one is refused
    if median and frames > 2 * median:
        warn(f"input of {frames} frames is over twice the median clip ({median} frames): most of it is padding")
    freq_mask = round(0.19 * mel) if cfg.freq_mask < 0 else cfg.freq_mask
    time_mask = round(0.19 * frames) if cfg.time_mask < 0 else cfg.time_mask
    for name, width, size in (("freq_mask", freq_mask, mel), ("time_mask", time_mask, frames)):
        if width > size / 2 and not cfg.linear_probe:
            warn(
                f"{name} {width} can hide more than half of the {size} {'mel bins' if name == 'freq_mask' else 'frames'}"
            )
    name = next((n for n, known in VIT_SIZES.items() if known == with_patch(arch, known.patch)), "custom")
    return replace(
        cfg,
        mel_bins=mel,
        frames=frames,
        freq_mask=freq_mask,
        time_mask=time_mask,
        model=name,
        layer_decay=cfg.layer_decay or round(0.5 ** (1 / (arch.depth + 1)), 4),
    )


def patch_geometry(cfg: FinetuneConfig, arch: ViTArch) -> tuple[tuple[int, int], tuple[int, int]]:
    """(patch, stride) in (mel bins, frames): the config's, else the encoder's own patch."""
    patch = parse_pair(cfg.patch, "patch") or arch.patch
    return patch, parse_pair(cfg.stride, "stride") or patch


def build_model(cfg: FinetuneConfig, arch: ViTArch, num_classes: int, **kwargs) -> torch.nn.Module:
    """The round's audio ViT with the config's input shape and patch geometry."""
    patch, stride = patch_geometry(cfg, arch)
    return build_audio_vit(
        arch, (cfg.mel_bins, cfg.frames), num_classes=num_classes, patch=patch, stride=stride, **kwargs
    )


def warn(message: str) -> None:
    print(f"synpat-finetune: warning: {message}", file=sys.stderr, flush=True)


def targets_of(task: AudioTask, kept: list[int]) -> torch.Tensor:
    """(N, C) multi-hot targets of the kept clips."""
    index = {name: i for i, name in enumerate(task.classes)}
    y = torch.zeros(len(kept), len(task.classes))
    for row, clip_index in enumerate(kept):
        for label in task.clips[clip_index].labels:
            y[row, index[label]] = 1.0
    return y


def require_groups(task: AudioTask, cfg: FinetuneConfig) -> None:
    """UserError, before any work, when --val-split groups meets a clip with no source named."""
    if not cfg.val_by_groups:
        return
    unnamed = next((c for c in task.clips if c.group is None), None)
    if unnamed is not None:
        raise UserError(
            f"--val-split groups: {task.spec} names no source for {unnamed.path.name} (the esc50 layout's "
            f"{' or '.join(GROUP_COLUMNS)} column names each clip's source)"
        )


def fold_plan(task: AudioTask, cfg: FinetuneConfig) -> tuple[list[int] | None, int, list[int]]:
    """Before any spectrogram is computed: (fold of every clip or None for an official split, folds, test folds)."""
    require_groups(task, cfg)
    if task.has_split:
        if cfg.test_folds:
            raise UserError(f"{task.spec} has an official train/test split: --test-folds does not apply")
        return None, 0, []
    k = cfg.folds
    folds = assign_folds(task, k, cfg.seed)
    chosen = test_folds(cfg) or list(range(1, k + 1))
    outside = [f for f in chosen if not 1 <= f <= k]
    if outside:
        raise UserError(f"--test-folds {cfg.test_folds}: fold {outside[0]} does not exist, the folds are 1..{k}")
    if cfg.val_by_groups:
        groups, classes = [c.group for c in task.clips], [c.labels[0] for c in task.clips]
        for f in chosen:
            train = [i for i, fold in enumerate(folds) if fold != f]
            try:  # refused here, before any spectrogram, if at all
                validation_groups(train, groups, classes, cfg.val_fraction, cfg.seed + f)
            except UserError as err:
                raise UserError(f"{task.spec}, fold {f} held out: {err}") from None
    return folds, k, chosen


def validation_rows(train: list[int], y: torch.Tensor, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split training rows into (train, val): per class (first label) a `fraction` share, at least one
    clip where the class has 5 or more; deterministic in `seed`."""
    if fraction <= 0:
        return train, []
    rng = random.Random(seed)
    by_class: dict[int, list[int]] = {}
    for row in train:
        by_class.setdefault(int(y[row].argmax()), []).append(row)
    val = []
    for label in sorted(by_class):
        rows = by_class[label][:]
        rng.shuffle(rows)
        take = max(1, round(fraction * len(rows))) if len(rows) >= 5 else 0
        val += rows[:take]
    chosen = set(val)
    return [r for r in train if r not in chosen], sorted(val)


def validation_groups(
    train: list[int], groups: list[str], classes: list[str], fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Split training rows into (train, val) by whole groups (`groups[row]`: the row's source, `classes[row]`
    its class): groups in a `seed` shuffle join validation until it holds a `fraction` share of the rows,
    passing over a group that holds a class's last training clips (the round could not learn that class,
    and its test clips would be scored all the same); one group at least. Classes are not balanced
    otherwise: a group brings the classes it has."""
    names = sorted({groups[row] for row in train})
    if len(names) < 2:
        raise UserError(
            f"--val-split groups: a round's training clips come from {len(names)} source(s); whole sources for "
            "validation need 2 or more"
        )
    random.Random(seed).shuffle(names)
    size = Counter(groups[row] for row in train)
    brings = {name: Counter() for name in names}
    for row in train:
        brings[groups[row]][classes[row]] += 1
    left = Counter(classes[row] for row in train)  # training clips per class

    def last_of(name: str) -> str | None:
        """A class whose every training clip is in group `name`, if any."""
        return next((c for c, n in sorted(brings[name].items()) if left[c] == n), None)

    held: set[str] = set()
    count = 0
    for name in names:
        if held and count >= fraction * len(train):
            break
        if last_of(name) is None:
            held.add(name)
            count += size[name]
            left -= brings[name]
    if not held:
        name = min(names)
        raise UserError(
            f"--val-split groups: each source of a round's training clips holds every training clip of some class "
            f"(class {last_of(name)} only comes from source {name}), so none can be held out for validation "
            "without leaving a class to test on but not to train on; give each class 2 or more sources, or use "
            "--val-split clips"
        )
    return [r for r in train if groups[r] not in held], [r for r in train if groups[r] in held]


def hold_out(
    train: list[int], y: torch.Tensor, groups: list[str | None], classes: list[str], cfg: FinetuneConfig, seed: int
) -> tuple[list[int], list[int]]:
    """(train, val) rows of one round as cfg.val_split and cfg.val_fraction say (`classes[row]`: the
    row's class, kept out of nothing but what the round trains on)."""
    if cfg.val_by_groups:
        return validation_groups(train, groups, classes, cfg.val_fraction, seed)
    return validation_rows(train, y, cfg.val_fraction, seed)


def make_splits(
    task: AudioTask,
    kept: list[int],
    y: torch.Tensor,
    cfg: FinetuneConfig,
    plan: tuple[list[int] | None, int, list[int]],
) -> tuple[list[Split], str]:
    """Train/val/test rounds over the kept clips and a description of the protocol."""
    folds, k, chosen = plan
    groups = [task.clips[i].group for i in kept]
    classes = [task.classes[c] for c in y.argmax(dim=1).tolist()]
    if folds is None:
        splits = [task.clips[i].split for i in kept]
        train = [r for r, s in enumerate(splits) if s == "train"]
        test = [r for r, s in enumerate(splits) if s == "test"]
        if not train or not test:
            raise UserError(f"{task.spec}: the official split needs train and test clips")
        train, val = hold_out(train, y, groups, classes, cfg, cfg.seed)
        return [Split("test", train, val, test)], "official train/test split"
    kept_folds = [folds[i] for i in kept]
    rounds = []
    for f in chosen:
        test = [r for r, fold in enumerate(kept_folds) if fold == f]
        train = [r for r, fold in enumerate(kept_folds) if fold != f]
        if not test or not train:
            raise UserError(f"fold {f} of {k} has no clips to test or train on")
        train, val = hold_out(train, y, groups, classes, cfg, cfg.seed + f)
        rounds.append(Split(f"fold{f}", train, val, test))
    source = "dataset folds" if task.dataset_folds else "stratified folds"
    held = "every fold" if len(chosen) == k else f"folds {','.join(map(str, chosen))}"
    by_groups = ", validation by whole sources" if cfg.val_by_groups else ""
    return rounds, f"{k}-fold cross-validation ({source}), {held} held out in turn{by_groups}"


def soft_loss(logits: torch.Tensor, y: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """BCE for multi-label, soft-target cross-entropy otherwise. logits, y: (B, C)."""
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, y)
    return -(y * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    """Outputs for `x: (N, ...)` in batches -> (N, C) float32 on CPU."""
    model.eval()
    out = []
    for start in range(0, len(x), batch):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(model(x[start : start + batch].to(device)).float().cpu())
    return torch.cat(out) if out else torch.empty(0)


def scores_of(scores: torch.Tensor, y: torch.Tensor, multilabel: bool) -> dict:
    out = {"accuracy": accuracy(scores, y)}
    if multilabel:
        out["mAP"] = mean_average_precision(scores, y)
    return out


def main_metric(multilabel: bool) -> str:
    return "mAP" if multilabel else "accuracy"


def probabilities(logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    return logits.sigmoid() if multilabel else logits.softmax(dim=1)


class Round:
    """What one round trains on: normalised inputs `(N, 1, mel, frames)` and targets `(N, C)`."""

    def __init__(self, split: Split, specs: torch.Tensor, y: torch.Tensor):
        self.split = split
        train = specs[split.train]
        self.mean, self.std = float(train.mean()), float(train.std())
        self.train_x, self.train_y = self.norm(train), y[split.train]
        self.val_x, self.val_y = self.norm(specs[split.val]), y[split.val]
        self.test_x, self.test_y = self.norm(specs[split.test]), y[split.test]

    def norm(self, t: torch.Tensor) -> torch.Tensor:  # (B, mel, frames) raw -> (B, 1, mel, frames)
        return ((t - self.mean) / self.std)[:, None]


class EpochPick:
    """Keeps the weights of the epoch that scores best on the round's validation clips (the last epoch's
    when there are none): `best` = (validation score or nan, 1-based epoch, state dict). Given `test_x`
    (the test inputs the model takes), it also records `curve`: per epoch {epoch, val, val_loss, test},
    for studying how the kept epoch is chosen; the test scores choose nothing."""

    def __init__(self, data: Round, multilabel: bool, device: torch.device, test_x: torch.Tensor | None = None):
        self.data, self.multilabel, self.device, self.test_x = data, multilabel, device, test_x
        self.best: tuple[float, int, dict | None] = (-math.inf, 0, None)
        self.curve: list[dict] = []

    def epoch_end(self, model: torch.nn.Module, val_x: torch.Tensor, epoch: int, batch: int) -> str:
        """Score `model` on val_x (the validation inputs it takes); keep it if best. -> a note for the progress line."""
        metric = main_metric(self.multilabel)
        val, val_loss = math.nan, None
        if self.data.split.val:
            logits = predict(model, val_x, batch, self.device)
            val = scores_of(probabilities(logits, self.multilabel), self.data.val_y, self.multilabel)[metric]
            val_loss = float(soft_loss(logits, self.data.val_y, self.multilabel))
        if not self.data.split.val or val > self.best[0]:
            self.best = (val, epoch + 1, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        if self.test_x is not None:
            test = probabilities(predict(model, self.test_x, batch, self.device), self.multilabel)
            self.curve.append(
                {
                    "epoch": epoch + 1,
                    "val": None if math.isnan(val) else val,
                    "val_loss": val_loss,
                    "test": scores_of(test, self.data.test_y, self.multilabel)[metric],
                }
            )
        return f" val {metric} {val:.3f}" if self.data.split.val else ""


def train_round(
    cfg: FinetuneConfig,
    data: Round,
    arch: ViTArch,
    init_state: dict | None,
    multilabel: bool,
    device: torch.device,
    progress: Progress,
    seed: int,
) -> FoldResult:
    """Fine-tune on the round's training clips; keep the weights of the epoch that scores best on its
    validation clips (the last epoch without any), then score the test clips once."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_model(cfg, arch, data.train_y.shape[1], drop_path=cfg.drop_path, patchout=cfg.patchout)
    if init_state is not None:
        load_encoder_state(model, init_state, resample=True)
    model.to(device)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay, cfg.layer_decay), lr=cfg.lr)
    train_y = data.train_y
    if not multilabel and cfg.mixup == 0:
        train_y = train_y * (1 - cfg.label_smoothing) + cfg.label_smoothing / train_y.shape[1]
    n = len(data.train_x)
    steps = math.ceil(n / cfg.batch_size)  # batches per epoch, the last one partial
    epochs, warmup = cfg.schedule(n)
    generator = torch.Generator().manual_seed(seed)
    pick = EpochPick(data, multilabel, device, data.test_x if cfg.epoch_curves else None)
    for epoch in range(epochs):
        model.train()
        start, total_loss = time.perf_counter(), 0.0
        for step, idx in enumerate(torch.randperm(n, generator=generator).split(cfg.batch_size)):
            x, t = data.train_x[idx], train_y[idx]
            if cfg.time_roll:
                x = time_roll(x, rng)
            x = spec_augment(x, cfg.freq_mask, cfg.time_mask, rng)
            if cfg.mixup > 0:
                x, t = mixup(x, t, cfg.mixup, rng)
            set_lr(optimizer, lr_at(epoch + step / steps, cfg.lr, warmup, epochs, cfg.min_lr))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x.to(device))
            loss = soft_loss(logits.float(), t.to(device), multilabel)
            if not torch.isfinite(loss):
                raise UserError(
                    f"{data.split.name} epoch {epoch + 1}: the loss is {float(loss.detach())}; lower blr "
                    f"(now {cfg.blr:g}) or check the clips"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
        note = pick.epoch_end(model, data.val_x, epoch, cfg.batch_size)
        progress.update(
            1,
            f"{data.split.name} epoch {epoch + 1}/{epochs} loss {total_loss / n:.4f}{note} "
            f"{n / (time.perf_counter() - start):.0f} clips/s",
        )
    val_score, kept_epoch, state = pick.best
    model.load_state_dict(state)
    scores = probabilities(predict(model, data.test_x, cfg.batch_size, device), multilabel)
    return FoldResult(
        data.split,
        scores_of(scores, data.test_y, multilabel),
        val_score,
        kept_epoch,
        epochs,
        scores,
        state,
        (data.mean, data.std),
        pick.curve,
    )


class ProbeHead(torch.nn.Module):
    """MAE's linear-probe head: BatchNorm without affine parameters, then a linear layer. (N, D) -> (N, C)."""

    def __init__(self, dim: int, classes: int):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(dim, affine=False, eps=1e-6)
        self.linear = torch.nn.Linear(dim, classes)
        torch.nn.init.trunc_normal_(self.linear.weight, std=0.01)
        torch.nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(x))


def probe_round(
    cfg: FinetuneConfig,
    data: Round,
    arch: ViTArch,
    init_state: dict | None,
    multilabel: bool,
    device: torch.device,
    progress: Progress,
    seed: int,
) -> FoldResult:
    """Linear probe: the frozen encoder's pooled features (computed once, no augmentation) feed a
    BatchNorm + linear head trained with AdamW, no weight decay; the best validation epoch is kept."""
    torch.manual_seed(seed)
    encoder = build_model(cfg, arch, 0)
    if init_state is not None:
        load_encoder_state(encoder, init_state, resample=True)
    encoder.to(device)
    train_f, val_f, test_f = (
        predict(encoder, x, cfg.batch_size, device) for x in (data.train_x, data.val_x, data.test_x)
    )
    head = ProbeHead(arch.embed_dim, data.train_y.shape[1]).to(device)
    optimizer = torch.optim.AdamW(head.parameters(), lr=cfg.lr, weight_decay=0.0)
    n, steps = len(train_f), math.ceil(len(train_f) / cfg.batch_size)
    epochs, warmup = cfg.schedule(n)
    generator = torch.Generator().manual_seed(seed)
    pick = EpochPick(data, multilabel, device, test_f if cfg.epoch_curves else None)
    for epoch in range(epochs):
        head.train()
        start, total_loss = time.perf_counter(), 0.0
        for step, idx in enumerate(torch.randperm(n, generator=generator).split(cfg.batch_size)):
            if len(idx) < 2:  # BatchNorm needs two samples
                continue
            set_lr(optimizer, lr_at(epoch + step / steps, cfg.lr, warmup, epochs, cfg.min_lr))
            loss = soft_loss(head(train_f[idx].to(device)), data.train_y[idx].to(device), multilabel)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
        note = pick.epoch_end(head, val_f, epoch, max(len(val_f), 1))
        progress.update(
            1,
            f"{data.split.name} probe epoch {epoch + 1}/{epochs} loss {total_loss / n:.4f}{note} "
            f"{n / max(time.perf_counter() - start, 1e-9):.0f} clips/s",
        )
    val_score, kept_epoch, head_state = pick.best
    head.load_state_dict(head_state)
    scores = probabilities(predict(head, test_f, max(len(test_f), 1), device), multilabel)
    state = {
        **{k: v.detach().cpu() for k, v in encoder.state_dict().items()},
        "head.weight": head_state["linear.weight"] / torch.sqrt(head_state["norm.running_var"] + 1e-6)[None],
        "head.bias": head_state["linear.bias"]
        - (
            head_state["linear.weight"]
            * (head_state["norm.running_mean"] / torch.sqrt(head_state["norm.running_var"] + 1e-6))[None]
        ).sum(1),
    }
    return FoldResult(
        data.split,
        scores_of(scores, data.test_y, multilabel),
        val_score,
        kept_epoch,
        epochs,
        scores,
        state,
        (data.mean, data.std),
        pick.curve,
    )


def summarise(results: list[FoldResult]) -> tuple[dict, dict]:
    """Mean and sample std (0 for one round) of each metric over rounds."""
    keys = results[0].metrics.keys()
    mean = {k: statistics.fmean(r.metrics[k] for r in results) for k in keys}
    std = {k: statistics.stdev([r.metrics[k] for r in results]) if len(results) > 1 else 0.0 for k in keys}
    return mean, std


def check_writable(out: Path) -> None:
    """Make --out and prove a file can be written there, before any training."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot make the folder ({err.strerror})") from None
    probe = out / ".synpat-write-test"
    write_atomic(probe, b"")
    probe.unlink()


def run(cfg: FinetuneConfig) -> dict:
    """The whole fine-tuning run; returns the results.json content."""
    began = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch_device(cfg.device)
    task = load_task(cfg.data)
    cfg, arch, init_state, init_meta = resolve(cfg, task)
    plan = fold_plan(task, cfg)
    out = Path(cfg.out)
    check_writable(out)
    shape = FbankShape(cfg.mel_bins, cfg.frames)
    t0 = time.perf_counter()
    try:
        cache = compute_fbanks([c.path for c in task.clips], shape, strict=cfg.strict)
    except AudioReadError as err:
        raise UserError(f"{err} (--strict)") from None
    if not cache.kept:
        raise UserError(f"{task.spec}: none of the {len(task.clips)} clips could be read")
    print(
        f"fbanks: {len(cache.kept)} clips {cfg.mel_bins}x{cfg.frames} in {time.perf_counter() - t0:.1f} s, "
        f"{len(cache.skipped)} skipped",
        flush=True,
    )
    y = targets_of(task, cache.kept)
    multilabel = task.multilabel
    splits, protocol = make_splits(task, cache.kept, y, cfg, plan)
    progress = Progress(
        sum(cfg.schedule(len(s.train))[0] for s in splits),
        "synpat-finetune",
        unit="epochs",
        stream=sys.stdout,
        interval=0,
    )
    one_round = probe_round if cfg.linear_probe else train_round
    results = [
        one_round(cfg, Round(s, cache.specs, y), arch, init_state, multilabel, device, progress, cfg.seed + i)
        for i, s in enumerate(splits)
    ]
    mean, std = summarise(results)
    best = max(results, key=lambda r: -math.inf if math.isnan(r.val_score) else r.val_score)
    model_meta = {
        "kind": "finetuned",
        "arch": with_patch(arch, patch_geometry(cfg, arch)[0]).to_json(),  # the tokens this model was trained on
        "input_shape": [cfg.mel_bins, cfg.frames],
        "patch_stride": [list(v) for v in patch_geometry(cfg, arch)],
        "classes": task.classes,
        "multilabel": multilabel,
        "norm_mean": best.norm[0],
        "norm_std": best.norm[1],
        "round": best.split.name,
        "chosen_by": "validation score" if best.split.val else "first round (no validation clips)",
        "metrics": best.metrics,
        "config": asdict(cfg),
        "init": init_meta,
    }
    write_atomic(out / "best.safetensors", save({k: v.contiguous() for k, v in best.state.items()}))
    write_json_atomic(out / "best.json", model_meta)
    if not multilabel:
        true = torch.cat([y[r.split.test].argmax(dim=1) for r in results])
        pred = torch.cat([r.scores.argmax(dim=1) for r in results])
        title = f"{Path(task.spec.partition(':')[2]).name}: held-out predictions, accuracy {mean['accuracy']:.3f}"
        write_confusion_png(out / "confusion.png", confusion(true, pred, len(task.classes)), task.classes, title)
    summary = {
        "config": asdict(cfg),
        "data": {
            "spec": task.spec,
            "clips": len(task.clips),
            "used": len(cache.kept),
            "classes": task.classes,
            "multilabel": multilabel,
            "skipped": [{"path": p, "reason": r} for p, r in cache.skipped],
        },
        "protocol": protocol,
        "mode": "linear probe" if cfg.linear_probe else "fine-tune",
        "device": str(device),
        "model": cfg.model,
        "arch": arch.to_json(),
        "init": cfg.init,
        "rounds": [
            {
                "name": r.split.name,
                "train": len(r.split.train),
                "val": len(r.split.val),
                "test": len(r.split.test),
                **r.metrics,
                "val_score": None if math.isnan(r.val_score) else r.val_score,
                "epoch": r.epoch,
                "epochs": r.epochs,
                "norm_mean": r.norm[0],
                "norm_std": r.norm[1],
                **({"curve": r.curve} if cfg.epoch_curves else {}),
            }
            for r in results
        ],
        "mean": mean,
        "std": std,
        "best_round": best.split.name,
        "seconds": round(time.perf_counter() - began, 1),
    }
    write_json_atomic(out / "results.json", summary)
    scores = ", ".join(f"{k} {mean[k]:.4f} ± {std[k]:.4f}" for k in mean)
    print(
        f"done: {protocol}, {scores}, {len(cache.kept)} clips ({len(cache.skipped)} skipped), "
        f"{summary['seconds']:.0f} s -> {out}",
        flush=True,
    )
    return summary


def _main(argv: Sequence[str] | None) -> None:
    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.INFO, stream=sys.stderr)
    run(parse_config(argv))


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("synpat-finetune", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

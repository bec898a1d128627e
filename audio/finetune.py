"""Fine-tune or linearly probe an audio ViT with k-fold cross-validation (`synpat-finetune`).

Every clip's fbank is computed once per run and kept in memory; each fold normalises with its
training clips' mean/std, trains with the recipe in FinetuneConfig and scores its held-out
clips. OUT gets results.json (per fold and mean ± std), confusion.png (held-out predictions
of all folds, single-label tasks) and best.safetensors + best.json (the fold model that scored
best on its held-out fold, with config, class names and normalisation), all written atomically.
"""
from __future__ import annotations

import logging
import math
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save

from synpat.core.devices import torch_device
from synpat.core.errors import UserError
from synpat.core.files import write_atomic, write_json_atomic
from synpat.core.progress import Progress
from synpat.audio.fbank import AudioReadError, FbankShape, compute_fbanks
from synpat.audio.clip_sets import AudioTask, assign_folds, load_task
from synpat.audio.augmentation import mixup, spec_augment, time_roll
from synpat.core.settings import run_cli
from synpat.audio.confusion_png import write_confusion_png
from synpat.audio.finetune_config import FinetuneConfig, parse_config
from synpat.audio.metrics import accuracy, confusion, mean_average_precision
from synpat.train.optim import lr_at, param_groups, set_lr
from synpat.train.vit_arch import VIT_SIZES, ViTArch
from synpat.audio.vit_audio import build_audio_vit, load_encoder_state, read_model_file


@dataclass
class Split:
    """One train/evaluate round: indices into the cached clips."""

    name: str
    train: list[int]
    test: list[int]


@dataclass
class FoldResult:
    split: Split
    metrics: dict
    scores: torch.Tensor  # (len(test), C) held-out class scores
    state: dict
    norm: tuple[float, float]


def resolve_arch(cfg: FinetuneConfig) -> tuple[ViTArch, dict | None, dict | None]:
    """(architecture, initial encoder state or None, init file's metadata or None)."""
    if cfg.init != "none":
        state, meta = read_model_file(cfg.init)
        return ViTArch.from_json(meta["arch"]), state, meta
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


def targets_of(task: AudioTask, kept: list[int]) -> torch.Tensor:
    """(N, C) multi-hot targets of the kept clips."""
    index = {name: i for i, name in enumerate(task.classes)}
    y = torch.zeros(len(kept), len(task.classes))
    for row, clip_index in enumerate(kept):
        for label in task.clips[clip_index].labels:
            y[row, index[label]] = 1.0
    return y


def make_splits(task: AudioTask, kept: list[int], cfg: FinetuneConfig) -> tuple[list[Split], str]:
    """Train/test rounds over the kept clips and a description of the protocol."""
    if task.has_split:
        splits = [task.clips[i].split for i in kept]
        train = [r for r, s in enumerate(splits) if s == "train"]
        test = [r for r, s in enumerate(splits) if s == "test"]
        if not train or not test:
            raise UserError(f"{task.spec}: the official split needs train and test clips")
        return [Split("test", train, test)], "official train/test split"
    folds = assign_folds(task, cfg.folds, cfg.seed)
    kept_folds = [folds[i] for i in kept]
    rounds = []
    for f in range(1, cfg.folds + 1):
        test = [r for r, k in enumerate(kept_folds) if k == f]
        train = [r for r, k in enumerate(kept_folds) if k != f]
        if not test or not train:
            raise UserError(f"fold {f} of {cfg.folds} has no clips to test or train on")
        rounds.append(Split(f"fold{f}", train, test))
    source = "dataset folds" if task.dataset_folds else "stratified folds"
    return rounds, f"{cfg.folds}-fold cross-validation ({source})"


def soft_loss(logits: torch.Tensor, y: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """BCE for multi-label, soft-target cross-entropy otherwise. logits, y: (B, C)."""
    if multilabel:
        return F.binary_cross_entropy_with_logits(logits, y)
    return -(y * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


@torch.no_grad()
def predict(model: torch.nn.Module, x: torch.Tensor, batch: int, device: torch.device) -> torch.Tensor:
    """Class scores (probabilities) for normalised `x: (N, 1, mel, frames)` -> (N, C) float32 on CPU."""
    model.eval()
    out = []
    for start in range(0, len(x), batch):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(model(x[start:start + batch].to(device)).float().cpu())
    return torch.cat(out)


def scores_of(scores: torch.Tensor, y: torch.Tensor, multilabel: bool) -> dict:
    out = {"accuracy": accuracy(scores, y)}
    if multilabel:
        out["mAP"] = mean_average_precision(scores, y)
    return out


def train_round(
    cfg: FinetuneConfig, split: Split, specs: torch.Tensor, y: torch.Tensor, arch: ViTArch,
    init_state: dict | None, multilabel: bool, device: torch.device, progress: Progress, seed: int,
) -> FoldResult:
    """Train on split.train, score split.test. specs: (N, mel, frames) raw fbanks, y: (N, C)."""
    train_x = specs[split.train]
    mean, std = float(train_x.mean()), float(train_x.std())

    def norm(t: torch.Tensor) -> torch.Tensor:  # (B, mel, frames) raw -> (B, 1, mel, frames) normalised
        return ((t - mean) / std)[:, None]

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    probe = cfg.linear_probe
    model = build_audio_vit(
        arch, (cfg.mel_bins, cfg.frames), num_classes=y.shape[1],
        drop_path=0.0 if probe else cfg.drop_path, patchout=0.0 if probe else cfg.patchout,
    )
    if init_state is not None:
        load_encoder_state(model, init_state)
    if probe:
        for name, param in model.named_parameters():
            param.requires_grad_(name.startswith("head."))
    model.to(device)
    optimizer = torch.optim.AdamW(param_groups(model, cfg.weight_decay, cfg.layer_decay), lr=cfg.lr)
    train_y, test_x, test_y = y[split.train], norm(specs[split.test]), y[split.test]
    if not multilabel and cfg.mixup == 0:
        train_y = train_y * (1 - cfg.label_smoothing) + cfg.label_smoothing / y.shape[1]
    steps = math.ceil(len(split.train) / cfg.batch_size)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(cfg.epochs):
        model.train(not probe)
        start, total_loss = time.perf_counter(), 0.0
        order = torch.randperm(len(split.train), generator=generator)
        for step in range(steps):
            idx = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x, t = norm(train_x[idx]), train_y[idx]
            if cfg.time_roll:
                x = time_roll(x, rng)
            x = spec_augment(x, cfg.freq_mask, cfg.time_mask, rng)
            if cfg.mixup > 0:
                x, t = mixup(x, t, cfg.mixup, rng)
            set_lr(optimizer, lr_at(epoch + step / steps, cfg.lr, cfg.warmup_epochs, cfg.epochs, cfg.min_lr))
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                logits = model(x.to(device))
            loss = soft_loss(logits.float(), t.to(device), multilabel)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total_loss += float(loss.detach()) * len(idx)
        seconds = time.perf_counter() - start
        scores = predict(model, test_x, cfg.batch_size, device)
        scores = scores.sigmoid() if multilabel else scores.softmax(dim=1)
        metrics = scores_of(scores, test_y, multilabel)
        scores_text = " ".join(f"{k} {v:.3f}" for k, v in metrics.items())
        progress.update(1, f"{split.name} epoch {epoch + 1}/{cfg.epochs} loss {total_loss / len(split.train):.4f} "
                           f"{scores_text} {len(split.train) / seconds:.0f} clips/s")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return FoldResult(split, metrics, scores, state, (mean, std))


def summarise(results: list[FoldResult]) -> tuple[dict, dict]:
    """Mean and sample std (0 for one round) of each metric over rounds."""
    keys = results[0].metrics.keys()
    mean = {k: statistics.fmean(r.metrics[k] for r in results) for k in keys}
    std = {k: statistics.stdev([r.metrics[k] for r in results]) if len(results) > 1 else 0.0 for k in keys}
    return mean, std


def run(cfg: FinetuneConfig) -> dict:
    """The whole fine-tuning run; returns the results.json content."""
    began = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch_device(cfg.device)
    task = load_task(cfg.data)
    arch, init_state, init_meta = resolve_arch(cfg)
    if cfg.mel_bins < arch.patch_size or cfg.frames < arch.patch_size:
        raise UserError(f"input {cfg.mel_bins}x{cfg.frames} is smaller than one {arch.patch_size}x{arch.patch_size} patch")
    out = Path(cfg.out)
    shape = FbankShape(cfg.mel_bins, cfg.frames)
    t0 = time.perf_counter()
    try:
        cache = compute_fbanks([c.path for c in task.clips], shape, strict=cfg.strict)
    except AudioReadError as err:
        raise UserError(f"{err} (--strict)") from None
    if not cache.kept:
        raise UserError(f"{task.spec}: none of the {len(task.clips)} clips could be read")
    print(f"fbanks: {len(cache.kept)} clips {cfg.mel_bins}x{cfg.frames} in {time.perf_counter() - t0:.1f} s, "
          f"{len(cache.skipped)} skipped", flush=True)
    y = targets_of(task, cache.kept)
    multilabel = task.multilabel
    splits, protocol = make_splits(task, cache.kept, cfg)
    progress = Progress(cfg.epochs * len(splits), "synpat-finetune", unit="epochs", stream=sys.stdout, interval=0)
    results = [
        train_round(cfg, s, cache.specs, y, arch, init_state, multilabel, device, progress, cfg.seed + i)
        for i, s in enumerate(splits)
    ]
    mean, std = summarise(results)
    best = max(results, key=lambda r: r.metrics["mAP" if multilabel else "accuracy"])
    model_meta = {
        "kind": "finetuned",
        "arch": arch.to_json(),
        "input_shape": [cfg.mel_bins, cfg.frames],
        "classes": task.classes,
        "multilabel": multilabel,
        "norm_mean": best.norm[0],
        "norm_std": best.norm[1],
        "round": best.split.name,
        "metrics": best.metrics,
        "config": asdict(cfg),
        "init": init_meta,
    }
    out.mkdir(parents=True, exist_ok=True)
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
            "spec": task.spec, "clips": len(task.clips), "used": len(cache.kept), "classes": task.classes,
            "multilabel": multilabel, "skipped": [{"path": p, "reason": r} for p, r in cache.skipped],
        },
        "protocol": protocol,
        "device": str(device),
        "arch": arch.to_json(),
        "init": cfg.init,
        "rounds": [
            {"name": r.split.name, "train": len(r.split.train), "test": len(r.split.test), **r.metrics,
             "norm_mean": r.norm[0], "norm_std": r.norm[1]}
            for r in results
        ],
        "mean": mean,
        "std": std,
        "best_round": best.split.name,
        "seconds": round(time.perf_counter() - began, 1),
    }
    write_json_atomic(out / "results.json", summary)
    scores = ", ".join(f"{k} {mean[k]:.4f} ± {std[k]:.4f}" for k in mean)
    print(f"done: {protocol}, {scores}, {len(cache.kept)} clips ({len(cache.skipped)} skipped), "
          f"{summary['seconds']:.0f} s -> {out}", flush=True)
    return summary


def _main(argv: Sequence[str] | None) -> None:
    logging.basicConfig(format="%(levelname)s: %(message)s", level=logging.INFO, stream=sys.stderr)
    run(parse_config(argv))


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli("synpat-finetune", _main, argv)


if __name__ == "__main__":
    raise SystemExit(main())

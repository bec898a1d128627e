"""A scale baseline for any labelled clip set: log-mel statistics + multinomial logistic regression.

Every clip becomes the mean and the standard deviation over time of each bin of its Kaldi log-mel
filterbank (synpat.audio.fbank, 25 ms / 10 ms frames); features are standardised with the
training folds' statistics and a softmax regression with an L2 penalty is fitted by full-batch
L-BFGS (torch, float64). Folds are the fine-tuner's (clip_sets.assign_folds): the dataset's own
when it has them, so on a synpat-audio-tasks build every test fold holds unseen voices or
instruments.
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import torch
from synpat.audio.clip_sets import assign_folds, load_task
from synpat.audio.fbank import SAMPLE_RATE, WINDOW, AudioReadError, fit_length, log_mel, read_wave
from synpat.core.errors import UserError

log = logging.getLogger(__name__)


def clip_features(path: str | Path, mel_bins: int = 64) -> torch.Tensor:
    """(2 * mel_bins,) float64: per-bin mean then per-bin std over time of the clip's log-mel."""
    wave = read_wave(path)
    if wave.shape[0] < WINDOW:
        wave = fit_length(wave, WINDOW)
    spec = log_mel(wave, mel_bins).double()  # (frames, mel)
    return torch.cat([spec.mean(0), spec.std(0, unbiased=False)])


def fit_logreg(
    x: torch.Tensor, y: torch.Tensor, classes: int, l2: float = 1e-3, max_iter: int = 500
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights (d, classes) and bias (classes,) minimising mean cross-entropy + l2 * |W|^2 (L-BFGS)."""
    w = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        lr=1.0,
        max_iter=max_iter,
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def logmel_logreg(
    task_dir: str | Path,
    folds: int | None = None,
    seed: int = 0,
    mel_bins: int = 64,
    l2: float = 1e-3,
    threads: int = 1,
) -> dict:
    """Leave-one-fold-out accuracy of log-mel statistics + logistic regression on an ESC-50-layout task.

    `folds`: the task's own number of folds when None (5 when it has none). Returns
    {"task", "protocol", "clips", "classes", "chance", "per_fold": [accuracy of fold 1..k],
    "mean", "std" (sample std), "model", "seconds"}. Runs on `threads` torch threads (restored after):
    the matrices are small, and more threads only wait on each other on a busy machine.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _logmel_logreg(task_dir, folds, seed, mel_bins, l2)
    finally:
        torch.set_num_threads(before)


def _logmel_logreg(task_dir: str | Path, folds: int | None, seed: int, mel_bins: int, l2: float) -> dict:
    began = time.perf_counter()
    task = load_task(f"esc50:{task_dir}")
    if task.multilabel:
        raise UserError(f"{task.spec}: the baseline scores single-label tasks")
    k = folds or len(task.dataset_folds) or 5
    fold_of = assign_folds(task, k, seed)
    index = {name: i for i, name in enumerate(task.classes)}
    features, kept, skipped = [], [], []
    for i, clip in enumerate(task.clips):  # a clip that cannot be read is skipped and named, as synpat-finetune does
        try:
            features.append(clip_features(clip.path, mel_bins))
            kept.append(i)
        except AudioReadError as err:
            log.warning("skipped %s: %s", clip.path, err)
            skipped.append({"path": str(clip.path), "reason": str(err)})
    if not kept:
        raise UserError(f"{task.spec}: none of the {len(task.clips)} clips could be read")
    x = torch.stack(features)
    y = torch.tensor([index[task.clips[i].labels[0]] for i in kept])
    fold_t = torch.tensor([fold_of[i] for i in kept])
    accuracies = []
    for f in range(1, k + 1):
        test, train = fold_t == f, fold_t != f
        if not test.any() or not train.any():
            raise UserError(f"fold {f} of {k} has no clips to test or train on")
        mean, std = x[train].mean(0), x[train].std(0, unbiased=False).clamp_min(1e-8)
        w, b = fit_logreg((x[train] - mean) / std, y[train], len(task.classes), l2)
        pred = (((x[test] - mean) / std) @ w + b).argmax(1)
        accuracies.append(float((pred == y[test]).double().mean()))
    source = "dataset folds" if task.dataset_folds else "stratified folds"
    return {
        "task": str(task_dir),
        "protocol": f"{k}-fold cross-validation ({source})",
        "model": f"log-mel ({mel_bins} bins, {SAMPLE_RATE} Hz) mean+std per bin, standardised, "
        f"softmax regression (L2 {l2:g}, L-BFGS)",
        "clips": len(kept),
        "skipped": skipped,
        "classes": len(task.classes),
        "chance": 1.0 / len(task.classes),
        "per_fold": [round(a, 4) for a in accuracies],
        "mean": round(statistics.fmean(accuracies), 4),
        "std": round(statistics.stdev(accuracies), 4) if len(accuracies) > 1 else 0.0,
        "seconds": round(time.perf_counter() - began, 1),
    }

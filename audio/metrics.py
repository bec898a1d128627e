"""Scores of held-out predictions: accuracy, mean average precision, confusion counts."""

from __future__ import annotations

import torch


def accuracy(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of clips whose top-scoring class is one of its labels. scores, targets: (N, C)."""
    top = scores.argmax(dim=1)
    return float(targets[torch.arange(len(top)), top].gt(0).float().mean())


def average_precision(scores: torch.Tensor, positives: torch.Tensor) -> float:
    """AP of one class as sklearn.metrics.average_precision_score: sum over the distinct scores, high
    to low, of precision x recall gained at that score, so tied scores count as one threshold and
    the clips' order does not matter. scores: (N,), positives: (N,) bool."""
    order = torch.argsort(scores, descending=True, stable=True)
    ranked, hits = scores[order], positives[order].double()
    ends = torch.cat([torch.nonzero(ranked[1:] != ranked[:-1]).flatten(), torch.tensor([len(ranked) - 1])])
    true_pos = hits.cumsum(0)[ends]  # positives at or above each distinct score
    precision = true_pos / (ends + 1).double()
    recall_gain = torch.diff(true_pos, prepend=torch.zeros(1, dtype=torch.float64)) / hits.sum()
    return float((precision * recall_gain).sum())


def mean_average_precision(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean over classes that have at least one positive. scores, targets: (N, C)."""
    present = [c for c in range(targets.shape[1]) if targets[:, c].gt(0).any()]
    return sum(average_precision(scores[:, c], targets[:, c].gt(0)) for c in present) / len(present)


def confusion(true: torch.Tensor, pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(C, C) int64 counts, rows = true class, columns = predicted class. true, pred: (N,) int."""
    flat = true.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)

"""PatternStream: an infinite iterator of rendered batches, never touching the disk.

Global batch step b covers sample indices [b * B * P, (b + 1) * B * P) where B is the batch size
and P = world_size ranks; rank j takes the j-th block of B. So ranks see disjoint samples, and the
union over ranks of the first n batches is exactly the first n * B * P indices. The stream is a
loop over a PatternSource (gen/source.py), the one synpat-gen writes: a stream and shards made
with the same settings (programs, size, seed, time range, group, mix, filters, check limits) hold
the same samples and the same images. With sample filters a batch holds the samples of its
indices that pass them (fewer than B).

Batches are rendered on demand, when asked for: nothing renders ahead and steals the GPU from
training.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from synpat.core.errors import UserError
from synpat.core.settings import option

from .programs import Program
from .redraw import Redraws
from .source import Batch, PatternSource, SourceSpec, spec_of


@dataclass
class StreamConfig(SourceSpec):
    """Every setting of a PatternStream: the source's (the same meaning as synpat-gen's flags) and
    the stream's own."""

    batch_size: int = option(64, "samples per rank and step (before the filters)")
    rank: int = option(0, "this consumer's rank")
    world_size: int = option(1, "consumers sharing the stream")
    start_step: int = option(0, "resume: the global batch step to start from")

    def validate(self) -> None:
        super().validate()
        if self.batch_size < 1:
            raise UserError(f"batch size: expected a positive number, got {self.batch_size}")
        if not 0 <= self.rank < self.world_size:
            raise UserError(f"rank {self.rank} of world size {self.world_size}: expected 0 <= rank < world size")


class PatternStream:
    """Iterate to get ``(images (B, H, W, 3) uint8, labels (B,) int64)`` forever (sound programs:
    ``(waves (B, C, S) float32 in [-1, 1], labels (B,) int64)``), or call
    ``next_batch`` for the source's Batch (samples, pixels, stats); rendered in the process that
    iterates (the GL context belongs to it). ``cuda_index``: the consumer's CUDA device (its paired
    EGL device renders); ``programs``: accepted programs given (no checks)."""

    def __init__(self, cfg: StreamConfig, programs: list[Program] | None = None, cuda_index: int | None = None):
        cfg.validate()
        self.cfg = cfg
        self.step = cfg.start_step
        self.source = PatternSource(
            spec_of(cfg),
            rank=cfg.rank,
            world_size=cfg.world_size,
            cuda_index=cuda_index,
            max_batch=cfg.batch_size,
            tool="stream",
            programs=programs,
        )

    @property
    def programs(self) -> list[Program]:
        """The accepted programs; class id = position (as in synpat-gen's manifest)."""
        return self.source.programs

    @property
    def redraws(self) -> Redraws:
        """The counts of one-colour samples drawn again (synpat.gen.redraw)."""
        return self.source.redraws

    def pixels_to(self, device: str | None) -> None:
        """Where the batches' pixels are left: None (host numpy) or a torch CUDA device (PatternSource.pixels_to)."""
        self.source.pixels_to(device)

    def span(self, step: int) -> tuple[int, int]:
        """The global sample indices [start, stop) of this rank's batch at global step ``step``."""
        b = self.cfg.batch_size
        start = (step * self.cfg.world_size + self.cfg.rank) * b
        return start, start + b

    def indices(self, step: int) -> np.ndarray:
        """(B,) int64: the global sample indices of this rank's batch at global step ``step``."""
        return np.arange(*self.span(step), dtype=np.int64)

    def batch(self, step: int) -> Batch:
        """This rank's Batch at global step ``step`` (samples, pixels, stats)."""
        return self.source.render(*self.span(step))

    def next_batch(self) -> Batch:
        """This consumer's next Batch; advances the stream."""
        batch = self.batch(self.step)
        self.step += 1
        return batch

    def next_waves(self) -> tuple:
        """A stream of sound programs' next ``(waves (B, C, S) float32 in [-1, 1], labels (B,) int64)``
        (numpy, or waves as a torch CUDA tensor after ``pixels_to("cuda:N")``); advances the stream."""
        if self.source.kind != "sound":
            raise UserError(
                f"{' '.join(map(str, self.cfg.shaders))}: not sound programs (no mainSound); "
                "their batches are images (next_batch)"
            )
        samples, waves, _ = self.next_batch()
        return waves, samples.program.copy()

    def close(self) -> None:
        """Release the renderer's GL objects (a later batch opens a fresh renderer)."""
        self.source.close()

    def __enter__(self) -> PatternStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        samples, pixels, _ = self.next_batch()
        return pixels, samples.program.copy()

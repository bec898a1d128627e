"""PatternStream: an infinite iterator of rendered batches, never touching the disk.

Global batch step b covers sample indices [b * B * P, (b + 1) * B * P) where B is the batch size
and P = world_size ranks; rank j takes the j-th block of B. So ranks see disjoint samples, the
union over ranks of the first n batches is exactly the first n * B * P indices, and since it is the same Sampler and the same
program list as synpat-gen's, a stream and shards made with the same seed hold the same images.

Batches are rendered on demand, when asked for: nothing renders ahead and steals the GPU from
training.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .check_cache import accept_cached
from .checks import CheckSettings
from synpat.core.errors import UserError
from .programs import Program, find_programs, run_kind
from .redraw import Redraws
from .renderer import MAX_NAN, Renderer
from .sampler import TIME_RANGE, Sampler, Samples, default_group
from .sound_renderer import CHANNELS, DURATION, SAMPLE_RATE, SoundRenderer


@dataclass
class StreamConfig:
    """Every setting of a PatternStream (the same meaning as synpat-gen's flags)."""
    shaders: list[str] = field(default_factory=list)
    batch_size: int = 64
    size: tuple[int, int] = (224, 224)
    seed: int = 0
    time_range: tuple[float, float] = TIME_RANGE
    backend: str = "auto"
    gl_device: int | None = None
    rank: int = 0
    world_size: int = 1
    start_step: int = 0          # resume: the global batch step to start from
    check_seconds: float = 30.0
    max_nan: float = MAX_NAN
    group: int | None = None     # samples per program run; None: sampler.default_group (as synpat-gen)
    duration: float = DURATION   # sound programs: clip length in seconds, sample rate, channels
    sample_rate: int = SAMPLE_RATE
    channels: int = CHANNELS


class PatternStream:
    """Iterate to get ``(images (B, H, W, 3) uint8, labels (B,) int64)`` forever, or for sound
    programs ``(waves (B, C, S) float32 in [-1, 1], labels (B,) int64)``; rendered in the process
    that iterates (the GL context belongs to it)."""

    def __init__(self, cfg: StreamConfig, programs: list[Program] | None = None):
        if cfg.batch_size < 1:
            raise UserError(f"batch size: expected a positive number, got {cfg.batch_size}")
        if cfg.group is not None and cfg.group < 1:
            raise UserError(f"group: expected a positive number of samples per program run, got {cfg.group}")
        if not 0 <= cfg.rank < cfg.world_size:
            raise UserError(f"rank {cfg.rank} of world size {cfg.world_size}: expected 0 <= rank < world size")
        self.cfg = cfg
        self._programs = programs
        self.step = cfg.start_step
        self._renderer: Renderer | SoundRenderer | None = None
        self._kind: str | None = None
        self.rejected: list[tuple[Program, str]] = []
        self.redraws = Redraws(self.redraw)   # one-colour samples are drawn again (synpat.gen.redraw)

    @property
    def kind(self) -> str:
        """``image`` or ``sound``: the kind of the stream's programs."""
        if self._kind is None:
            self._kind = run_kind(self.programs)
        return self._kind

    @property
    def renderer(self) -> Renderer | SoundRenderer:
        if self._renderer is None:
            c = self.cfg
            if self.kind == "sound":
                self._renderer = SoundRenderer(c.sample_rate, c.duration, c.channels, backend=c.backend,
                                               device=c.gl_device, max_batch=c.batch_size)
            else:
                self._renderer = Renderer(c.size[0], c.size[1], backend=c.backend, device=c.gl_device,
                                          max_batch=c.batch_size)
        return self._renderer

    def close(self) -> None:
        """Release the renderer's GL objects (a later batch opens a fresh renderer)."""
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None

    @property
    def programs(self) -> list[Program]:
        """The accepted programs; class id = position (as in synpat-gen's manifest)."""
        if self._programs is None:
            c = self.cfg
            found = find_programs(c.shaders, c.seed)
            settings = CheckSettings(c.size[0], c.size[1], c.backend, c.gl_device, c.check_seconds,
                                     max_nan=c.max_nan, time_range=c.time_range, kind=run_kind(found),
                                     sample_rate=c.sample_rate, duration=c.duration, channels=c.channels)
            accepted, self.rejected = accept_cached(found, settings, c.rank, c.world_size)
            if not accepted:
                raise UserError(f"{' '.join(map(str, self.cfg.shaders))}: none of the programs renders: "
                                + "; ".join(r for _, r in self.rejected))
            self._programs = accepted
        return self._programs

    def indices(self, step: int) -> np.ndarray:
        """(B,) int64: the global sample indices of this rank's batch at global step ``step``."""
        b = self.cfg.batch_size
        start = (step * self.cfg.world_size + self.cfg.rank) * b
        return np.arange(start, start + b, dtype=np.int64)

    @property
    def sampler(self) -> Sampler:
        n = len(self.programs)
        return Sampler(n, self.cfg.seed, self.cfg.time_range, group=self.cfg.group or default_group(n))

    def samples(self, step: int) -> Samples:
        return self.sampler(self.indices(step))

    def redraw(self, samples: Samples, attempt: int) -> Samples:
        return self.sampler.redraw(samples, attempt)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self

    def next_samples(self) -> Samples:
        """The Samples of this consumer's next batch (advances the stream without rendering)."""
        samples = self.samples(self.step)
        self.step += 1
        return samples

    def __enter__(self) -> "PatternStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        samples = self.next_samples()
        if self.kind == "sound":
            return self.renderer.render_measured(self.programs, samples, self.redraws)[0], samples.program.copy()
        return self.renderer.render_varied(self.programs, samples, self.redraws)[0], samples.program.copy()

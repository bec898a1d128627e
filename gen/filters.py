"""Filters on image statistics: drop samples, or whole programs whose probe images fail.

A sample passes when its total variation is at most ``max_tv``, the mean of its per-channel
standard deviations at least ``min_std`` and its Canny edge density at most ``max_edge`` (each
only when set). A program fails when more than half of its PROBES probe images fail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from synpat.core.errors import UserError

from .programs import Program
from .redraw import Redraws
from .sampler import Sampler
from .stats import image_stats

PROBES = 8
PROBE_SEED = 0xF117


@dataclass(frozen=True)
class StatFilters:
    max_tv: float | None = None
    min_std: float | None = None
    max_edge: float | None = None

    def __post_init__(self):
        for name, value in asdict(self).items():
            if value is not None and not 0 <= value <= 1:
                raise UserError(f"--{name.replace('_', '-')}: expected a value in 0..1, got {value}")

    @property
    def active(self) -> bool:
        return any(v is not None for v in asdict(self).values())

    def settings(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    def passes(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        """stats of N images (synpat.gen.stats.image_stats) -> (N,) bool, True where all set filters pass."""
        ok = np.ones(len(stats["total_variation"]), dtype=bool)
        if self.max_tv is not None:
            ok &= stats["total_variation"] <= self.max_tv
        if self.min_std is not None:
            ok &= stats["std"].mean(axis=1) >= self.min_std
        if self.max_edge is not None:
            ok &= stats["edge_density"] <= self.max_edge
        return ok

    def failing(self, stats: dict[str, np.ndarray]) -> str:
        """Which filters the median image of ``stats`` fails, as 'tv 0.21 > 0.1, ...'."""
        parts = []
        tv, std, edge = (
            float(np.median(x)) for x in (stats["total_variation"], stats["std"].mean(axis=1), stats["edge_density"])
        )
        if self.max_tv is not None and tv > self.max_tv:
            parts.append(f"median TV {tv:.3f} > --max-tv {self.max_tv:g}")
        if self.min_std is not None and std < self.min_std:
            parts.append(f"median std {std:.3f} < --min-std {self.min_std:g}")
        if self.max_edge is not None and edge > self.max_edge:
            parts.append(f"median edge density {edge:.3f} > --max-edge {self.max_edge:g}")
        return ", ".join(parts) or "most probe images fail the filters"


def filter_programs(
    renderer, programs: list[Program], filters: StatFilters, time_range: tuple[float, float]
) -> tuple[list[Program], list[tuple[Program, str]]]:
    """Render PROBES probe images of each program, one-colour draws drawn again as a run draws them
    (synpat.gen.redraw) -> (kept programs, [(dropped program, reason)])."""
    sampler = Sampler(1, seed=PROBE_SEED, time_range=tuple(time_range))
    probe = sampler.range(0, PROBES)
    kept, dropped = [], []
    for program in programs:
        stats = image_stats(renderer.render_varied([program], probe, Redraws(sampler.redraw))[0])
        ok = filters.passes(stats)
        if 2 * int(ok.sum()) < PROBES:
            dropped.append(
                (
                    program,
                    f"{program.path}: filtered out: {int((~ok).sum())} of {PROBES} probe images "
                    f"fail ({filters.failing(stats)})",
                )
            )
        else:
            kept.append(program)
    return kept, dropped

"""Counter-based sampler: (seed, global sample index) -> program, iTime, iSeed, iParams.

Stateless: any worker or rank computes any sample from its index alone, so sharding, resuming
and re-rendering one sample need no shared state. Programs are balanced and come in runs: run r
is indices [r * group, (r + 1) * group), all of one program, and each block of ``num_programs``
consecutive runs holds every program exactly once, in an order shuffled per block. With
``group`` 1 (the default) every index is its own run. Runs let a renderer switch programs once
per ``group`` images, which is what keeps thousands of programs as fast as a few (a program
is compiled once per run at worst, and one dispatch renders the run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from synpat.core.errors import UserError

TIME_RANGE = (0.1, 10.0)
MIX_BLOCK = 1000

# default_group: (largest set, run length) -- sets up to 64 programs are not grouped; a set too
# large for a renderer's cache of compiled programs compiles a program for every run, so its
# runs are longer.
GROUPS = ((64, 1), (1024, 16))  # 1024: the renderer's CACHE_PROGRAMS
LONG_GROUP = 64

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_STREAMS = {"order": 1, "time": 2, "seed": 3, "params": 4, "mix": 5, "member": 6, "redraw": 7}
_REDRAW_LANES = 8  # lanes of the "redraw" stream per attempt: time, seed, 4 params (2 spare)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hash64(seed: int, stream: str, index: np.ndarray, lane: int = 0) -> np.ndarray:
    """index: (N,) integer -> (N,) uint64, a pure function of (seed, stream, index, lane)."""
    key = _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    key = _mix(key ^ np.uint64(_STREAMS[stream] * 0x100 + lane))
    return _mix(key ^ np.asarray(index, dtype=np.uint64))


def _unit(h: np.ndarray) -> np.ndarray:
    """uint64 hashes -> float32 uniform in [0, 1) (24 bits, exact in float32)."""
    return ((h >> np.uint64(40)).astype(np.float64) * 2.0**-24).astype(np.float32)


def default_group(num_programs: int) -> int:
    """The run length for a set of ``num_programs``: 1 (every sample its own run, as before runs
    existed) up to 64 programs, 16 up to 1,024, 64 above."""
    return next((group for most, group in GROUPS if num_programs <= most), LONG_GROUP)


@lru_cache(maxsize=64)
def _block_order(seed: int, num_programs: int, block: int) -> np.ndarray:
    """(num_programs,) int64: the program at each position of one block of indices."""
    keys = hash64(seed, "order", np.arange(num_programs, dtype=np.uint64) + np.uint64(block) * np.uint64(num_programs))
    return np.argsort(keys, kind="stable")


def mix_quotas(weights: tuple[float, ...], slots: int) -> np.ndarray:
    """(F,) slots per family out of ``slots``, proportional to ``weights`` (largest remainder)."""
    share = np.asarray(weights, dtype=np.float64) / float(sum(weights)) * slots
    quota = np.floor(share).astype(np.int64)
    extra = np.argsort(-(share - quota), kind="stable")[: slots - int(quota.sum())]
    quota[extra] += 1
    return quota


@lru_cache(maxsize=64)
def _mix_block(seed: int, weights: tuple[float, ...], block: int) -> np.ndarray:
    """(MIX_BLOCK,) int64: the family of each position of one block of indices."""
    slots = np.repeat(np.arange(len(weights)), mix_quotas(weights, MIX_BLOCK))
    keys = hash64(seed, "mix", np.arange(MIX_BLOCK, dtype=np.uint64) + np.uint64(block) * np.uint64(MIX_BLOCK))
    return slots[np.argsort(keys, kind="stable")]


def mixed_programs(seed: int, index: np.ndarray, family_of: tuple[int, ...], weights: tuple[float, ...]) -> np.ndarray:
    """index: (N,) int64 -> (N,) program ids, families in the shares of ``weights`` (F,);
    ``family_of``: (P,) the family of each program."""
    block, pos = np.divmod(index, MIX_BLOCK)
    family = np.empty_like(index)
    for b in np.unique(block):
        here = block == b
        family[here] = _mix_block(seed, weights, int(b))[pos[here]]
    family_of = np.asarray(family_of, dtype=np.int64)
    members = [np.flatnonzero(family_of == f) for f in range(len(weights))]
    pick = hash64(seed, "member", index)
    program = np.empty_like(index)
    for f, ids in enumerate(members):
        here = family == f
        if here.any():
            program[here] = ids[(pick[here] % np.uint64(len(ids))).astype(np.int64)]
    return program


@dataclass(frozen=True)
class Samples:
    """What to render for N samples (all arrays of length N)."""

    index: np.ndarray  # (N,) int64, global sample index
    program: np.ndarray  # (N,) int64, program id (class)
    time: np.ndarray  # (N,) float32, iTime
    seed: np.ndarray  # (N,) uint32, iSeed
    params: np.ndarray  # (N, 4) float32, iParams in [0, 1)

    def __len__(self) -> int:
        return len(self.index)

    def take(self, rows: np.ndarray) -> Samples:
        return Samples(self.index[rows], self.program[rows], self.time[rows], self.seed[rows], self.params[rows])

    def replace(self, rows: np.ndarray, other: Samples) -> Samples:
        """A copy with ``rows`` (M,) taken from ``other`` (M samples)."""
        fields = [a.copy() for a in (self.index, self.program, self.time, self.seed, self.params)]
        for mine, theirs in zip(fields, (other.index, other.program, other.time, other.seed, other.params)):
            mine[rows] = theirs
        return Samples(*fields)


SEEDS = 2**64  # a seed is 64 bits: 0 <= seed < SEEDS (hash64 would wrap any other silently)


def check_seed(seed: int, what: str) -> None:
    """UserError naming ``what`` unless 0 <= seed < 2**64."""
    if not 0 <= seed < SEEDS:
        raise UserError(f"{what}: expected a seed in 0..{SEEDS - 1} (64 bits), got {seed}")


def check_mix(mix: dict[str, float]) -> None:
    """UserError unless every --mix weight is finite and >= 0 and their sum is finite and positive."""
    weights = list(mix.values())
    if not all(math.isfinite(w) and w >= 0 for w in weights) or not (0 < sum(weights) < math.inf):
        raise UserError(
            "--mix: expected family=weight pairs with finite weights >= 0 and a positive finite sum, got "
            + ",".join(f"{k}={v:g}" for k, v in mix.items())
        )


@dataclass(frozen=True)
class Sampler:
    num_programs: int
    seed: int = 0
    time_range: tuple[float, float] = TIME_RANGE
    mix: tuple[tuple[int, ...], tuple[float, ...]] | None = None  # (family of each program, family weights)
    group: int = 1  # consecutive indices of one program (a run)

    def __call__(self, index: np.ndarray) -> Samples:
        """index: (N,) int64 global sample indices -> their Samples."""
        index = np.asarray(index, dtype=np.int64)
        if self.mix is not None:
            program = mixed_programs(self.seed, index // self.group, *self.mix)
        else:
            block, pos = np.divmod(index // self.group, self.num_programs)
            program = np.empty_like(index)
            for b in np.unique(block):
                here = block == b
                program[here] = _block_order(self.seed, self.num_programs, int(b))[pos[here]]
        return self._draw(index, program, ("time", 0), ("seed", 0), ("params", 0))

    def redraw(self, samples: Samples, attempt: int) -> Samples:
        """The same samples (index, program) with iTime, iSeed and iParams drawn anew, a pure
        function of (seed, index, attempt >= 1): for a sample whose first draw rendered one colour."""
        base = attempt * _REDRAW_LANES
        return self._draw(samples.index, samples.program, ("redraw", base), ("redraw", base + 1), ("redraw", base + 2))

    def _draw(self, index: np.ndarray, program: np.ndarray, time_key, seed_key, params_key) -> Samples:
        """Samples of ``index`` (N,) with iTime, iSeed, iParams from the hash (stream, first lane) keys."""
        lo, hi = self.time_range
        time = (lo + (hi - lo) * _unit(hash64(self.seed, time_key[0], index, time_key[1])).astype(np.float64)).astype(
            np.float32
        )
        time = np.minimum(time, np.nextafter(np.float32(hi), np.float32(lo)))
        seed = (hash64(self.seed, seed_key[0], index, seed_key[1]) >> np.uint64(32)).astype(np.uint32)
        params = np.stack(
            [_unit(hash64(self.seed, params_key[0], index, params_key[1] + lane)) for lane in range(4)], axis=1
        )
        return Samples(index, program, time, seed, params)

    def range(self, start: int, stop: int) -> Samples:
        return self(np.arange(start, stop, dtype=np.int64))

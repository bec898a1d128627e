"""Which part of a job this process does: rank, world size and local rank from flags or launchers.

Read in this order: explicit flags; RANK/WORLD_SIZE/LOCAL_RANK (torchrun, the DeepSpeed
launcher); SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID; else a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from synpat.core.errors import UserError


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world_size: int = 1
    local_rank: int | None = None  # None: not started by a launcher

    def split(self, n: int) -> range:
        """This rank's contiguous share of range(n)."""
        return range(self.rank * n // self.world_size, (self.rank + 1) * n // self.world_size)


def _env_int(env: dict, name: str) -> int | None:
    value = env.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(f"environment variable {name}: expected an integer, got '{value}'") from None


def find_ranks(rank: int | None = None, world_size: int | None = None, env: dict | None = None) -> Ranks:
    env = os.environ if env is None else env
    local = None
    if rank is None and world_size is None:
        for r, w, l in (("RANK", "WORLD_SIZE", "LOCAL_RANK"), ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID")):
            if _env_int(env, w) is not None:
                rank, world_size, local = _env_int(env, r) or 0, _env_int(env, w), _env_int(env, l)
                break
    rank = 0 if rank is None else rank
    world_size = 1 if world_size is None else world_size
    if world_size < 1 or not 0 <= rank < world_size:
        raise UserError(f"--rank/--world-size: expected 0 <= rank < world size, got rank {rank} of {world_size}")
    return Ranks(rank, world_size, local)

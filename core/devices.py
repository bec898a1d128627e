"""The one owner of "which device": the torch device of this process and the EGL (GL) device that
renders for it. Torch is imported only when a torch device is asked for (gen/ runs without it)."""
from __future__ import annotations

import os
from typing import Callable

from synpat.core.errors import UserError


def local_rank(env: dict | None = None) -> int | None:
    """LOCAL_RANK (torchrun, DeepSpeed) or SLURM_LOCALID, None when no launcher set one."""
    env = os.environ if env is None else env
    for name in ("LOCAL_RANK", "SLURM_LOCALID"):
        value = env.get(name, "")
        if value:
            try:
                return int(value)
            except ValueError:
                raise UserError(f"environment variable {name}: expected an integer, got '{value}'") from None
    return None


def torch_device(name: str | None = None, rank: int | None = None):
    """'auto'/None -> cuda:LOCAL_RANK (or `rank`) when CUDA is there, else cpu; 'cuda...' without CUDA
    is a UserError; anything else as torch names it."""
    import torch

    if name in (None, "", "auto"):
        if not torch.cuda.is_available():
            return torch.device("cpu")
        index = rank if rank is not None else local_rank() or 0
        return torch.device("cuda", index % torch.cuda.device_count())
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name}: no CUDA device available on this machine")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"device {name!r}: expected auto, cpu, cuda or cuda:N") from None


def gl_device_index(explicit: int | None, rank: int | None, opens: Callable[[int], bool]) -> int | None:
    """The EGL device to render on: `explicit` (--gl-device) wins; else the local rank's device when
    `opens(rank)` says a context opens there (one GL device per local rank on multi-GPU nodes);
    else None (EGL's default)."""
    if explicit is not None:
        return explicit
    if rank and opens(rank):
        return rank
    return None

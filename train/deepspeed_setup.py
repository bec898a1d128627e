"""DeepSpeed set-up shared by pretrain.py and benchmarks/bench_train.py: process-group defaults for
a lone process, the DeepSpeed JSON (generated for a ZeRO stage and precision, or read from a
file) filled from the pre-training settings, and the engine with synpat.train.optim's recipe.

DeepSpeed on CPU (docs/design.md §4): gloo, `"torch_adam": true` (FusedAdam would build a C++ extension for
~2 min), and the first `initialize` builds `deepspeed_shm_comm` into TORCH_EXTENSIONS_DIR (30-110 s
once, ~1.5 s later).
"""

from __future__ import annotations

import json
import os
import socket

import torch
from synpat.core.devices import local_rank, torch_device
from synpat.core.errors import UserError
from synpat.train.optim import WarmupCosine, param_groups
from torch import nn


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def single_process_env() -> None:
    """Without a launcher, make this process rank 0 of 1 (else DeepSpeed looks for MPI)."""
    for key, value in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0"), ("MASTER_ADDR", "127.0.0.1")):
        os.environ.setdefault(key, value)
    if "MASTER_PORT" not in os.environ:
        os.environ["MASTER_PORT"] = str(_free_port())


def init_distributed() -> tuple[int, int, torch.device]:
    """-> (rank, world_size, device): nccl and this rank's GPU when there is one, gloo on CPU."""
    single_process_env()
    device = torch_device(None, local_rank())
    if device.type == "cuda":
        torch.cuda.set_device(device)
    import deepspeed  # here, not at import: `--help` and the torch engine's imports stay quiet and quick

    deepspeed.init_distributed(dist_backend="nccl" if device.type == "cuda" else "gloo", verbose=False)
    return torch.distributed.get_rank(), torch.distributed.get_world_size(), device


def fill_deepspeed_config(
    base: dict,
    micro_batch: int,
    accum_steps: int,
    world_size: int,
    lr: float,
    betas: tuple[float, float],
    weight_decay: float,
) -> dict:
    """The batch sizes and AdamW settings come from the pre-training config and replace the file's;
    ZeRO stage, precision, clipping, buckets and `torch_adam` stay as the file says."""
    cfg = json.loads(json.dumps(base))
    cfg["train_micro_batch_size_per_gpu"] = micro_batch
    cfg["gradient_accumulation_steps"] = accum_steps
    cfg["train_batch_size"] = micro_batch * accum_steps * world_size
    optimizer = cfg.setdefault("optimizer", {"type": "AdamW", "params": {}})
    optimizer.setdefault("params", {}).update(lr=lr, betas=list(betas), weight_decay=weight_decay)
    if not torch.cuda.is_available():
        optimizer["params"]["torch_adam"] = True
    return cfg


def build_engine(model: nn.Module, ds_config: dict, weight_decay: float, schedule: dict | None = None):
    """-> DeepSpeed engine over `model` with AdamW (param groups) and, given `schedule`
    (peak_lr, warmup_steps, total_steps, min_lr), the WarmupCosine schedule."""

    def scheduler(optimizer):
        return WarmupCosine(optimizer, **schedule)

    import deepspeed
    from pydantic import ValidationError

    try:
        engine, *_ = deepspeed.initialize(
            model=model,
            model_parameters=param_groups(model, weight_decay),
            config=ds_config,
            lr_scheduler=scheduler if schedule else None,
        )
    except ValidationError as err:  # DeepSpeed checks its config with pydantic
        first = err.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise UserError(f"DeepSpeed config: {where}: {first['msg']} (got {first.get('input')!r})") from None
    return engine

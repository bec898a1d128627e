"""The plain-torch training engine (`--engine torch`), nanoGPT-style: DDP across ranks, torch.compile,
autocast to bf16/fp16 over fp32 master weights, fused AdamW on a GPU, TF32 matmuls. It answers the
calls pretrain.py makes of a DeepSpeed engine (forward, backward, step, global_steps, get_lr,
save_checkpoint/load_checkpoint), so checkpoints, resume, logs and export are the same code; DeepSpeed
stays for ZeRO-2/3 and offload.

A checkpoint folder holds `torch_engine.pt` (weights, optimiser, schedule, loss scaler, step and
the caller's client_state), written by rank 0 (DDP keeps every rank's weights equal).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
import torch.distributed as dist
from synpat.core.files import write_atomic
from synpat.train.optim import WarmupCosine, param_groups
from torch import nn

STATE_FILE = "torch_engine.pt"
DTYPES = {
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}  # precision name -> dtype: the one table


def enable_tf32() -> None:
    """TF32 matmuls and convolutions on Ampere and later (fp32 code paths: the loss, the optimiser)."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


class TorchEngine:
    """model -> a trainable engine on `device`: `engine(*inputs)` runs the forward under autocast,
    `backward(loss)`, `step()` (an optimiser step every `accum_steps` micro-steps)."""

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        precision: str,
        lr: float,
        betas: tuple[float, float],
        weight_decay: float,
        accum_steps: int = 1,
        schedule: dict | None = None,
    ):
        self.module = model.to(device)
        self.device, self.precision, self.accum_steps = device, precision, accum_steps
        self.dtype = DTYPES[precision]
        if device.type == "cuda":
            enable_tf32()
        self.optimizer = torch.optim.AdamW(
            param_groups(model, weight_decay),
            lr=lr,
            betas=betas,
            weight_decay=weight_decay,
            fused=device.type == "cuda",
        )
        self.scheduler = WarmupCosine(self.optimizer, **schedule) if schedule else None
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        distributed = dist.is_initialized() and dist.get_world_size() > 1
        self.ddp = (
            nn.parallel.DistributedDataParallel(
                self.module, device_ids=[device.index] if device.type == "cuda" else None, gradient_as_bucket_view=True
            )
            if distributed
            else None
        )
        self.forward = self.ddp or self.module
        self.global_steps = 0
        self.micro_steps = 0

    def zero_optimization_stage(self) -> int:
        return 0

    def compile(self) -> None:
        """torch.compile the forward (DDP's wrapper included, so its buckets overlap the backward)."""
        self.forward = torch.compile(self.forward)

    @property
    def boundary(self) -> bool:
        """Whether the current micro-step ends an optimiser step."""
        return (self.micro_steps + 1) % self.accum_steps == 0

    def __call__(self, *inputs):
        sync = self.ddp is None or self.boundary or not torch.is_grad_enabled()
        with (
            contextlib.nullcontext() if sync else self.ddp.no_sync(),
            torch.autocast(self.device.type, dtype=self.dtype, enabled=self.precision != "fp32"),
        ):
            return self.forward(*inputs)

    def backward(self, loss: torch.Tensor) -> None:
        sync = self.ddp is None or self.boundary
        with contextlib.nullcontext() if sync else self.ddp.no_sync():
            self.scaler.scale(loss / self.accum_steps).backward()

    def step(self) -> None:
        """End a micro-step; at an accumulation boundary step the optimiser and the schedule."""
        if self.boundary:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.global_steps += 1
            if self.scheduler is not None:
                self.scheduler.step()
        self.micro_steps += 1

    def get_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        return {
            "module": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict(),
            "global_steps": self.global_steps,
            "micro_steps": self.micro_steps,
        }

    def save_checkpoint(self, save_dir: str, tag: str, client_state: dict, save_latest: bool = False) -> None:
        """Write save_dir/tag/torch_engine.pt (rank 0; all ranks hold the same state)."""
        folder = Path(save_dir) / tag
        folder.mkdir(parents=True, exist_ok=True)
        if not dist.is_initialized() or dist.get_rank() == 0:
            buf = io.BytesIO()
            torch.save({**self.state_dict(), "client_state": client_state}, buf)
            write_atomic(folder / STATE_FILE, buf.getvalue())

    def load_checkpoint(self, load_dir: str, tag: str) -> tuple[str | None, dict | None]:
        """-> (the checkpoint's path, its client_state), or (None, None) when the folder has none."""
        path = Path(load_dir) / tag / STATE_FILE
        if not path.is_file():
            return None, None
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.module.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.global_steps, self.micro_steps = state["global_steps"], state["micro_steps"]
        return str(path), state["client_state"]

    def full_fp32_state(self) -> dict[str, torch.Tensor]:
        """The parameters as float32 CPU tensors (they are the fp32 masters: autocast casts copies)."""
        return {name: p.detach().float().cpu().clone() for name, p in self.module.named_parameters()}

"""Pre-training checkpoints: where training stands (TrainState) and OUT/checkpoints/step_XXXXXXXX/
(DeepSpeed's files + rng_rankN.pt) with latest.json, which names a checkpoint only after every rank
has finished writing it."""
from __future__ import annotations

import io
import json
import random
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from synpat.core.errors import UserError
from synpat.core.files import write_atomic, write_json_atomic


@dataclass
class TrainState:
    """Where training stands, as a checkpoint stores it. `batch` counts the batches of `epoch` already
    consumed (an epoch's last batch moves on to (epoch + 1, 0)); `micro` counts micro-batches since
    the start (it seeds the masks and is a stream's position)."""
    epoch: int = 0
    batch: int = 0
    micro: int = 0
    world_size: int = 1

    def batch_done(self, per_epoch: int | None) -> None:
        self.micro += 1
        self.batch += 1
        if per_epoch is not None and self.batch >= per_epoch:
            self.epoch, self.batch = self.epoch + 1, 0


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"])


class Checkpoints:
    """Save, find and load the checkpoints of one run's --out."""

    def __init__(self, out: Path, rank: int, keep: int):
        self.dir, self.rank, self.keep = out / "checkpoints", rank, keep

    def save(self, engine, state: TrainState) -> None:
        tag = f"step_{engine.global_steps:08d}"
        engine.save_checkpoint(str(self.dir), tag=tag, client_state={"position": asdict(state)}, save_latest=False)
        buf = _torch_bytes(rng_state())
        write_atomic(self.dir / tag / f"rng_rank{self.rank}.pt", buf)
        dist.barrier()
        if self.rank == 0:
            write_json_atomic(self.dir / "latest.json", {"tag": tag, "step": engine.global_steps})
            tags = sorted(p.name for p in self.dir.glob("step_*") if p.is_dir())
            for old in tags[:-self.keep]:
                shutil.rmtree(self.dir / old, ignore_errors=True)
        dist.barrier()

    def find(self, resume: str) -> Path | None:
        """'auto' -> the latest complete checkpoint or None; a folder -> itself."""
        if resume != "auto":
            return Path(resume)
        latest = self.dir / "latest.json"
        return self.dir / json.loads(latest.read_text())["tag"] if latest.is_file() else None

    def load(self, engine, folder: Path, world_size: int) -> TrainState:
        """Restore weights, optimiser, schedule, step and this rank's RNG; -> where training stands."""
        rng = folder / f"rng_rank{self.rank}.pt"
        if not rng.is_file():
            raise UserError(f"--resume {folder}: no {rng.name} (not a pretrain checkpoint, or written by other ranks)")
        path, client = engine.load_checkpoint(str(folder.parent), tag=folder.name)
        if path is None:
            raise UserError(f"--resume {folder}: DeepSpeed found no checkpoint there")
        position = client["position"]
        if position["world_size"] != world_size:
            raise UserError(f"--resume {folder}: written by {position['world_size']} ranks, this run has {world_size}")
        set_rng_state(torch.load(rng, weights_only=False))
        return TrainState(**position)


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()

"""Pre-training checkpoints: where training stands (TrainState) and OUT/checkpoints/step_XXXXXXXX/
(DeepSpeed's files + rng_rankN.pt + settings.json) with latest.json, which names a checkpoint only
after every rank has finished writing it. A checkpoint is written as step_XXXXXXXX.partial and
renamed when complete; settings.json holds the settings a resumed run must share (model, image
size, DeepSpeed stage and precision, ranks, and under "config" every other setting that decides what
is trained: the sample source, batch, optimiser, masks, seed), compared before anything is loaded."""

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

SETTINGS = "settings.json"
CONFIG = "config"  # the settings' entry of every other setting that decides what is trained
# Settings recorded under CONFIG only since a later version, with the value that every checkpoint written
# before then was made with (its absence is that value, not "anything goes").
RECORDED_SINCE = {"patch": "", "mask_block": 1}  # --patch: the model's own square patch; patches masked alone


@dataclass
class TrainState:
    """Where training stands, as a checkpoint stores it. `batch` counts the batches of `epoch` already
    consumed (an epoch's last batch moves on to (epoch + 1, 0)); `micro` counts micro-batches since
    the start (it seeds the masks and is a stream's position); `images` the images trained on since
    the start over all ranks (fewer than micro x batch x ranks when a stream's filters drop samples)."""

    epoch: int = 0
    batch: int = 0
    micro: int = 0
    world_size: int = 1
    images: int = 0

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

    def __init__(self, out: Path, rank: int, keep: int, settings: dict):
        self.dir, self.rank, self.keep, self.settings = out / "checkpoints", rank, keep, settings

    def save(self, engine, state: TrainState) -> None:
        """Write step_XXXXXXXX under a temporary name, rename it when every rank is done; a failed
        write (a full disk) removes it and is one UserError line."""
        tag = f"step_{engine.global_steps:08d}"
        partial = self.dir / f"{tag}.partial"
        try:
            engine.save_checkpoint(
                str(self.dir), tag=partial.name, client_state={"position": asdict(state)}, save_latest=False
            )
            write_atomic(partial / f"rng_rank{self.rank}.pt", _torch_bytes(rng_state()))
            if self.rank == 0:
                write_json_atomic(partial / SETTINGS, self.settings)
        except (RuntimeError, OSError, UserError) as err:
            shutil.rmtree(partial, ignore_errors=True)
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UserError(f"{self.dir}: cannot save checkpoint {tag} ({reason}); is the disk full?") from None
        dist.barrier()
        if self.rank == 0:
            shutil.rmtree(self.dir / tag, ignore_errors=True)  # a checkpoint of this step from an earlier run
            partial.rename(self.dir / tag)
            write_json_atomic(self.dir / "latest.json", {"tag": tag, "step": engine.global_steps})
            tags = sorted(p.name for p in self.dir.glob("step_*") if p.is_dir() and not p.suffix)
            for old in tags[: -self.keep]:
                shutil.rmtree(self.dir / old, ignore_errors=True)
        dist.barrier()

    def find(self, resume: str) -> Path | None:
        """'auto' -> the latest complete checkpoint or None; a folder -> itself."""
        if resume != "auto":
            return Path(resume)
        latest = self.dir / "latest.json"
        return self.dir / json.loads(latest.read_text())["tag"] if latest.is_file() else None

    def check(self, folder: Path) -> None:
        """UserError unless ``folder`` is a checkpoint this run can continue: this rank's files and the
        same settings (each one that differs is named)."""
        rng = folder / f"rng_rank{self.rank}.pt"
        if not rng.is_file():
            raise UserError(f"--resume {folder}: no {rng.name} (not a pretrain checkpoint, or written by other ranks)")
        path = folder / SETTINGS
        if not path.is_file():
            return  # written before checkpoints recorded their settings
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise UserError(f"{path}: unreadable ({err})") from None
        diff = [f"{k} {saved.get(k)!r} -> {v!r}" for k, v in self.settings.items() if k != CONFIG and saved.get(k) != v]
        config = json.loads(json.dumps(self.settings.get(CONFIG, {})))  # as saved: tuples are lists
        # none in a checkpoint older than the record (and no key one of those lacks), but RECORDED_SINCE's
        recorded = {**RECORDED_SINCE, **(saved.get(CONFIG) or {})}
        diff += [
            f"{k} {recorded[k]!r} -> {v!r}"
            for k, v in config.items()
            if k in recorded and k not in self.settings and recorded[k] != v
        ]
        if diff:
            raise UserError(
                f"--resume {folder}: made with other settings ({'; '.join(diff)}); "
                "use the checkpoint's settings, or start a new --out"
            )

    def load(self, engine, folder: Path, world_size: int, batch_size: int) -> TrainState:
        """Restore weights, optimiser, schedule, step and this rank's RNG; -> where training stands (a
        checkpoint written before the images were counted: micro-batches x batch_size x ranks)."""
        self.check(folder)
        rng = folder / f"rng_rank{self.rank}.pt"
        path, client = engine.load_checkpoint(str(folder.parent), tag=folder.name)
        if path is None:
            raise UserError(f"--resume {folder}: DeepSpeed found no checkpoint there")
        position = client["position"]
        if position["world_size"] != world_size:
            raise UserError(f"--resume {folder}: written by {position['world_size']} ranks, this run has {world_size}")
        set_rng_state(torch.load(rng, weights_only=False))
        return TrainState(**{"images": position["micro"] * batch_size * world_size, **position})


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()

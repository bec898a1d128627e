"""When synpat-experiment may reuse a finished stage: only when everything the stage read is unchanged.

A stage's *key* is a sha256 of what it read: its settings, the keys of the stages it builds on,
the task's data where it reads it (the listing: each clip's path, labels, fold and split, with the
sha256 of the clip's bytes) and the code that runs it (the synpat version and the source of the
packages it runs). A finished stage leaves ``OUT/stages/NAME.json`` holding its key; a re-run
reuses the stage's outputs only when that record holds the key computed now. A record with another
key means the outputs are stale: the stage runs again (after its outputs are removed, where a stage
would otherwise resume from them). ``reused`` lists the stages reused, for the report.

Each stage kind's key comes from one function here (render_key, pretrain_key, transfer_key,
finetune_key, baseline_key), which synpat-experiment and its --sweep both call, so the two cannot
compute a stage's key in two ways.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from synpat.audio.clip_sets import AudioTask
from synpat.core.errors import UserError
from synpat.core.files import write_json_atomic
from synpat.gen.programs import Program

if TYPE_CHECKING:
    from synpat.audio.experiment import ExperimentConfig
    from synpat.audio.finetune_config import FinetuneConfig

_PACKAGE = Path(__file__).resolve().parent.parent  # the folder holding synpat's packages (audio, gen, train, core)


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes; 'missing' when it cannot be read (a stage that reads it fails or skips it)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return "missing"
    return h.hexdigest()


def code_version(*packages: str) -> str:
    """sha256 of synpat's version and the .py sources of ``packages`` (e.g. 'gen', 'train')."""
    from synpat.gen import __version__

    h = hashlib.sha256(__version__.encode())
    for package in packages:
        for source in sorted((_PACKAGE / package).rglob("*.py")):
            h.update(source.relative_to(_PACKAGE).as_posix().encode() + b"\0" + source.read_bytes())
    return h.hexdigest()


def task_fingerprint(task: AudioTask) -> str:
    """sha256 of a task's listing (path, labels, fold, split, source of every clip, classes) and its clips'
    contents: --val-split groups draws validation by the sources."""
    listing = {
        "spec": task.spec,
        "classes": list(task.classes),
        "clips": [
            [str(c.path), list(c.labels), c.fold, c.split, c.group, file_sha256(Path(c.path))] for c in task.clips
        ],
    }
    return stage_key(listing)


def stage_key(inputs: dict) -> str:
    """sha256 of a JSON-able dict of everything a stage read."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def render_key(cfg: ExperimentConfig, programs: list[Program]) -> str:
    """Stage render: the programs (name, source hash), image count and size, seed, and gen's code."""
    return stage_key(
        {
            "programs": [[p.name, p.hash] for p in programs],
            "images": cfg.images,
            "img_size": cfg.img_size,
            "seed": cfg.seed,
            "code": code_version("gen", "core"),
        }
    )


def sound_render_key(cfg: ExperimentConfig, programs: list[Program], seconds: float) -> str:
    """Stage render sounds: the sound programs (name, source hash), clip count and length, seed, gen's code."""
    return stage_key(
        {
            "programs": [[p.name, p.hash] for p in programs],
            "clips": cfg.clips,
            "seconds": seconds,
            "seed": cfg.seed,
            "code": code_version("gen", "core"),
        }
    )


def shard_folder_key(folder: Path) -> str:
    """Stage render sounds when the clips are given (--sound-data): the folder, its manifest's bytes and each
    shard's name, size and modification time, so clips rendered again into the same folder pre-train again."""
    folder = Path(folder).resolve()
    shards = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(folder.glob("*.tar"))]
    return stage_key({"folder": str(folder), "manifest": file_sha256(folder / "manifest.json"), "shards": shards})


def pretrain_key(cfg: ExperimentConfig, render: str | None, arm: str, steps: int, sounds: str | None) -> str:
    """Stage pretrain of one arm (images | sounds | mix): the render stage's key (None when no images
    were rendered), the budget (``steps``, or the epochs), model, size, batch, lr, seed, the sound shards
    (``sounds``: the render sounds stage's key, from sound_render_key or shard_folder_key), a sound arm's --sound-patch and
    --sound-mask-block (when not the model's own patch or 1: the keys of before stay), the --pretrain-config
    file's bytes and train's code."""
    patch = cfg.sound_mae_patch() if arm != "images" else ""
    return stage_key(
        {
            "render": render,
            "arm": arm,
            "model": cfg.model,
            "img_size": cfg.img_size,
            "steps": steps,
            "epochs": cfg.pretrain_epochs,
            "batch": cfg.pretrain_batch,
            "blr": cfg.pretrain_blr,
            "seed": cfg.seed,
            "sounds": str(sounds) if sounds else None,
            "sound_share": cfg.sound_share if arm == "mix" else None,
            **({"patch": patch} if patch else {}),
            **({"mask_block": cfg.sound_mask_block} if arm != "images" and cfg.sound_mask_block != 1 else {}),
            "config": file_sha256(Path(cfg.pretrain_config)) if cfg.pretrain_config else None,
            "code": code_version("train", "core"),
        }
    )


def transfer_key(pretrain: str, shape: tuple[int, int]) -> str:
    """Stage transfer: the pre-training stage's key, the task's input shape (mel bins, frames), audio's code."""
    return stage_key({"pretrain": pretrain, "shape": shape, "code": code_version("audio")})


RUN_ONLY = ("threads", "out")  # how and where a fine-tune runs, not what it computes


def finetune_key(init: str, data: str, recipe: FinetuneConfig) -> str:
    """Stage fine-tune or probe: the key of the transfer it starts from ('none': scratch), the task's
    data key (task_fingerprint), the fine-tuning recipe less RUN_ONLY (a re-run with other --threads or
    another spelling of --out reuses the scores) and the code it runs."""
    recipe_key = {k: v for k, v in asdict(recipe).items() if k not in RUN_ONLY}
    return stage_key({"init": init, "data": data, "config": recipe_key, "code": code_version("audio", "train", "core")})


def baseline_key(cfg: ExperimentConfig, data: str) -> str:
    """Stage baseline: the task's data key, folds, seed and audio's code."""
    return stage_key({"data": data, "folds": cfg.folds, "seed": cfg.seed, "code": code_version("audio")})


class StageRecords:
    """The OUT/stages/NAME.json records of one experiment folder."""

    def __init__(self, out: Path):
        self.folder = Path(out) / "stages"
        self.reused: list[str] = []
        self._lock = self._hold_lock()

    def __del__(self):  # the experiment is over (or failed): the next one in this process may start
        if getattr(self, "_lock", None) is not None:
            os.close(self._lock)
            self._lock = None

    def _hold_lock(self) -> int:
        """One experiment at a time in a folder: an flock on OUT/stages/.lock, held until this process
        ends (a killed one releases it); UserError, one line, when another holds it."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise UserError(f"{self.folder}: cannot make the experiment's lock file ({err.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UserError(
                f"--out {self.folder.parent}: another synpat-experiment (pid {other}) is running there; "
                "wait for it to end"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _path(self, name: str) -> Path:
        return self.folder / f"{name.replace(' ', '-')}.json"

    def _recorded(self, name: str) -> str | None:
        try:
            return json.loads(self._path(name).read_text()).get("key")
        except (OSError, ValueError, AttributeError):
            return None

    def reusable(self, name: str, key: str) -> bool:
        """Whether stage ``name`` finished with these inputs (then it counts as reused)."""
        if self._recorded(name) == key:
            self.reused.append(name)
            return True
        return False

    def stale(self, name: str, key: str) -> bool:
        """Whether stage ``name`` finished before with other inputs (its outputs must not be resumed)."""
        recorded = self._recorded(name)
        return recorded is not None and recorded != key

    def finished(self, name: str, key: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self._path(name), {"key": key})

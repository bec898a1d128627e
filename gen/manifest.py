"""synpat-gen's output folder: the manifest (what a run makes, and which shards are complete) and
resuming (refuse a folder made with other settings, remove damaged shards, find the shards done).

manifest.json records the kind of samples (``"kind": "image"`` or ``"sound"``, with the clips'
``sample_rate``, ``duration`` and ``channels``), the settings that decide the shards' bytes (``settings``), every flag
(``config``), the accepted programs in class order, the rejected ones with their reasons and the
complete shards. A resumed run must have the same ``settings``; ranks of one job each rewrite the
manifest under a private temporary name.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from synpat.core.errors import UserError
from synpat.core.files import remove_dead_temporaries, write_json_atomic
from synpat.core.locks import is_lock_file
from synpat.core.ranks import Ranks

from . import __version__
from .programs import Program
from .redraw import CONSTANT_RANGE, REDRAWS
from .shards import INDEX_VERSION, damaged_shard_reason, shard_done, shard_files, shard_name

if TYPE_CHECKING:
    from .generate import GenConfig

TOOL = "synpat-gen"
MANIFEST = "manifest.json"


@dataclass
class Plan:
    """What the run makes: accepted programs (class id = position), sample count and shard count."""

    programs: list[Program]
    rejected: list[tuple[Program, str]]
    dropped_programs: int  # of ``rejected``, by --filter-programs
    renderer: str  # the GL renderer's name
    group: int  # samples per program run (Sampler.group)
    count: int
    shards: int
    encoder: str  # what encodes the images (synpat.gen.jpeg), or the clips (synpat.gen.flac)
    kind: str = "image"  # image, or sound: FLAC clips of sound programs

    def shard_range(self, shard: int, shard_size: int) -> tuple[int, int]:
        """The sample indices [start, stop) of ``shard``."""
        return shard * shard_size, min((shard + 1) * shard_size, self.count)


def content_settings(cfg: GenConfig, plan: Plan) -> dict:
    """The settings that decide the shards' bytes; a resumed run must match them."""
    files = {"format": cfg.format, "quality": cfg.quality} if plan.kind == "image" else {}
    return {
        **cfg.content(plan.kind),
        "count": plan.count,
        **files,
        "shard_size": cfg.shard_size,
        "prefix": cfg.prefix,
        "programs": [[p.name, p.hash] for p in plan.programs],
        "redraws": {"tries": REDRAWS, "constant_range": CONSTANT_RANGE},  # one-colour samples drawn again
        "group": plan.group,
        "encoder": plan.encoder,
    }


def _filtered(out: Path, cfg: GenConfig, plan: Plan, complete: list[str]) -> dict:
    """How many programs and samples of the complete shards the filters dropped (sample counts
    from the shards' .idx files, so a resumed run counts the shards of earlier runs too)."""
    done = set(complete)
    planned = kept = 0
    for s in range(plan.shards):
        name = shard_name(cfg.prefix, s)
        if name in done:
            start, stop = plan.shard_range(s, cfg.shard_size)
            planned += stop - start
            with open(out / f"{name}.idx") as f:
                version, _, n = f.readline().partition(" ")
            kept += int(n) if version == INDEX_VERSION else 0
    return {
        "filters": cfg.filters().settings(),
        "programs_dropped": plan.dropped_programs,
        "samples_dropped": planned - kept,
        "samples_kept": kept,
    }


def manifest(out: Path, cfg: GenConfig, plan: Plan, complete: list[str]) -> dict:
    sound = {"sample_rate": cfg.sample_rate, "duration": cfg.duration, "channels": cfg.channels}
    return {
        "synpat_version": __version__,
        "kind": plan.kind,  # sound manifests also carry the clips' sample_rate, duration and channels
        **(sound if plan.kind == "sound" else {}),
        "settings": content_settings(cfg, plan),
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("resume", "overwrite")},
        "renderer": plan.renderer,
        "programs": [{"class": i, "name": p.name, "hash": p.hash, "path": p.path} for i, p in enumerate(plan.programs)],
        "rejected": [{"name": p.name, "hash": p.hash, "path": p.path, "reason": r} for p, r in plan.rejected],
        "shards": {"total": plan.shards, "complete": complete},
        "samples": plan.count,
        **({"filtered": _filtered(out, cfg, plan, complete)} if cfg.filters().active else {}),
    }


def check_output(out: Path, cfg: GenConfig, ranks: Ranks) -> None:
    """Refuse an output we must not or cannot write, before anything is written."""
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"--out {out}: {probe} is not a folder")
    if not os.access(probe, os.W_OK | os.X_OK) or os.statvfs(probe).f_flag & os.ST_RDONLY:
        raise UserError(f"--out {out}: cannot write in {probe}")
    names = [p.name for p in out.iterdir()] if out.exists() else []
    if any(not is_lock_file(n, TOOL) for n in names) and not (cfg.resume or cfg.overwrite):
        # Ranks of one job share the folder: a sibling's manifest (or the manifest it is writing) is
        # expected; prepare_output checks that its settings are ours.
        if not (ranks.world_size > 1 and any(n == MANIFEST or n.startswith(f".{MANIFEST}.") for n in names)):
            raise UserError(
                f"--out {out}: folder is not empty; pass --resume to finish it or --overwrite to replace it"
            )


def make_output_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out}: cannot create ({e.strerror})") from None


def completed(out: Path, cfg: GenConfig, plan: Plan) -> list[str]:
    """The names of the shards written in ``out`` (a tar is renamed into place when done; a shard the filters
    emptied is its index alone)."""
    present = set(os.listdir(out))  # one listing, not a stat per shard
    names = (shard_name(cfg.prefix, s) for s in range(plan.shards))
    return [n for n in names if shard_done(out, n, present)]


def _read_manifest(out: Path) -> dict | None:
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: unreadable manifest ({e}); pass --overwrite to start again") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("settings"), dict):
        raise UserError(f"{path}: not a synpat-gen manifest (no 'settings' mapping); pass --overwrite to start again")
    return obj


def remove_damaged_shards(out: Path, cfg: GenConfig, mine: range) -> list[str]:
    """Delete this rank's tars that do not match their .idx (cut short, emptied, overwritten by
    something else), so they are rendered again; -> one line per shard removed, saying why."""
    damaged = []
    for s in mine:
        name = shard_name(cfg.prefix, s)
        tar = out / f"{name}.tar"
        if tar.exists():
            reason = damaged_shard_reason(tar, out / f"{name}.idx")
            if reason:
                damaged.append(f"{tar}: not a finished shard ({reason}); rendering it again")
                for path in shard_files(out, name):
                    path.unlink(missing_ok=True)
    return damaged


def write_manifest(out: Path, cfg: GenConfig, plan: Plan) -> None:
    """The manifest with the shards complete now (ranks each write it: a private temporary name)."""
    write_json_atomic(out / MANIFEST, manifest(out, cfg, plan, completed(out, cfg, plan)), private=True)


def _shards_present(out: Path, prefix: str) -> int:
    """One past the highest shard number whose files (or their temporaries) are in ``out``: read from the
    folder, not the manifest, which --overwrite must get past when it is damaged."""
    name = re.compile(rf"\.?{re.escape(prefix)}-(\d{{6,}})\.(tar|idx)\b")
    return max((int(m[1]) + 1 for m in map(name.match, os.listdir(out)) if m), default=0)


def _clear(out: Path, cfg: GenConfig, plan: Plan, ranks: Ranks, mine: range) -> None:
    """--overwrite: each rank removes its own shards; rank 0 also the manifest and shards past the new plan."""
    old_total = _shards_present(out, cfg.prefix) if ranks.rank == 0 else 0
    doomed = list(mine) + (list(range(plan.shards, max(plan.shards, old_total))) if ranks.rank == 0 else [])
    for s in doomed:
        for path in shard_files(out, shard_name(cfg.prefix, s)):
            path.unlink(missing_ok=True)
    if ranks.rank == 0:
        (out / MANIFEST).unlink(missing_ok=True)


def _check_same_settings(out: Path, cfg: GenConfig, plan: Plan, existing: dict) -> None:
    want, have = content_settings(cfg, plan), existing.get("settings", {})
    if have.get("encoder") not in (None, want["encoder"]):  # None: a manifest without it, named below
        raise UserError(
            f"{out / MANIFEST}: its shards were encoded by {have.get('encoder')}, this run would use "
            f"{want['encoder']} (other bytes); use the same --jpeg-encoder, or --overwrite"
        )
    diff = [k for k in want if want[k] != have.get(k)]
    if diff:
        raise UserError(
            f"{out / MANIFEST}: made with other settings ({', '.join(diff)} differ); "
            "use the same settings, or --overwrite"
        )


def prepare_output(out: Path, cfg: GenConfig, plan: Plan, ranks: Ranks, mine: range) -> list[str]:
    """Clear what --overwrite replaces, check a resumed run's settings, remove damaged shards, write
    the manifest; -> the damaged shards' lines. The caller holds the lock on ``mine``."""
    if cfg.overwrite:
        _clear(out, cfg, plan, ranks, mine)
    existing = None if cfg.overwrite else _read_manifest(out)  # a sibling rank may not have removed it yet
    if existing is not None:
        _check_same_settings(out, cfg, plan, existing)
    elif (
        not cfg.overwrite
        and (cfg.resume or ranks.world_size > 1)
        and any(p.name.endswith(".tar") for p in out.iterdir())
    ):
        raise UserError(f"--out {out}: holds tars but no {MANIFEST}; pass --overwrite to replace them")
    damaged = remove_damaged_shards(out, cfg, mine)
    remove_dead_temporaries(out / MANIFEST)  # a manifest refresh cut short by a kill
    write_manifest(out, cfg, plan)
    return damaged

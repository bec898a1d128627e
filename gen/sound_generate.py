"""synpat-gen's sound samples: FLAC clips of sound programs, their tar members and the summary line.

The job is synpat-gen's (synpat.gen.generate: the pattern source renders the clips, shard plan,
manifest, --resume, ranks, locks); per sample it writes ``KEY.flac`` (16-bit, mono mixdown unless
--channels 2), ``KEY.cls`` and ``KEY.json`` (program, family, hash, class, index, iTime, iSeed,
iParams, sample_rate, duration, channels; ``stats`` with --stats: synpat.gen.sound_stats). The
manifest says ``"kind": "sound"`` with the sample rate, duration and channels.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
from synpat.core.errors import UserError
from synpat.core.progress import format_seconds

from .flac import encode_flac, require_soundfile
from .jpeg import Encoder
from .programs import Program
from .sampler import Samples
from .shards import draw_meta, sample_key, sample_members
from .sound_stats import stats_row

if TYPE_CHECKING:
    from .generate import GenConfig
    from .manifest import Plan


def sound_encoder(cfg: GenConfig) -> Encoder:
    """The encoder a sound run records (libsndfile's FLAC, on the host); one line when soundfile is
    missing or an image encoder was asked for."""
    if cfg.jpeg_encoder == "gpu":
        raise UserError("--jpeg-encoder gpu encodes images; sound programs are written as FLAC")
    require_soundfile()
    import soundfile

    return Encoder(f"flac (libsndfile {soundfile.__libsndfile_version__})")


def clip_meta(program: Program, cls: int, samples: Samples, row: int, cfg: GenConfig) -> dict:
    return {
        **draw_meta(program, cls, samples, row),
        "sample_rate": cfg.sample_rate,
        "duration": cfg.duration,
        "channels": cfg.channels,
    }


def clip_members(
    waves: np.ndarray, first: int, samples: Samples, plan: Plan, cfg: GenConfig, stats: dict | None
) -> list:
    """waves (n, C, S) float32 in [-1, 1] of sample rows [first, first + n) -> their tar members
    (shards.sample_members), encoded in an encode worker: KEY.flac, KEY.cls, KEY.json."""
    members = []
    for i, wave in enumerate(waves):
        row = first + i
        cls = int(samples.program[row])
        meta = clip_meta(plan.programs[cls], cls, samples, row, cfg)
        if stats is not None:
            meta["stats"] = stats_row(stats, row)
        files = {
            "flac": encode_flac(wave, cfg.sample_rate),
            "cls": str(cls).encode(),
            "json": json.dumps(meta, sort_keys=True).encode(),
        }
        members.append(sample_members(sample_key(int(samples.index[row])), files))
    return members


def sound_summary_line(s: dict) -> str:
    rate = s["images"] / max(s["seconds"], 1e-9)
    extra = f", {s['skipped']} already done" if s["skipped"] else ""
    if s.get("damaged"):
        extra += f", {s['damaged']} damaged rendered again"
    if s["redrawn"]:
        extra += f", {s['redrawn']} silent clips drawn again ({s['constant']} still silent, written)"
    if s["clipped_samples"]:
        share = s["clipped_samples"] / max(1, s["images"] * s["samples_per_clip"])
        extra += f", {s['clipped_samples']} samples clipped to [-1, 1] ({100 * share:.3f}%)"
    if s["nan_samples"]:
        extra += f", {s['nan_samples']} NaN samples written as 0"
    shards = f"{s['shards']} shard" + ("" if s["shards"] == 1 else "s")
    channels = "mono" if s["channels"] == 1 else "stereo"
    return (
        f"{s['label']}: wrote {s['images']} clips in {shards}{extra} ({s['duration']:g} s {s['sample_rate']} Hz "
        f"{channels} flac, {s['bytes'] / 2**20:.1f} MiB) from {s['programs']} programs ({s['rejected']} rejected) "
        f"in {format_seconds(s['seconds'])}, {rate:.1f} clips/s -> {s['out']}"
    )

"""synpat-gen for sound programs: clips rendered in batches, written as FLAC into WebDataset shards.

The same job as image runs (synpat.gen.generate: shard plan, manifest, --resume, ranks, locks, the
kill test hook), with per sample ``KEY.flac`` (16-bit, mono mixdown unless --channels 2),
``KEY.cls`` and ``KEY.json`` (program, family, hash, class, index, iTime, iSeed, iParams,
sample_rate, duration, channels; ``stats`` with --stats: synpat.gen.sound_stats). The manifest
says ``"kind": "sound"`` with the sample rate, duration and channels. Silent clips are drawn again
(synpat.gen.sound_renderer); samples beyond [-1, 1] are clipped and counted in the summary.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from synpat.core.devices import cpu_render_note, gl_device_index, warn
from synpat.core.errors import UserError
from synpat.core.locks import writer_lock
from synpat.core.progress import Progress, format_seconds
from synpat.core.ranks import Ranks
from .checks import CheckSettings
from .check_cache import accept_cached
from .flac import encode_flac, require_soundfile
from .generate import (KILL_ENV, MANIFEST_SECONDS, TOOL, GenConfig, Plan, check_output, family_mix,
                       make_output_folder, prepare_output, write_manifest)
from .jpeg import Encoder
from .programs import Program
from .redraw import Redraws
from .sampler import Sampler, Samples, default_group
from .shards import sample_key, sample_members, shard_name, write_shard
from .sound_renderer import SoundRenderer
from .sound_stats import sound_stats, stats_row


def _encoder_name() -> str:
    import soundfile
    return f"flac (libsndfile {soundfile.__libsndfile_version__})"


def check_sound_config(cfg: GenConfig) -> None:
    """The image-only settings a sound run refuses (one line each)."""
    if cfg.filters().active or cfg.filter_programs:
        raise UserError("--max-tv, --min-std, --max-edge and --filter-programs filter images; "
                        "these are sound programs (filter sound shards with synpat-stats' statistics)")
    if cfg.jpeg_encoder == "gpu":
        raise UserError("--jpeg-encoder gpu encodes images; sound programs are written as FLAC")


def generate_sounds(cfg: GenConfig, ranks: Ranks, programs: list[Program]) -> dict:
    """synpat-gen's job for a run of sound programs -> the summary numbers."""
    check_sound_config(cfg)
    require_soundfile()
    out = Path(cfg.out)
    check_output(out, cfg, ranks)
    cuda_index = ranks.local_rank or 0
    device = gl_device_index(cfg.gl_device, cuda_index)
    with SoundRenderer(cfg.sample_rate, cfg.duration, cfg.channels, backend=cfg.backend, device=device,
                       max_batch=cfg.batch) as renderer:
        warn(cpu_render_note(TOOL, renderer.device_name, cuda_index))
        plan = plan_sound_job(renderer, programs, cfg, ranks)
        mine = ranks.split(plan.shards)
        make_output_folder(out)
        with writer_lock(out, TOOL, mine.start, mine.stop - 1, f"shards {mine.start}..{mine.stop - 1}"):
            check_output(out, cfg, ranks)
            return render_sound_shards(renderer, out, cfg, plan, ranks, mine)


def plan_sound_job(renderer: SoundRenderer, programs: list[Program], cfg: GenConfig, ranks: Ranks) -> Plan:
    """Check the programs (probe clips of the run's duration, rate and channels; the check cache as
    for images), print or (--strict) raise the rejections, and size the job."""
    settings = CheckSettings(1, 1, cfg.backend, renderer.device, cfg.check_seconds, max_nan=cfg.max_nan,
                             time_range=cfg.time_range, kind="sound", sample_rate=cfg.sample_rate,
                             duration=cfg.duration, channels=cfg.channels)
    accepted, rejected = accept_cached(programs, settings, ranks.rank, ranks.world_size)
    if rejected and cfg.strict:
        raise UserError(f"{rejected[0][1]} (--strict)")
    for _, reason in rejected:
        print(reason, file=sys.stderr)
    if not accepted:
        raise UserError(f"--shaders: none of the {len(programs)} sound programs renders (reasons above)")
    count = cfg.count if cfg.count is not None else (cfg.per_shader or 1000) * len(accepted)
    return Plan(accepted, rejected, count, -(-count // cfg.shard_size), renderer.device_name,
                mix=family_mix(accepted, cfg.mix), group=cfg.group or default_group(len(accepted)),
                encoder=Encoder(_encoder_name()), kind="sound")


def clip_meta(program: Program, cls: int, samples: Samples, row: int, cfg: GenConfig) -> dict:
    return {"program": program.name, "family": program.family, "hash": program.hash, "class": cls,
            "index": int(samples.index[row]), "time": float(samples.time[row]), "seed": int(samples.seed[row]),
            "params": [float(x) for x in samples.params[row]], "sample_rate": cfg.sample_rate,
            "duration": cfg.duration, "channels": cfg.channels}


def clip_members(waves: np.ndarray, first: int, samples: Samples, plan: Plan, cfg: GenConfig,
                 stats: dict | None) -> list:
    """waves (n, C, S) float32 in [-1, 1] of sample rows [first, first + n) -> their tar members
    (shards.sample_members), encoded in an encode worker: KEY.flac, KEY.cls, KEY.json."""
    import json
    members = []
    for i, wave in enumerate(waves):
        row = first + i
        cls = int(samples.program[row])
        meta = clip_meta(plan.programs[cls], cls, samples, row, cfg)
        if stats is not None:
            meta["stats"] = stats_row(stats, row)
        files = {"flac": encode_flac(wave, cfg.sample_rate), "cls": str(cls).encode(),
                 "json": json.dumps(meta, sort_keys=True).encode()}
        members.append(sample_members(sample_key(int(samples.index[row])), files))
    return members


def render_sound_shards(renderer: SoundRenderer, out: Path, cfg: GenConfig, plan: Plan, ranks: Ranks,
                        mine: range) -> dict:
    """Render and write this rank's missing shards (the caller holds their lock) -> the summary numbers."""
    damaged = prepare_output(out, cfg, plan, ranks, mine)
    for line in damaged:
        print(line, file=sys.stderr)
    todo = [s for s in mine if not (out / f"{shard_name(cfg.prefix, s)}.tar").exists()]
    sampler = Sampler(len(plan.programs), cfg.seed, cfg.time_range, mix=plan.mix, group=plan.group)
    redraws = Redraws(sampler.redraw)
    total = sum(min(cfg.shard_size, plan.count - s * cfg.shard_size) for s in todo)
    label = TOOL if ranks.world_size == 1 else f"{TOOL}[{ranks.rank}/{ranks.world_size}]"
    progress = Progress(total, label, unit="clips")
    kill_after = int(os.environ[KILL_ENV]) if os.environ.get(KILL_ENV) else None
    written, clipped, nan = 0, 0.0, 0.0
    manifest_time = time.perf_counter()

    def finish(shard: int, planned: int, encoded) -> int:
        nonlocal manifest_time
        nbytes = write_shard(out, shard_name(cfg.prefix, shard), members=[m for c in encoded for m in c.result()])
        if kill_after is not None and todo.index(shard) + 1 >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)   # the test hook: a kill -9 at a known point
        if time.perf_counter() - manifest_time > MANIFEST_SECONDS:
            write_manifest(out, cfg, plan)
            manifest_time = time.perf_counter()
        progress.update(planned)
        return nbytes

    with ThreadPoolExecutor(cfg.workers) as pool:
        pending = None
        for shard in todo:
            samples = sampler.range(shard * cfg.shard_size, min((shard + 1) * cfg.shard_size, plan.count))
            waves, levels, samples = renderer.render_measured(plan.programs, samples, redraws)
            clipped += float(levels[:, 2].sum())
            nan += float(levels[:, 1].sum())
            stats = sound_stats(waves, cfg.sample_rate) if cfg.stats else None
            step = max(1, -(-len(waves) // (2 * cfg.workers)))
            encoded = [pool.submit(clip_members, waves[i:i + step], i, samples, plan, cfg, stats)
                       for i in range(0, len(waves), step)]
            if pending:   # encode this shard while writing the previous one
                written += finish(*pending)
            pending = (shard, len(samples), encoded)
        if pending:
            written += finish(*pending)
    write_manifest(out, cfg, plan)
    progress.close()
    values = renderer.channels * renderer.length
    return {"kind": "sound", "label": label, "images": total, "shards": len(todo), "skipped": len(mine) - len(todo),
            "damaged": len(damaged), "programs": len(plan.programs), "rejected": len(plan.rejected),
            "seconds": progress.elapsed, "bytes": written, "out": str(out), "duration": cfg.duration,
            "sample_rate": cfg.sample_rate, "channels": cfg.channels, "redrawn": redraws.redrawn,
            "silent": redraws.constant, "clipped_samples": int(round(clipped * values)),
            "nan_samples": int(round(nan * values)), "samples_per_clip": values}


def sound_summary_line(s: dict) -> str:
    rate = s["images"] / max(s["seconds"], 1e-9)
    extra = f", {s['skipped']} already done" if s["skipped"] else ""
    if s.get("damaged"):
        extra += f", {s['damaged']} damaged rendered again"
    if s["redrawn"]:
        extra += f", {s['redrawn']} silent clips drawn again ({s['silent']} still silent, written)"
    if s["clipped_samples"] or s["nan_samples"]:
        share = s["clipped_samples"] / max(1, s["images"] * s["samples_per_clip"])
        extra += f", {s['clipped_samples']} samples clipped to [-1, 1] ({100 * share:.3f}%)"
        extra += f", {s['nan_samples']} NaN samples written as 0" if s["nan_samples"] else ""
    shards = f"{s['shards']} shard" + ("" if s["shards"] == 1 else "s")
    channels = "mono" if s["channels"] == 1 else "stereo"
    return (f"{s['label']}: wrote {s['images']} clips in {shards}{extra} ({s['duration']:g} s {s['sample_rate']} Hz "
            f"{channels} flac, {s['bytes'] / 2**20:.1f} MiB) from {s['programs']} programs ({s['rejected']} rejected) "
            f"in {format_seconds(s['seconds'])}, {rate:.1f} clips/s -> {s['out']}")

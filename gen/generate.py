"""The synpat-gen job: encode and write the pattern source's batches for this rank's shard range
(images, or FLAC clips of sound programs: synpat.gen.sound_generate).

Shard s holds global samples [s * shard_size, min((s + 1) * shard_size, count)), rendered by the
source (gen/source.py: programs, sampler, redraws, filters, statistics, pixel path); each rank
writes a contiguous range of shards into the one output folder. A shard's tar is renamed into
place only when complete, so the tars present are exactly the shards done, and a resumed or
repeated run with the same settings writes the same bytes (gen/manifest.py).
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from synpat.core.errors import UserError
from synpat.core.locks import writer_lock
from synpat.core.progress import Progress, format_seconds
from synpat.core.ranks import Ranks, find_ranks
from synpat.core.settings import option

from .jpeg import JPEG_ENCODERS, PILLOW, Encoder, choose_encoder, torch_encode_jpeg
from .manifest import TOOL, Plan, check_output, make_output_folder, prepare_output, write_manifest
from .programs import Program
from .sampler import Samples
from .shards import (
    FORMATS,
    draw_meta,
    encode_images,
    sample_files,
    sample_key,
    sample_members,
    shard_done,
    shard_name,
    write_shard,
)
from .sound_generate import clip_members, sound_encoder, sound_summary_line
from .source import PatternSource, SourceSpec, spec_of
from .stats import stats_row

MANIFEST_SECONDS = 30.0  # how often a running job refreshes the manifest's list of complete shards


@dataclass
class GenConfig(SourceSpec):
    """Every setting of synpat-gen: the source's (SourceSpec) and the shards'; the CLI's flags,
    defaults and help come from here."""

    out: str = option("shards", "output folder for the shards and manifest.json")
    count: int | None = option(None, "total images", type=int)
    per_shader: int | None = option(None, "images per accepted program (default 1000)", type=int)
    format: str = option("jpg", "image file format", choices=FORMATS)
    quality: int = option(95, "jpg/webp quality", type=int)
    jpeg_encoder: str = option(
        "cpu",
        "cpu: Pillow in the --workers threads; gpu: nvJPEG (torchvision) on this "
        "rank's GPU, from the rendered CUDA tensor (needs torch); auto: gpu when "
        "rendering on an NVIDIA GPU with torch, else cpu",
        choices=JPEG_ENCODERS,
    )
    shard_size: int = option(1000, "images per tar", type=int)
    workers: int = option(max(1, os.cpu_count() or 1), "image encoding threads", type=int)
    batch: int = option(256, "images per GPU dispatch at most", type=int)
    prefix: str = option("synpat", "shard file name prefix")
    resume: bool = option(False, "finish a run in --out, skipping complete shards")
    overwrite: bool = option(False, "replace the shards and manifest in --out")
    rank: int | None = option(None, "this process's rank (default: RANK or SLURM_PROCID)", type=int)
    world_size: int | None = option(None, "number of ranks (default: WORLD_SIZE or SLURM_NTASKS)", type=int)

    def validate(self) -> None:
        super().validate()
        if self.format not in FORMATS:
            raise UserError(f"--format: expected one of {', '.join(FORMATS)}, got '{self.format}'")
        if not 1 <= self.quality <= 100:
            raise UserError(f"--quality: expected 1..100, got {self.quality}")
        for name in ("count", "per_shader"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')}: expected a positive number, got {getattr(self, name)}")
        if self.count is not None and self.per_shader is not None:
            raise UserError("--count and --per-shader: give one of them, not both")
        if self.shard_size < 1 or self.workers < 1 or self.batch < 1:
            raise UserError("--shard-size, --workers and --batch: expected positive numbers")
        if self.resume and self.overwrite:
            raise UserError("--resume and --overwrite: give one of them, not both")
        if not self.prefix or "/" in self.prefix:
            raise UserError(f"--prefix: expected a file name prefix without '/', got '{self.prefix}'")


def plan_job(source: PatternSource, cfg: GenConfig, encoder: Encoder) -> Plan:
    """The source's accepted programs and run length, and the job's size: count and shards."""
    programs = source.programs
    count = cfg.count if cfg.count is not None else (cfg.per_shader or 1000) * len(programs)
    return Plan(
        programs,
        source.rejected,
        source.dropped_programs,
        source.renderer.device_name,
        source.sampler.group,
        count,
        -(-count // cfg.shard_size),
        encoder.name,
        source.kind,
    )


def generate(cfg: GenConfig) -> dict:
    """Run the job; returns the summary numbers. Raises UserError for the user's mistakes."""
    cfg.validate()
    ranks = find_ranks(cfg.rank, cfg.world_size)
    out = Path(cfg.out)
    check_output(out, cfg, ranks)
    with PatternSource(
        spec_of(cfg),
        rank=ranks.rank,
        world_size=ranks.world_size,
        cuda_index=ranks.local_rank or 0,
        max_batch=cfg.batch,
        tool=TOOL,
    ) as source:
        if source.kind == "sound":  # FLAC clips (synpat.gen.sound_generate); one line before anything is written
            encoder = sound_encoder(cfg)
        else:
            encoder = choose_encoder(cfg.jpeg_encoder, cfg.format, source.renderer.device, ranks.local_rank)
        source.pixels_to(encoder.device)  # the torch encoder takes its pixels on its GPU when it can
        plan = plan_job(source, cfg, encoder)
        mine = ranks.split(plan.shards)
        make_output_folder(out)
        with writer_lock(out, TOOL, mine.start, mine.stop - 1, f"shards {mine.start}..{mine.stop - 1}"):
            check_output(out, cfg, ranks)  # again, holding the lock: a run that finished meanwhile left its shards
            return write_shards(source, out, cfg, plan, ranks, mine, encoder)


# -- encoding ----------------------------------------------------------------------------------


def sample_meta(program: Program, cls: int, samples: Samples, row: int, size: tuple[int, int]) -> dict:
    return {**draw_meta(program, cls, samples, row), "size": list(size)}


def encode_members(images, first: int, samples: Samples, plan: Plan, cfg: GenConfig, stats: dict | None = None) -> list:
    """images (n, H, W, 3) uint8 of sample rows [first, first + n) -> their tar members, encoded
    by Pillow in an encode worker (file_members)."""
    return file_members(encode_images(images, cfg.format, cfg.quality), first, samples, plan, cfg, stats)


def file_members(
    files: list[bytes], first: int, samples: Samples, plan: Plan, cfg: GenConfig, stats: dict | None = None
) -> list:
    """Encoded images of sample rows [first, first + n) -> their tar members (shards.sample_members),
    made in an encode worker: image file, class and metadata (with the rows' statistics when --stats)."""
    members = []
    for i, data in enumerate(files):
        row = first + i
        cls = int(samples.program[row])
        meta = sample_meta(plan.programs[cls], cls, samples, row, cfg.size)
        if cfg.stats:
            meta["stats"] = stats_row(stats, row)
        members.append(sample_members(sample_key(int(samples.index[row])), sample_files(data, cfg.format, cls, meta)))
    return members


def encode_shard(
    pool: ThreadPoolExecutor, pixels, samples: Samples, stats: dict | None, plan: Plan, cfg: GenConfig, encoder: Encoder
) -> list[Future]:
    """pixels (N, H, W, 3) uint8 of a shard's samples -> futures of their tar members, in order: Pillow
    in the workers, or the torch encoder on its device for the whole shard (the workers make the members)."""
    step = max(1, -(-len(pixels) // (2 * cfg.workers)))
    if plan.kind == "sound":  # pixels: waves (N, C, S) float32
        return [
            pool.submit(clip_members, pixels[i : i + step], i, samples, plan, cfg, stats)
            for i in range(0, len(pixels), step)
        ]
    if encoder.device is None:
        return [
            pool.submit(encode_members, pixels[i : i + step], i, samples, plan, cfg, stats)
            for i in range(0, len(pixels), step)
        ]
    files = torch_encode_jpeg(pixels, cfg.quality, encoder.device)
    return [
        pool.submit(file_members, files[i : i + step], i, samples, plan, cfg, stats) for i in range(0, len(files), step)
    ]


class ShardWriter:
    """Writes encoded shards into the output folder, refreshing the manifest every MANIFEST_SECONDS."""

    def __init__(self, out: Path, cfg: GenConfig, plan: Plan, progress: Progress):
        self.out, self.cfg, self.plan, self.progress = out, cfg, plan, progress
        self.manifest_time = time.perf_counter()
        self.bytes = 0

    def write(self, shard: int, planned: int, encoded: list[Future]) -> None:
        members = [m for chunk in encoded for m in chunk.result()]
        self.bytes += write_shard(self.out, shard_name(self.cfg.prefix, shard), members=members)
        if time.perf_counter() - self.manifest_time > MANIFEST_SECONDS:
            write_manifest(self.out, self.cfg, self.plan)
            self.manifest_time = time.perf_counter()
        self.progress.update(planned)


def write_shards(
    source: PatternSource, out: Path, cfg: GenConfig, plan: Plan, ranks: Ranks, mine: range, encoder: Encoder
) -> dict:
    """Render, encode and write this rank's missing shards (the caller holds their lock); -> the summary numbers."""
    damaged = prepare_output(out, cfg, plan, ranks, mine)
    for line in damaged:
        print(line, file=sys.stderr)
    present = set(os.listdir(out))  # one listing; a shard the filters emptied is its index alone (write_shard)
    todo = [s for s in mine if not shard_done(out, shard_name(cfg.prefix, s), present)]
    total = sum(stop - start for start, stop in (plan.shard_range(s, cfg.shard_size) for s in todo))
    label = TOOL if ranks.world_size == 1 else f"{TOOL}[{ranks.rank}/{ranks.world_size}]"
    progress = Progress(total, label, unit="clips" if plan.kind == "sound" else "img")
    writer = ShardWriter(out, cfg, plan, progress)
    with ThreadPoolExecutor(cfg.workers) as pool:
        pending = None
        for shard in todo:
            start, stop = plan.shard_range(shard, cfg.shard_size)
            samples, pixels, stats = source.render(start, stop)
            encoded = encode_shard(pool, pixels, samples, stats, plan, cfg, encoder)
            if pending:  # encode this shard while writing the previous one
                writer.write(*pending)
            pending = (shard, stop - start, encoded)
        if pending:
            writer.write(*pending)
    write_manifest(out, cfg, plan)
    progress.close()
    return {
        "label": label,
        "images": total,
        "shards": len(todo),
        "skipped": len(mine) - len(todo),
        "damaged": len(damaged),
        "programs": len(plan.programs),
        "rejected": len(plan.rejected),
        "seconds": progress.elapsed,
        "bytes": writer.bytes,
        "out": str(out),
        "size": cfg.size,
        "format": cfg.format,
        "encoder": encoder.name,
        "filters": cfg.filters().active,
        "dropped_samples": source.dropped_samples,
        "dropped_programs": plan.dropped_programs,
        "redrawn": source.redraws.redrawn,
        "constant": source.constant,
        "kind": plan.kind,
        "clipped_samples": source.clipped,
        "nan_samples": source.nan,
        **(
            {
                "duration": cfg.duration,
                "sample_rate": cfg.sample_rate,
                "channels": cfg.channels,
                "samples_per_clip": source.renderer.channels * source.renderer.length,
            }
            if plan.kind == "sound"
            else {}
        ),
    }


def summary_line(s: dict) -> str:
    if s.get("kind") == "sound":
        return sound_summary_line(s)
    rate = s["images"] / max(s["seconds"], 1e-9)
    skipped = f", {s['skipped']} already done" if s["skipped"] else ""
    if s.get("damaged"):
        skipped += f", {s['damaged']} damaged rendered again"
    shards = f"{s['shards']} shard" + ("" if s["shards"] == 1 else "s")
    if s.get("filters"):
        skipped += (
            f", filters dropped {s['dropped_samples']} of {s['images']} samples and {s['dropped_programs']} programs"
        )
    if s.get("redrawn"):
        skipped += f", {s['redrawn']} one-colour samples drawn again ({s['constant']} still one colour, written)"
    by = f" by {s['encoder']}" if s.get("encoder", PILLOW) != PILLOW else ""
    return (
        f"{s['label']}: wrote {s['images'] - s.get('dropped_samples', 0)} images in {shards}{skipped} "
        f"({s['size'][0]}x{s['size'][1]} {s['format']}{by}, {s['bytes'] / 2**20:.1f} MiB) from {s['programs']} programs "
        f"({s['rejected']} rejected) in {format_seconds(s['seconds'])}, {rate:.1f} img/s -> {s['out']}"
    )

"""The synpat-gen job: validate programs, plan shards, render, encode and write them, resumably.

Shard s holds global samples [s * shard_size, min((s + 1) * shard_size, count)); each rank writes
a contiguous range of shards into the one output folder. A shard's tar is renamed into place
only when complete, so the tars present are exactly the shards done, and a resumed or repeated
run with the same settings writes the same bytes.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .check_cache import accept_cached
from .checks import CheckSettings
from .filters import StatFilters, filter_programs
from synpat.core.devices import cpu_render_note, gl_device_index, warn
from synpat.core.errors import UserError
from synpat.core.files import remove_dead_temporaries, write_json_atomic
from synpat.core.locks import is_lock_file, writer_lock
from .programs import Program, find_programs
from synpat.core.progress import Progress, format_seconds
from synpat.core.ranks import Ranks, find_ranks
from .renderer import MAX_NAN, Renderer
from .sampler import TIME_RANGE, Sampler, Samples, check_mix, check_seed, default_group
from .shards import (FORMATS, INDEX_VERSION, damaged_shard_reason, encode_images, sample_files, sample_key,
                     sample_members, shard_done, shard_files, shard_name, write_shard)
from .gl_stats import GLStats, render_measured
from .jpeg import PILLOW, Encoder, choose_encoder, pixel_source, torch_encode_jpeg
from .redraw import CONSTANT_RANGE, REDRAWS, Redraws
from .stats import stats_row

TOOL = "synpat-gen"
MANIFEST = "manifest.json"
KILL_ENV = "SYNPAT_GEN_KILL_AFTER"   # test hook: kill -9 this process after writing that many shards
MANIFEST_SECONDS = 30.0   # how often a running job refreshes the manifest's list of complete shards


@dataclass
class GenConfig:
    """Every setting of synpat-gen; the CLI's defaults come from here."""
    shaders: list[str] = field(default_factory=list)
    out: str = "shards"
    count: int | None = None          # total images; or per_shader x accepted programs
    per_shader: int | None = None     # default 1000 when neither is given
    size: tuple[int, int] = (224, 224)
    format: str = "jpg"
    quality: int = 95
    shard_size: int = 1000
    seed: int = 0
    time_range: tuple[float, float] = TIME_RANGE
    backend: str = "auto"
    workers: int = max(1, os.cpu_count() or 1)
    batch: int = 256
    prefix: str = "synpat"
    resume: bool = False
    overwrite: bool = False
    strict: bool = False
    rank: int | None = None
    world_size: int | None = None
    gl_device: int | None = None
    check_seconds: float = 30.0
    max_nan: float = MAX_NAN
    stats: bool = False                # store image statistics in each sample's json
    max_tv: float | None = None        # filters on the statistics (synpat.gen.filters)
    min_std: float | None = None
    max_edge: float | None = None
    filter_programs: bool = False      # apply the filters to programs' probe images, not to samples
    mix: dict[str, float] | None = None   # family -> weight; families not named get none
    group: int | None = None          # samples per program run; None: sampler.default_group
    jpeg_encoder: str = "cpu"          # cpu (Pillow in the workers), gpu (nvJPEG) or auto (synpat.gen.jpeg)

    def filters(self) -> StatFilters:
        return StatFilters(self.max_tv, self.min_std, self.max_edge)

    def validate(self) -> None:
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
        if not (math.isfinite(self.check_seconds) and self.check_seconds > 0):
            raise UserError(f"--check-seconds: expected a positive number of seconds, got {self.check_seconds}")
        if not 0 <= self.max_nan <= 1:
            raise UserError(f"--max-nan: expected a fraction in 0..1, got {self.max_nan}")
        if not (0 <= self.time_range[0] < self.time_range[1] and all(map(math.isfinite, self.time_range))):
            raise UserError(f"--time-range: expected finite 0 <= MIN < MAX, got {self.time_range[0]:g},{self.time_range[1]:g}")
        if self.group is not None and self.group < 1:
            raise UserError(f"--group: expected a positive number, got {self.group}")
        if self.resume and self.overwrite:
            raise UserError("--resume and --overwrite: give one of them, not both")
        if not self.prefix or "/" in self.prefix:
            raise UserError(f"--prefix: expected a file name prefix without '/', got '{self.prefix}'")
        if self.filter_programs and not self.filters().active:
            raise UserError("--filter-programs: give at least one of --max-tv, --min-std, --max-edge")
        check_seed(self.seed, "--seed")
        if self.mix is not None:
            check_mix(self.mix)


@dataclass
class Plan:
    """What the run makes: accepted programs (class id = position), sample count and shard count."""
    programs: list[Program]
    rejected: list[tuple[Program, str]]
    count: int
    shards: int
    renderer: str
    dropped_programs: int = 0                                      # of ``rejected``, by --filter-programs
    mix: tuple[tuple[int, ...], tuple[float, ...]] | None = None   # the Sampler's family mix
    group: int = 1    # samples per program run (Sampler.group)
    encoder: Encoder = Encoder(PILLOW)   # what encodes the images (synpat.gen.jpeg)


def content_settings(cfg: GenConfig, plan: Plan) -> dict:
    """The settings that decide the shards' bytes; a resumed run must match them."""
    return {
        "seed": cfg.seed, "count": plan.count, "size": list(cfg.size), "format": cfg.format,
        "quality": cfg.quality, "shard_size": cfg.shard_size, "prefix": cfg.prefix,
        "time_range": list(cfg.time_range), "backend": cfg.backend,
        "programs": [[p.name, p.hash] for p in plan.programs],
        "redraws": {"tries": REDRAWS, "constant_range": CONSTANT_RANGE},   # one-colour samples drawn again
        **_stats_settings(cfg),
        **({"group": plan.group} if plan.group != 1 else {}),   # absent in runs made before runs existed
        "encoder": plan.encoder.name,
    }


def _stats_settings(cfg: GenConfig) -> dict:
    """The statistics, filter and mix settings, present only when used (older manifests match)."""
    extra = {}
    if cfg.stats or cfg.filters().active:
        extra["stats"] = {"store": cfg.stats, "filters": cfg.filters().settings(),
                          "filter_programs": cfg.filter_programs}
    if cfg.mix is not None:
        extra["mix"] = dict(sorted(cfg.mix.items()))
    return extra


def _filtered(cfg: GenConfig, plan: Plan, complete: list[str]) -> dict:
    """How many programs and samples of the complete shards the filters dropped (sample counts
    from the shards' .idx files, so a resumed run counts the shards of earlier runs too)."""
    out, done = Path(cfg.out), set(complete)
    planned = kept = 0
    for s in range(plan.shards):
        name = shard_name(cfg.prefix, s)
        if name in done:
            planned += min(cfg.shard_size, plan.count - s * cfg.shard_size)
            with open(out / f"{name}.idx") as f:
                version, _, n = f.readline().partition(" ")
            kept += int(n) if version == INDEX_VERSION else 0
    return {"filters": cfg.filters().settings(), "programs_dropped": plan.dropped_programs,
            "samples_dropped": planned - kept, "samples_kept": kept}


def manifest(cfg: GenConfig, plan: Plan, complete: list[str]) -> dict:
    return {
        "synpat_version": __version__,
        "settings": content_settings(cfg, plan),
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("resume", "overwrite")},
        "renderer": plan.renderer,
        "programs": [{"class": i, "name": p.name, "hash": p.hash, "path": p.path}
                     for i, p in enumerate(plan.programs)],
        "rejected": [{"name": p.name, "hash": p.hash, "path": p.path, "reason": r} for p, r in plan.rejected],
        "shards": {"total": plan.shards, "complete": complete},
        "samples": plan.count,
        **({"filtered": _filtered(cfg, plan, complete)} if cfg.filters().active else {}),
    }


# -- the output folder --------------------------------------------------------------------------

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
    if out.exists() and any(not is_lock_file(p.name, TOOL) for p in out.iterdir()) and not (cfg.resume or cfg.overwrite):
        # Ranks of one job share the folder: a sibling's manifest of the same settings is expected.
        if not (ranks.world_size > 1 and (out / MANIFEST).exists()):
            raise UserError(f"--out {out}: folder is not empty; pass --resume to finish it or --overwrite to replace it")


def _completed(out: Path, cfg: GenConfig, plan: Plan) -> list[str]:
    present = set(os.listdir(out))   # one listing, not a stat per shard
    names = (shard_name(cfg.prefix, s) for s in range(plan.shards))
    return [n for n in names if shard_done(out, n, present)]


def _read_manifest(out: Path) -> dict | None:
    import json
    path = out / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: unreadable manifest ({e}); pass --overwrite to start again") from None


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
    write_json_atomic(out / MANIFEST, manifest(cfg, plan, _completed(out, cfg, plan)), private=True)


def prepare_output(out: Path, cfg: GenConfig, plan: Plan, ranks: Ranks, mine: range) -> list[str]:
    """Clear what --overwrite replaces, check a resumed run's settings, remove damaged shards, write
    the manifest; -> the damaged shards' lines. The caller holds the lock on ``mine``."""
    if cfg.overwrite:
        old = _read_manifest(out) if ranks.rank == 0 else None
        old_total = old.get("shards", {}).get("total", 0) if old else 0
        # Each rank clears its own shards; rank 0 also the manifest and shards past the new plan.
        doomed = list(mine) + (list(range(plan.shards, max(plan.shards, old_total))) if ranks.rank == 0 else [])
        for s in doomed:
            for path in shard_files(out, shard_name(cfg.prefix, s)):
                path.unlink(missing_ok=True)
        if ranks.rank == 0:
            (out / MANIFEST).unlink(missing_ok=True)
    existing = None if cfg.overwrite else _read_manifest(out)   # a sibling rank may not have removed it yet
    if existing is not None:
        want = content_settings(cfg, plan)
        have = {"encoder": PILLOW, **existing.get("settings", {})}   # runs made before encoders were recorded
        if want["encoder"] != have["encoder"]:
            raise UserError(f"{out / MANIFEST}: its shards were encoded by {have['encoder']}, this run would use "
                            f"{want['encoder']} (other bytes); use the same --jpeg-encoder, or --overwrite")
        diff = [k for k in want if want[k] != have.get(k)]
        if diff:
            raise UserError(f"{out / MANIFEST}: made with other settings ({', '.join(diff)} differ); "
                            "use the same settings, or --overwrite")
    elif not cfg.overwrite and (cfg.resume or ranks.world_size > 1) and any(
            p.name.endswith(".tar") for p in out.iterdir()):
        raise UserError(f"--out {out}: holds tars but no {MANIFEST}; pass --overwrite to replace them")
    damaged = remove_damaged_shards(out, cfg, mine)
    remove_dead_temporaries(out / MANIFEST)   # a manifest refresh cut short by a kill
    write_manifest(out, cfg, plan)
    return damaged


def make_output_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out {out}: cannot create ({e.strerror})") from None


# -- rendering ---------------------------------------------------------------------------------

def sample_meta(program: Program, cls: int, samples: Samples, row: int, size: tuple[int, int]) -> dict:
    return {"program": program.name, "family": program.family, "hash": program.hash, "class": cls,
            "index": int(samples.index[row]),
            "time": float(samples.time[row]), "seed": int(samples.seed[row]),
            "params": [float(x) for x in samples.params[row]], "size": list(size)}


def encode_members(images, first: int, samples: Samples, plan: Plan, cfg: GenConfig, stats: dict | None = None) -> list:
    """images (n, H, W, 3) uint8 of sample rows [first, first + n) -> their tar members, encoded
    by Pillow in an encode worker (sample_file_members)."""
    return file_members(encode_images(images, cfg.format, cfg.quality), first, samples, plan, cfg, stats)


def file_members(files: list[bytes], first: int, samples: Samples, plan: Plan, cfg: GenConfig,
                 stats: dict | None = None) -> list:
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


def open_renderer(cfg: GenConfig, ranks: Ranks) -> Renderer:
    """The renderer on the EGL device paired with this rank's GPU (CUDA device = local rank), or
    --gl-device; says so in one line when a machine with a GPU renders on the CPU."""
    cuda_index = ranks.local_rank or 0
    device = gl_device_index(cfg.gl_device, cuda_index)
    renderer = Renderer(cfg.size[0], cfg.size[1], backend=cfg.backend, device=device, max_batch=cfg.batch)
    warn(cpu_render_note(TOOL, renderer.device_name, cuda_index))
    return renderer


def plan_job(renderer: Renderer, programs: list[Program], cfg: GenConfig, ranks: Ranks,
             encoder: Encoder = Encoder(PILLOW)) -> Plan:
    """Check the programs (rank 0 checks, all ranks decide from the check cache; rejections printed,
    or fatal with --strict) and size the job: count, shards and the sampler's run length."""
    settings = CheckSettings(renderer.width, renderer.height, cfg.backend, renderer.device, cfg.check_seconds,
                             max_nan=cfg.max_nan, time_range=cfg.time_range)
    accepted, rejected = accept_cached(programs, settings, ranks.rank, ranks.world_size)
    if rejected and cfg.strict:
        raise UserError(f"{rejected[0][1]} (--strict)")
    for _, reason in rejected:
        print(reason, file=sys.stderr)
    if not accepted:
        raise UserError(f"--shaders: none of the {len(programs)} programs renders (reasons above)")
    dropped = []
    if cfg.filter_programs:
        accepted, dropped = filter_programs(renderer, accepted, cfg.filters(), cfg.time_range)
        for _, reason in dropped:
            print(reason, file=sys.stderr)
        if not accepted:
            raise UserError("--filter-programs: every program fails the filters (reasons above)")
    count = cfg.count if cfg.count is not None else (cfg.per_shader or 1000) * len(accepted)
    shards = -(-count // cfg.shard_size)
    return Plan(accepted, rejected + dropped, count, shards, renderer.device_name, dropped_programs=len(dropped),
                mix=family_mix(accepted, cfg.mix), group=cfg.group or default_group(len(accepted)), encoder=encoder)


def family_mix(programs: list[Program], mix: dict[str, float] | None) -> tuple[tuple[int, ...], tuple[float, ...]] | None:
    """--mix over the run's programs -> (family index of each program, weight of each family), or None."""
    if mix is None:
        return None
    families = sorted({p.family for p in programs})
    unknown = sorted(set(mix) - set(families))
    if unknown:
        raise UserError(f"--mix: no program of family '{unknown[0]}' in this run (families: {', '.join(families)})")
    return tuple(families.index(p.family) for p in programs), tuple(float(mix.get(f, 0.0)) for f in families)


def generate(cfg: GenConfig) -> dict:
    """Run the job; returns the summary numbers. Raises UserError for the user's mistakes."""
    cfg.validate()
    ranks = find_ranks(cfg.rank, cfg.world_size)
    out = Path(cfg.out)
    programs = find_programs(cfg.shaders, cfg.seed)
    check_output(out, cfg, ranks)
    with open_renderer(cfg, ranks) as renderer:
        encoder = choose_encoder(cfg.jpeg_encoder, cfg.format, renderer.device, ranks.local_rank)
        plan = plan_job(renderer, programs, cfg, ranks, encoder)
        mine = ranks.split(plan.shards)
        make_output_folder(out)
        with writer_lock(out, TOOL, mine.start, mine.stop - 1, f"shards {mine.start}..{mine.stop - 1}"):
            check_output(out, cfg, ranks)   # again, holding the lock: a run that finished meanwhile left its shards
            return render_shards(renderer, out, cfg, plan, ranks, mine)


def render_shards(renderer: Renderer, out: Path, cfg: GenConfig, plan: Plan, ranks: Ranks, mine: range) -> dict:
    """Render and write this rank's missing shards (the caller holds their lock); -> the summary numbers."""
    damaged = prepare_output(out, cfg, plan, ranks, mine)
    for line in damaged:
        print(line, file=sys.stderr)
    present = set(os.listdir(out))
    todo = [s for s in mine if not shard_done(out, shard_name(cfg.prefix, s), present)]
    sampler = Sampler(len(plan.programs), cfg.seed, cfg.time_range, mix=plan.mix, group=plan.group)
    redraws = Redraws(sampler.redraw)
    filters = cfg.filters()
    drop_samples = filters.active and not cfg.filter_programs   # else the filters dropped programs
    want_stats = cfg.stats or drop_samples
    dropped, dropped_index = 0, []   # samples the filters dropped: how many, and their indices
    total = sum(min(cfg.shard_size, plan.count - s * cfg.shard_size) for s in todo)
    label = "synpat-gen" if ranks.world_size == 1 else f"synpat-gen[{ranks.rank}/{ranks.world_size}]"
    progress = Progress(total, label)
    written = 0
    manifest_time = time.perf_counter()

    kill_after = int(os.environ[KILL_ENV]) if os.environ.get(KILL_ENV) else None

    def finish(shard: int, planned: int, encoded) -> int:
        nonlocal manifest_time
        members = [m for chunk in encoded for m in chunk.result()]
        nbytes = write_shard(out, shard_name(cfg.prefix, shard), members=members)
        if kill_after is not None and todo.index(shard) + 1 >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)   # the test hook: a kill -9 at a known point
        if time.perf_counter() - manifest_time > MANIFEST_SECONDS:
            write_manifest(out, cfg, plan)
            manifest_time = time.perf_counter()
        progress.update(planned)
        return nbytes

    # the statistics are measured on the GPU, chunk by chunk, while each chunk is there; the torch
    # encoder gets its pixels on its GPU (interop) when there are no statistics to read back with them
    encoder = plan.encoder
    with ThreadPoolExecutor(cfg.workers) as pool, (GLStats(renderer) if want_stats else nullcontext()) as gl_stats, \
            pixel_source(renderer, encoder, TOOL) as source:
        pending = None
        for shard in todo:
            samples = sampler.range(shard * cfg.shard_size, min((shard + 1) * cfg.shard_size, plan.count))
            planned = len(samples)
            if gl_stats is not None:
                images, stats, samples = render_measured(renderer, gl_stats, plan.programs, samples, redraws)
                if drop_samples:   # the filters drop samples before they are encoded
                    keep = np.flatnonzero(filters.passes(stats))
                    dropped += planned - len(keep)
                    dropped_index.append(np.delete(samples.index, keep))
                    samples, images = samples.take(keep), images[keep]
                    stats = {k: v[keep] for k, v in stats.items()}
            else:
                (images, samples), stats = source.render_varied(plan.programs, samples, redraws), None
            step = max(1, -(-len(images) // (2 * cfg.workers)))
            if encoder.device is None:   # Pillow, in the workers
                encoded = [pool.submit(encode_members, images[i:i + step], i, samples, plan, cfg, stats)
                           for i in range(0, len(images), step)]
            else:   # the whole shard in one call on the encoder's device; the workers make the members
                files = torch_encode_jpeg(images, cfg.quality, encoder.device)
                encoded = [pool.submit(file_members, files[i:i + step], i, samples, plan, cfg, stats)
                           for i in range(0, len(files), step)]
            if pending:   # encode this shard while writing the previous one
                written += finish(*pending)
            pending = (shard, planned, encoded)
        if pending:
            written += finish(*pending)
    write_manifest(out, cfg, plan)
    progress.close()
    return {"label": label, "images": total, "shards": len(todo), "skipped": len(mine) - len(todo), "damaged": len(damaged),
            "programs": len(plan.programs), "rejected": len(plan.rejected), "seconds": progress.elapsed,
            "bytes": written, "out": str(out), "size": cfg.size, "format": cfg.format, "encoder": encoder.name,
            "filters": filters.active, "dropped_samples": dropped, "dropped_programs": plan.dropped_programs,
            "redrawn": redraws.redrawn,
            "constant": len(np.setdiff1d(redraws.flat_index(), np.concatenate([np.zeros(0, np.int64), *dropped_index])))}


def summary_line(s: dict) -> str:
    rate = s["images"] / max(s["seconds"], 1e-9)
    skipped = f", {s['skipped']} already done" if s["skipped"] else ""
    if s.get("damaged"):
        skipped += f", {s['damaged']} damaged rendered again"
    shards = f"{s['shards']} shard" + ("" if s["shards"] == 1 else "s")
    if s.get("filters"):
        skipped += (f", filters dropped {s['dropped_samples']} of {s['images']} samples"
                    f" and {s['dropped_programs']} programs")
    if s.get("redrawn"):
        skipped += f", {s['redrawn']} one-colour samples drawn again ({s['constant']} still one colour, written)"
    by = f" by {s['encoder']}" if s.get("encoder", PILLOW) != PILLOW else ""
    return (f"{s['label']}: wrote {s['images'] - s.get('dropped_samples', 0)} images in {shards}{skipped} "
            f"({s['size'][0]}x{s['size'][1]} {s['format']}{by}, {s['bytes'] / 2**20:.1f} MiB) from {s['programs']} programs "
            f"({s['rejected']} rejected) in {format_seconds(s['seconds'])}, {rate:.1f} img/s -> {s['out']}")

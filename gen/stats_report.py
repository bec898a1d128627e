"""synpat-stats: image statistics per program and per family, as tables, histograms, a scatter and
contact sheets.

    synpat-stats shaders/ --out report/ --per-program 16 --size 128
    synpat-stats shards/ --out report/
    synpat-stats bundled:sounds --out report/ --per-program 4      (sound programs: sound statistics)

From programs it renders ``--per-program`` samples of each; from shards it reads the statistics
stored by ``synpat-gen --stats`` (or computes them from the images when absent). Sound shards
(manifest ``"kind": "sound"``) get sound statistics instead (synpat.gen.sound_stats: level, spectral
centroid and flatness, onset rate), a centroid-flatness scatter and spectrogram contact sheets. Writes into
REPORT/: programs.csv/json, families.csv/json (mean and standard deviation of each statistic),
hist_<statistic>.png (one panel per family), scatter_tv_brightness.png (TV against brightness
entropy, coloured by family) and contact_<family>.png (one row per program).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from synpat.core.errors import UserError
from synpat.core.files import check_writable_folder, write_atomic, write_json_atomic
from synpat.core.progress import Progress
from synpat.core.settings import option, parse_settings, run_cli, settings_parser

from . import plots
from .contact import SOUND_TILE_ASPECT, contact_sheet, is_sound_shards, picture, shard_paths
from .programs import UNKNOWN_FAMILY, Program, find_programs, run_kind
from .sampler import Sampler, check_seed
from .shards import naming_sample, shard_samples
from .stats import image_stats

TABLE_STATS = ("colour_entropy", "brightness_entropy", "total_variation", "edge_density", "std")
THUMBS = 8
BATCH = 256


@dataclass
class Measured:
    """Statistics of N images (or clips): their program and family, and the statistics, each (N,)."""

    program: list[str] = field(default_factory=list)
    family: list[str] = field(default_factory=list)
    names: tuple[str, ...] = TABLE_STATS  # the statistics measured
    scatter: tuple[str, str] = ("total_variation", "brightness_entropy")
    values: dict[str, list[float]] = field(default_factory=dict)
    thumbs: dict[str, list[Image.Image]] = field(default_factory=dict)  # program -> first THUMBS images

    def __post_init__(self) -> None:
        self.values = self.values or {k: [] for k in self.names}

    def add(self, program: str, family: str, stats: dict[str, np.ndarray]) -> None:
        """stats: image_stats of images of one program (arrays (n,), 'std' (n, 3)), or sound_stats."""
        n = len(stats[self.names[0]])
        self.program += [program] * n
        self.family += [family] * n
        for k in self.names:
            v = np.asarray(stats[k], dtype=np.float64)
            self.values[k] += (v.mean(axis=1) if v.ndim == 2 else v).tolist()

    def thumb(self, program: str, images) -> None:
        row = self.thumbs.setdefault(program, [])
        for im in images:
            if len(row) < THUMBS:
                row.append(im if isinstance(im, Image.Image) else Image.fromarray(im))


def measure_programs(sources: list[str], per_program: int, size: int, seed: int, backend: str) -> Measured:
    from .renderer import CompileError, Renderer  # the GL context only when programs are rendered

    programs = find_programs(sources)
    if run_kind(programs) == "sound":
        return measure_sound_programs(programs, per_program, seed, backend)
    renderer = Renderer(size, backend=backend, max_batch=min(per_program, BATCH))
    samples = Sampler(1, seed=seed).range(0, per_program)
    out = Measured()
    progress = Progress(len(programs) * per_program, "synpat-stats")
    for p in programs:
        try:
            images = renderer.render(p, samples)
        except CompileError as e:
            print(f"synpat-stats: skipped: {e}", file=sys.stderr)
            progress.update(per_program)
            continue
        out.add(p.name, p.family, image_stats(images))
        out.thumb(p.name, images)
        progress.update(per_program)
    progress.close()
    return out


def measure_sound_programs(programs: list[Program], per_program: int, seed: int, backend: str) -> Measured:
    """Sound statistics of ``per_program`` clips of each sound program (the default duration, rate and
    channels of synpat-gen), spectrogram thumbs."""
    from .renderer import CompileError
    from .sound_renderer import SoundRenderer
    from .sound_stats import STATS, log_mel, sound_stats, spectrogram_image

    renderer = SoundRenderer(backend=backend, max_batch=min(per_program, BATCH))
    samples = Sampler(1, seed=seed).range(0, per_program)
    out = Measured(names=STATS, scatter=("spectral_centroid", "spectral_flatness"))
    for p in programs:
        try:
            waves = renderer.render(p, samples)
        except CompileError as e:
            print(f"synpat-stats: skipped: {e}", file=sys.stderr)
            continue
        out.add(p.name, p.family, sound_stats(waves, renderer.sample_rate))
        out.thumb(p.name, [spectrogram_image(m) for m in log_mel(waves[:THUMBS], renderer.sample_rate)])
    return out


def measure_sound_shards(paths: list[Path]) -> Measured:
    """Sound statistics of every clip (stored by ``synpat-gen --stats``, else computed), spectrogram thumbs."""
    from .flac import decode_flac
    from .sound_stats import STATS, sound_stats

    out = Measured(names=STATS, scatter=("spectral_centroid", "spectral_flatness"))
    progress = Progress(len(paths), "synpat-stats", unit="shards")
    for path in paths:
        for key, data, meta in shard_samples(path, keys=True):
            program, family = meta["program"], meta.get("family", UNKNOWN_FAMILY)
            thumb = len(out.thumbs.get(program, ())) < THUMBS
            with naming_sample(path, key):
                wave, rate = decode_flac(data) if "stats" not in meta else (None, None)
                pictures = [picture(data)] if thumb else []
            if wave is None:
                out.add(program, family, {k: np.array([meta["stats"][k]]) for k in STATS})
            else:
                out.add(program, family, sound_stats(wave[None], rate))
            if pictures:
                out.thumb(program, pictures)
        progress.update(1)
    progress.close()
    return out


def measure_shards(sources: list[str]) -> Measured:
    """Statistics from the samples' json (``synpat-gen --stats``), else computed from the images."""
    if is_sound_shards(sources):
        return measure_sound_shards(shard_paths(sources))
    out = Measured()
    pending: dict[tuple[str, str], list[np.ndarray]] = {}  # images still to measure, per program

    def flush(key: tuple[str, str]) -> None:
        if pending.get(key):
            out.add(*key, image_stats(np.stack(pending.pop(key))))

    paths = shard_paths(sources)
    progress = Progress(len(paths), "synpat-stats", unit="shards")
    for path in paths:
        for key, image, meta in shard_samples(path, keys=True):
            program, family = meta["program"], meta.get("family", UNKNOWN_FAMILY)
            needs = "stats" not in meta or len(out.thumbs.get(program, ())) < THUMBS
            with naming_sample(path, key):
                pixels = np.asarray(picture(image)) if needs else None
            if "stats" in meta:
                out.add(program, family, {k: np.array([meta["stats"][k]]) for k in TABLE_STATS})
            else:
                pending.setdefault((program, family), []).append(pixels)
                if len(pending[(program, family)]) >= BATCH:
                    flush((program, family))
            if pixels is not None:
                out.thumb(program, [pixels])
        progress.update(1)
    for key in list(pending):
        flush(key)
    progress.close()
    return out


def _summary(values: dict[str, np.ndarray], rows: np.ndarray) -> dict:
    """Mean and standard deviation of each statistic over the images ``rows``."""
    out = {"images": int(rows.sum())}
    for k in values:
        v = values[k][rows]
        out[f"{k}_mean"] = round(float(v.mean()), 5)
        out[f"{k}_std"] = round(float(v.std()), 5)
    return out


def tables(m: Measured) -> tuple[list[dict], list[dict]]:
    """-> (one row per program, one row per family), sorted by family then name."""
    values = {k: np.asarray(v) for k, v in m.values.items()}
    program, family = np.asarray(m.program), np.asarray(m.family)
    family_of = dict(zip(m.program, m.family))
    per_program = [
        {"program": p, "family": family_of[p], **_summary(values, program == p)}
        for p in sorted(set(m.program), key=lambda p: (family_of[p], p))
    ]
    per_family = [
        {"family": f, "programs": len({p for p in m.program if family_of[p] == f}), **_summary(values, family == f)}
        for f in sorted(set(m.family))
    ]
    return per_program, per_family


def _csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def write_report(m: Measured, out: Path, tile: int = 96) -> list[Path]:
    """All the report's files into ``out`` -> their paths."""
    if not m.program:
        raise UserError("no images to measure")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {out}: cannot make the report folder ({err.strerror})") from None
    per_program, per_family = tables(m)
    written = []

    def put(name: str, data: bytes) -> None:
        write_atomic(out / name, data)
        written.append(out / name)

    put("programs.csv", _csv(per_program))
    put("families.csv", _csv(per_family))
    for name, rows in (("programs.json", per_program), ("families.json", per_family)):
        write_json_atomic(out / name, rows)
        written.append(out / name)
    family = np.asarray(m.family)
    families = sorted(set(m.family))
    values = {k: np.asarray(v) for k, v in m.values.items()}
    for k in m.names:
        groups = {f: values[k][family == f] for f in families}
        put(f"hist_{k}.png", _png(plots.histogram_panels(groups, f"{k.replace('_', ' ')} per family")))
    x, y = m.scatter
    points = {f: (values[x][family == f], values[y][family == f]) for f in families}
    if m.names == TABLE_STATS:
        put(
            "scatter_tv_brightness.png",
            _png(
                plots.scatter(
                    points,
                    "total variation",
                    "brightness entropy (bits)",
                    "TV vs brightness entropy, one dot per image",
                )
            ),
        )
    else:
        put(
            "scatter_centroid_flatness.png",
            _png(
                plots.scatter(
                    points, "spectral centroid (Hz)", "spectral flatness", "centroid vs flatness, one dot per clip"
                )
            ),
        )
    family_of = dict(zip(m.program, m.family))
    for f in families:
        names = sorted(p for p in m.thumbs if family_of[p] == f)
        rows = {i: (name, m.thumbs[name]) for i, name in enumerate(names)}
        put(
            f"contact_{f}.png",
            _png(contact_sheet(rows, tile, None if m.names == TABLE_STATS else SOUND_TILE_ASPECT * tile)),
        )
    return written


def _is_shards(source: str) -> bool:
    p = Path(source)
    return (p.is_file() and p.suffix == ".tar") or (p.is_dir() and any(p.glob("*.tar")))


@dataclass
class StatsSettings:
    sources: tuple[str, ...] = option(
        (), "shard folders or .tar files; or program folders or .glsl files", positional=True
    )
    out: str = option("stats_report", "report folder")
    per_program: int = option(16, "samples rendered per program (programs only)")
    size: int = option(128, "render size in pixels (programs only)")
    seed: int = option(0, "sampler seed (programs only)")
    backend: str = option("auto", "renderer backend (programs only)")
    tile: int = option(96, "contact sheet tile size")


def validate(cfg: StatsSettings) -> StatsSettings:
    if not cfg.sources:
        raise UserError("no sources: give shard folders or .tar files, or program folders or .glsl files")
    if cfg.per_program < 1 or not 8 <= cfg.size <= 4096 or cfg.tile < 8:
        raise UserError(
            f"--per-program, --size, --tile: expected >= 1, 8..4096, >= 8; "
            f"got {cfg.per_program}, {cfg.size}, {cfg.tile}"
        )
    return cfg


def _main(argv: Sequence[str] | None) -> None:
    cfg = validate(
        parse_settings(StatsSettings, argv, settings_parser(StatsSettings, "synpat-stats", __doc__.split("\n\n")[0]))
    )
    missing = [s for s in cfg.sources if not Path(s).exists() and ":" not in s]  # procedural:N, bundled:sounds
    if missing:
        raise UserError(f"{missing[0]}: no such shard or program folder or file")
    check_seed(cfg.seed, "--seed")
    check_writable_folder(Path(cfg.out), "--out")  # before the work, not after it
    kinds = {_is_shards(s) for s in cfg.sources}
    if len(kinds) > 1:
        raise UserError("give either shards or programs, not both")
    m = (
        measure_shards(cfg.sources)
        if kinds == {True}
        else measure_programs(cfg.sources, cfg.per_program, cfg.size, cfg.seed, cfg.backend)
    )
    written = write_report(m, Path(cfg.out), cfg.tile)
    print(
        f"synpat-stats: {len(m.program)} images of {len(set(m.program))} programs in {len(set(m.family))} "
        f"families -> {len(written)} files in {cfg.out}",
        file=sys.stderr,
    )


def main(argv: list[str] | None = None) -> int:
    return run_cli("synpat-stats", _main, argv)


if __name__ == "__main__":
    sys.exit(main())

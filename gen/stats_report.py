"""synpat-stats: image statistics per program and per family, as tables, histograms, a scatter and
contact sheets.

    synpat-stats shaders/ --out report/ --per-program 16 --size 128
    synpat-stats shards/ --out report/

From programs it renders ``--per-program`` samples of each; from shards it reads the statistics
stored by ``synpat-gen --stats`` (or computes them from the images when absent). Writes into
REPORT/: programs.csv/json, families.csv/json (mean and standard deviation of each statistic),
hist_<statistic>.png (one panel per family), scatter_tv_brightness.png (TV against brightness
entropy, coloured by family) and contact_<family>.png (one row per program).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from synpat.core.errors import UserError
from synpat.core.settings import Parser, run_cli
from synpat.core.files import check_writable_folder, write_atomic, write_json_atomic
from synpat.core.progress import Progress
from .contact import contact_sheet, shard_paths
from .programs import UNKNOWN_FAMILY, find_programs
from .sampler import Sampler, check_seed
from .shards import shard_samples
from .stats import image_stats
from . import plots

TABLE_STATS = ("colour_entropy", "brightness_entropy", "total_variation", "edge_density", "std")
THUMBS = 8
BATCH = 256


@dataclass
class Measured:
    """Statistics of N images: their program and family, and the statistics, each (N,)."""
    program: list[str] = field(default_factory=list)
    family: list[str] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in TABLE_STATS})
    thumbs: dict[str, list[Image.Image]] = field(default_factory=dict)   # program -> first THUMBS images

    def add(self, program: str, family: str, stats: dict[str, np.ndarray]) -> None:
        """stats: image_stats of images of one program (arrays (n,), 'std' (n, 3))."""
        n = len(stats["total_variation"])
        self.program += [program] * n
        self.family += [family] * n
        for k in TABLE_STATS:
            v = np.asarray(stats[k], dtype=np.float64)
            self.values[k] += (v.mean(axis=1) if v.ndim == 2 else v).tolist()

    def thumb(self, program: str, images) -> None:
        row = self.thumbs.setdefault(program, [])
        for im in images:
            if len(row) < THUMBS:
                row.append(im if isinstance(im, Image.Image) else Image.fromarray(im))


def measure_programs(sources: list[str], per_program: int, size: int, seed: int, backend: str) -> Measured:
    from .renderer import CompileError, Renderer   # the GL context only when programs are rendered
    programs = find_programs(sources)
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


def measure_shards(sources: list[str]) -> Measured:
    """Statistics from the samples' json (``synpat-gen --stats``), else computed from the images."""
    out = Measured()
    pending: dict[tuple[str, str], list[np.ndarray]] = {}   # images still to measure, per program

    def flush(key: tuple[str, str]) -> None:
        if pending.get(key):
            out.add(*key, image_stats(np.stack(pending.pop(key))))

    paths = shard_paths(sources)
    progress = Progress(len(paths), "synpat-stats", unit="shards")
    for path in paths:
        for image, meta in shard_samples(path):
            program, family = meta["program"], meta.get("family", UNKNOWN_FAMILY)
            needs = "stats" not in meta or len(out.thumbs.get(program, ())) < THUMBS
            pixels = np.asarray(Image.open(io.BytesIO(image)).convert("RGB")) if needs else None
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
    for k in TABLE_STATS:
        v = values[k][rows]
        out[f"{k}_mean"] = round(float(v.mean()), 5)
        out[f"{k}_std"] = round(float(v.std()), 5)
    return out


def tables(m: Measured) -> tuple[list[dict], list[dict]]:
    """-> (one row per program, one row per family), sorted by family then name."""
    values = {k: np.asarray(v) for k, v in m.values.items()}
    program, family = np.asarray(m.program), np.asarray(m.family)
    family_of = dict(zip(m.program, m.family))
    per_program = [{"program": p, "family": family_of[p], **_summary(values, program == p)}
                   for p in sorted(set(m.program), key=lambda p: (family_of[p], p))]
    per_family = [{"family": f, "programs": len({p for p in m.program if family_of[p] == f}),
                   **_summary(values, family == f)} for f in sorted(set(m.family))]
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
    for k in TABLE_STATS:
        groups = {f: values[k][family == f] for f in families}
        put(f"hist_{k}.png", _png(plots.histogram_panels(groups, f"{k.replace('_', ' ')} per family")))
    points = {f: (values["total_variation"][family == f], values["brightness_entropy"][family == f]) for f in families}
    put("scatter_tv_brightness.png", _png(plots.scatter(points, "total variation", "brightness entropy (bits)",
                                                        "TV vs brightness entropy, one dot per image")))
    family_of = dict(zip(m.program, m.family))
    for f in families:
        names = sorted(p for p in m.thumbs if family_of[p] == f)
        rows = {i: (name, m.thumbs[name]) for i, name in enumerate(names)}
        put(f"contact_{f}.png", _png(contact_sheet(rows, tile)))
    return written


def _is_shards(source: str) -> bool:
    p = Path(source)
    return (p.is_file() and p.suffix == ".tar") or (p.is_dir() and any(p.glob("*.tar")))


def _main(argv: Sequence[str] | None) -> None:
    p = Parser(prog="synpat-stats", description=__doc__.split("\n\n")[0],
               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("sources", nargs="+", help="shard folders or .tar files; or program folders or .glsl files")
    p.add_argument("--out", default="stats_report", help="report folder")
    p.add_argument("--per-program", type=int, default=16, help="samples rendered per program (programs only)")
    p.add_argument("--size", type=int, default=128, help="render size in pixels (programs only)")
    p.add_argument("--seed", type=int, default=0, help="sampler seed (programs only)")
    p.add_argument("--backend", default="auto", help="renderer backend (programs only)")
    p.add_argument("--tile", type=int, default=96, help="contact sheet tile size")
    args = p.parse_args(argv)
    if args.per_program < 1 or not 8 <= args.size <= 4096 or args.tile < 8:
        raise UserError(f"--per-program, --size, --tile: expected >= 1, 8..4096, >= 8; "
                        f"got {args.per_program}, {args.size}, {args.tile}")
    missing = [s for s in args.sources if not Path(s).exists()]
    if missing:
        raise UserError(f"{missing[0]}: no such shard or program folder or file")
    check_seed(args.seed, "--seed")
    check_writable_folder(Path(args.out), "--out")   # before the work, not after it
    kinds = {_is_shards(s) for s in args.sources}
    if len(kinds) > 1:
        raise UserError("give either shards or programs, not both")
    m = measure_shards(args.sources) if kinds == {True} else measure_programs(
        args.sources, args.per_program, args.size, args.seed, args.backend)
    written = write_report(m, Path(args.out), args.tile)
    print(f"synpat-stats: {len(m.program)} images of {len(set(m.program))} programs in {len(set(m.family))} "
          f"families -> {len(written)} files in {args.out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return run_cli("synpat-stats", _main, argv)


if __name__ == "__main__":
    sys.exit(main())

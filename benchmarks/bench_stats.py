"""Image statistics against rendering, in one run: render img/s, the numpy statistics
(synpat.gen.stats) and the GPU ones (synpat.gen.gl_stats, rendered chunks measured in place) in
img/s, and synpat-gen's rate with and without --stats (target: --stats costs at most 15%).

    python benchmarks/bench_stats.py [--programs fbm,dl_squares,...] [--size 224] [--count 512]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import emit, pick_programs
from synpat.gen.generate import GenConfig, generate
from synpat.gen.gl_stats import GLStats, render_measured
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler
from synpat.gen.stats import image_stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--programs",
        default="fbm,voronoi,dl_squares,stat_spectrum_grey,cppn_random,visual_atom_2_7",
        help="comma-separated names, or 'all'",
    )
    ap.add_argument("--shaders", default=None, help="program folder (default: the bundled one)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--count", type=int, default=512, help="images for each measurement")
    ap.add_argument("--shard-size", type=int, default=128)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    programs = pick_programs(args.programs, args.shaders)
    names = ",".join(p.name for p in programs)

    renderer = Renderer(args.size, max_batch=args.shard_size)
    sampler = Sampler(len(programs), seed=0)
    renderer.render_many(programs, sampler.range(0, len(programs)))  # compile
    start, chunks = time.perf_counter(), []
    for s in range(0, args.count, args.shard_size):
        chunks.append(renderer.render_many(programs, sampler.range(s, min(s + args.shard_size, args.count))))
    render = args.count / (time.perf_counter() - start)
    start = time.perf_counter()
    for images in chunks:
        image_stats(images)
    stats = args.count / (time.perf_counter() - start)
    gl = GLStats(renderer)
    start = time.perf_counter()
    for s in range(0, args.count, args.shard_size):
        render_measured(renderer, gl, programs, sampler.range(s, min(s + args.shard_size, args.count)))
    measured = args.count / (time.perf_counter() - start)
    device = renderer.device_name
    emit("stats", "render_rate", render, "img/s", device, size=args.size, programs=names)
    emit("stats", "render_with_gl_stats_rate", measured, "img/s", device, size=args.size, programs=names)
    emit("stats", "gl_stats_rate", 1.0 / max(1.0 / measured - 1.0 / render, 1e-9), "img/s", device, size=args.size)
    emit("stats", "numpy_stats_rate", stats, "img/s", "cpu (numpy, 1 thread)", size=args.size, programs=names)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shaders"
        folder.mkdir()
        for p in programs:
            (folder / f"{p.name.replace('/', '_')}.glsl").write_text(p.source)
        rates = {}
        for flag in (False, True, False, True):  # alternate, best of two each: the CPU is shared
            cfg = GenConfig(
                shaders=[str(folder)],
                out=str(Path(tmp) / f"shards{len(rates)}{flag}"),
                count=args.count,
                size=(args.size, args.size),
                shard_size=args.shard_size,
                workers=args.workers,
                stats=flag,
            )
            summary = generate(cfg)
            rates[flag] = max(rates.get(flag, 0.0), summary["images"] / summary["seconds"])
    emit("stats", "gen_rate", rates[False], "img/s", device, size=args.size, programs=names)
    emit("stats", "gen_rate_with_stats", rates[True], "img/s", device, size=args.size, programs=names)
    emit(
        "stats",
        "stats_overhead",
        100.0 * (1.0 - rates[True] / rates[False]),
        "%",
        device,
        size=args.size,
        target="<= 15",
    )


if __name__ == "__main__":
    main()

"""Render throughput: compute vs fragment backends, batch sizes, 224 and 384, against the
Shaders21k generator's loop (fragment, one image per draw, fbo.read, a Pillow JPEG file each).

    python benchmarks/bench_render.py [--programs fbm,waves] [--sizes 224,384] [--batches 16,64,256]

Prints one JSON line per result; the ratios compare paths measured in this run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import baseline_rate, emit, pick_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler


def render_rate(programs, size: int, backend: str, batch: int, images: int) -> tuple[float, str]:
    """img/s rendering ``images`` per program in batches of ``batch`` (readback included)."""
    renderer = Renderer(size, backend=backend, max_batch=batch)
    samples = Sampler(1, seed=3).range(0, batch)
    for p in programs:  # compile and warm up outside the timing
        renderer.render(p, samples)
    start = time.perf_counter()
    done = 0
    for p in programs:
        for _ in range(max(1, images // batch)):
            done += len(renderer.render(p, samples))
    return done / (time.perf_counter() - start), renderer.device_name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--programs", default="fbm,domain_warp,waves,voronoi", help="comma-separated names, or 'all'")
    ap.add_argument("--shaders", default=None, help="program folder (default: the bundled one)")
    ap.add_argument("--sizes", default="224,384")
    ap.add_argument("--batches", default="16,64,256")
    ap.add_argument("--images", type=int, default=256, help="images per program per measurement")
    ap.add_argument("--baseline-images", type=int, default=32, help="images per program for the baseline")
    args = ap.parse_args()
    programs = pick_programs(args.programs, args.shaders)
    names = ",".join(p.name for p in programs)
    for size in map(int, args.sizes.split(",")):
        rates = {}
        for backend in ("compute", "fragment"):
            for batch in map(int, args.batches.split(",")):
                rate, device = render_rate(programs, size, backend, batch, args.images)
                rates[backend, batch] = rate
                emit(
                    "render",
                    "img_per_s",
                    rate,
                    "img/s",
                    device,
                    backend=backend,
                    size=size,
                    batch=batch,
                    programs=names,
                )
        with tempfile.TemporaryDirectory() as tmp:
            base = baseline_rate(programs, size, args.baseline_images, Path(tmp))
        emit(
            "render",
            "img_per_s",
            base,
            "img/s",
            device,
            backend="baseline_fragment_1img_fboread_pil_jpg95",
            size=size,
            batch=1,
            programs=names,
        )
        best_compute = max(v for (b, _), v in rates.items() if b == "compute")
        best_fragment = max(v for (b, _), v in rates.items() if b == "fragment")
        emit("render", "compute_over_fragment", best_compute / best_fragment, "x", device, size=size, programs=names)
        emit("render", "compute_over_baseline", best_compute / base, "x", device, size=size, programs=names)


if __name__ == "__main__":
    main()

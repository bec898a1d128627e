"""FractalDB-like categories: point splatting (the bundled `// kind: splat` programs) against the
per-pixel inverse-map search they replaced (benchmarks/baselines/fractaldb_perpixel: the first
three categories' IFS codes as per-pixel programs), in one run.

    python benchmarks/bench_fractaldb.py [--sizes 224] [--batch 64] [--images 128] [--rounds 3]

Rounds alternate the two sets and each keeps its best round, so a machine shared with other jobs
hurts both alike. Prints one JSON line per result (readback included, compute backend).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import emit
from synpat.gen.programs import bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler

BASELINE = Path(__file__).resolve().parent / "baselines" / "fractaldb_perpixel"


def rate(renderer: Renderer, programs, batch: int, images: int) -> float:
    """img/s rendering ``images`` samples of each program in batches of ``batch``."""
    done, start = 0, time.perf_counter()
    for p in programs:
        for first in range(0, images, batch):
            done += len(renderer.render(p, Sampler(1, seed=3).range(first, first + batch)))
    return done / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="224")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=128, help="images per program per round")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    per_pixel = find_programs([BASELINE])  # the first categories, kept as they were
    kept = {p.name for p in per_pixel}
    sets = {
        "splat": [p for p in find_programs([bundled_shaders_dir() / "fractaldb"]) if p.name in kept],
        "per_pixel": per_pixel,
    }
    assert [p.name for p in sets["splat"]] == [p.name for p in sets["per_pixel"]], "the two sets differ"
    names = ",".join(p.name for p in sets["splat"])
    for size in map(int, args.sizes.split(",")):
        renderer = Renderer(size, backend="compute", max_batch=args.batch)
        for programs in sets.values():  # compile and warm up outside the timing
            for p in programs:
                renderer.render(p, Sampler(1, seed=3).range(0, 1))
        best = {k: 0.0 for k in sets}
        for _ in range(args.rounds):
            for k, programs in sets.items():
                best[k] = max(best[k], rate(renderer, programs, args.batch, args.images))
        for k, value in best.items():
            extra = {"points_per_image": renderer.splat_points} if k == "splat" else {}
            emit(
                "fractaldb",
                "img_per_s",
                value,
                "img/s",
                renderer.device_name,
                method=k,
                size=size,
                batch=args.batch,
                programs=names,
                **extra,
            )
        emit(
            "fractaldb",
            "splat_over_per_pixel",
            best["splat"] / best["per_pixel"],
            "x",
            renderer.device_name,
            size=size,
            batch=args.batch,
        )
        renderer.release()


if __name__ == "__main__":
    main()

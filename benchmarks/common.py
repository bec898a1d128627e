"""Shared by the benchmarks: JSON lines and the Shaders21k-style baseline loop."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image
from synpat.gen.programs import Program, bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler

# Results own stdout: libraries that log to stdout (DeepSpeed's logger) are sent to stderr.
RESULTS = sys.stdout
sys.stdout = sys.stderr


def emit(bench: str, metric: str, value: float, unit: str, device: str, **extra) -> None:
    """Print one result as a JSON line on stdout."""
    print(
        json.dumps(
            {"bench": bench, "metric": metric, "value": round(float(value), 3), "unit": unit, "device": device, **extra}
        ),
        file=RESULTS,
        flush=True,
    )


def pick_programs(names: str, shaders: str | None) -> list[Program]:
    programs = find_programs([shaders or bundled_shaders_dir()])
    if names == "all":
        return programs
    wanted = names.split(",")
    chosen = [p for p in programs if p.name in wanted]
    missing = set(wanted) - {p.name for p in chosen}
    if missing:
        sys.exit(f"unknown programs: {', '.join(sorted(missing))}")
    return chosen


def baseline_rate(programs: list[Program], size: int, per_program: int, out_dir: Path) -> float:
    """The Shaders21k generator's way: fragment shader, one image per draw, fbo.read, a Pillow JPEG q95 file each.

    Returns img/s over ``per_program`` images of each program.
    """
    renderer = Renderer(size, backend="fragment", max_batch=1)
    for p in programs:
        renderer.compile(p)
    sampler = Sampler(len(programs), seed=1)
    n = per_program * len(programs)
    samples = sampler.range(0, n)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i in range(n):
        one = samples.take(np.array([i]))
        image = renderer.render(programs[int(one.program[0])], one)[0]
        Image.fromarray(image).save(out_dir / f"{i:07d}.jpg", quality=95)
    return n / (time.perf_counter() - start)

"""Rendering speed and start-up with 16, 1,000 and 21,000 programs, in one run: img/s of the
stream and of synpat-gen at 224², and start-up (program list + checks) cold and warm.

    python benchmarks/bench_programs.py [--sets 16,1000,21000] [--size 224] [--full]

16 is the bundled set; pN or any other N is ``procedural:N`` (seed 0), so p16 is 16 programs
of the grammar: per-pixel cost differs between the bundled programs and the grammar's, so
compare 1,000 and 21,000 with both. Start-up runs with a fresh program
check cache and a fresh Mesa shader cache (cold), then again (warm: the second run, or a second
rank). A cold start-up and synpat-gen for 21,000 check all 21,000 programs (~0.06 s each on
llvmpipe), so they run only with --full; without it the 21,000 stream uses the programs
unchecked (the grammar's programs compile and render by construction; the 1,000 set's checks
measure that). Rates are measured after one warm-up batch, so the 16-program rate excludes its
compiles while the many-program rates include theirs (every run of a new program compiles it).
Sets above 64 programs are also streamed without runs (group 1), to show what runs buy.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import emit
from synpat.gen.check_cache import accept_cached, gl_identity
from synpat.gen.checks import CheckSettings
from synpat.gen.generate import GenConfig, generate
from synpat.gen.programs import bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import default_group
from synpat.gen.stream import PatternStream, StreamConfig


def source_of(name: str) -> tuple[str, int]:
    """'16' -> the bundled programs; 'N' or 'pN' -> procedural:N. -> (source, number of programs)."""
    if name == "16":
        return str(bundled_shaders_dir()), 16
    return f"procedural:{int(name.lstrip('p'))}", int(name.lstrip("p"))


def startup(source: str, size: int) -> tuple[float, list, list]:
    """What synpat-gen and the stream do first: the program list and the checks. -> (seconds, accepted, rejected)."""
    gl_identity.cache_clear()  # as in a fresh process: ask a child for the GL driver again
    start = time.perf_counter()
    accepted, rejected = accept_cached(find_programs([source]), CheckSettings(size, size))
    return time.perf_counter() - start, accepted, rejected


def stream_rate(source: str, programs: list, size: int, batch: int, batches: int, group: int | None = None) -> float:
    stream = PatternStream(
        StreamConfig(shaders=[source], batch_size=batch, size=(size, size), group=group), programs=programs
    )
    next(stream)  # warm-up: context, buffers
    start = time.perf_counter()
    for _ in range(batches):
        next(stream)
    return batch * batches / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sets", default="16,p16,1000,21000", help="program counts; 16 = the bundled programs, pN or N = procedural:N"
    )
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batch", type=int, default=256, help="stream batch size")
    ap.add_argument("--batches", type=int, default=4, help="stream batches measured")
    ap.add_argument("--count", type=int, default=1024, help="synpat-gen images")
    ap.add_argument("--full", action="store_true", help="also check all programs of the largest sets")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_programs_"))
    os.environ["SYNPAT_CACHE"] = str(tmp / "synpat-cache")
    os.environ["MESA_SHADER_CACHE_DIR"] = str(tmp / "mesa-cache")
    device = Renderer(8, 8).device_name
    size = args.size
    for name in args.sets.split(","):
        source, n = source_of(name)
        checked = args.full or n <= 1000
        if checked:
            cold, accepted, rejected = startup(source, size)
            warm, again, _ = startup(source, size)
            assert again == accepted
            emit("programs", "startup_cold", cold, "s", device, programs=n, set=name, rejected=len(rejected))
            emit("programs", "startup_warm", warm, "s", device, programs=n, set=name)
        else:
            start = time.perf_counter()
            accepted = find_programs([source])
            emit("programs", "program_list", time.perf_counter() - start, "s", device, programs=n, set=name)
        rate = stream_rate(source, accepted, size, args.batch, args.batches)
        emit(
            "programs",
            "stream",
            rate,
            "img/s",
            device,
            programs=n,
            set=name,
            group=default_group(len(accepted)),
            checked=checked,
            size=size,
            batch=args.batch,
        )
        if default_group(len(accepted)) != 1:  # the same set without runs: what grouping buys
            rate = stream_rate(source, accepted, size, args.batch, args.batches, group=1)
            emit(
                "programs",
                "stream",
                rate,
                "img/s",
                device,
                programs=n,
                set=name,
                group=1,
                checked=checked,
                size=size,
                batch=args.batch,
            )
        if checked:
            out = tmp / f"gen{name}"
            summary = generate(
                GenConfig(shaders=[source], out=str(out), count=args.count, size=(size, size), shard_size=256)
            )
            emit(
                "programs",
                "synpat-gen",
                summary["images"] / summary["seconds"],
                "img/s",
                device,
                programs=n,
                set=name,
                group=default_group(len(accepted)),
                size=size,
                images=summary["images"],
            )


if __name__ == "__main__":
    main()

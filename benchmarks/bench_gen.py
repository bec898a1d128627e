"""synpat-gen end to end (render + JPEG encode + tar write) against its own render-only rate
and the Shaders21k generator's loop (fragment, one image per draw, fbo.read, a Pillow JPEG q95
file each), on the same programs in one run. With ``--jpeg-encoder gpu|auto`` synpat-gen runs with that encoder
and with Pillow's (the baseline), alternating, best of ``--repeats``.

    python benchmarks/bench_gen.py [--programs fbm,waves] [--size 224] [--count 2000] [--jpeg-encoder gpu]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import baseline_rate, emit, pick_programs
from synpat.gen.generate import GenConfig, generate
from synpat.gen.jpeg import JPEG_ENCODERS
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--programs", default="fbm,domain_warp,waves,voronoi", help="comma-separated names, or 'all'")
    ap.add_argument("--shaders", default=None, help="program folder (default: the bundled one)")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--count", type=int, default=1024, help="images for synpat-gen and render-only")
    ap.add_argument("--shard-size", type=int, default=256)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--baseline-images", type=int, default=48, help="images per program for the baseline")
    ap.add_argument(
        "--jpeg-encoder",
        choices=JPEG_ENCODERS,
        default="cpu",
        help="synpat-gen's encoder; other than cpu, Pillow's (cpu) runs too as its baseline",
    )
    ap.add_argument("--repeats", type=int, default=1, help="synpat-gen runs per encoder (alternating; best counts)")
    args = ap.parse_args()
    programs = pick_programs(args.programs, args.shaders)
    names = ",".join(p.name for p in programs)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shaders"
        folder.mkdir()
        for p in programs:
            (folder / f"{p.name.replace('/', '_')}.glsl").write_text(p.source)
        encoders = ["cpu"] if args.jpeg_encoder == "cpu" else [args.jpeg_encoder, "cpu"]
        best = {}  # encoder -> (img/s, summary)
        for _ in range(args.repeats):
            for encoder in encoders:
                cfg = GenConfig(
                    shaders=[str(folder)],
                    out=str(Path(tmp) / "shards"),
                    count=args.count,
                    size=(args.size, args.size),
                    shard_size=args.shard_size,
                    workers=args.workers,
                    jpeg_encoder=encoder,
                    overwrite=True,
                )
                summary = generate(cfg)
                rate = summary["images"] / summary["seconds"]
                best[encoder] = max(best.get(encoder, (0.0, None)), (rate, summary), key=lambda r: r[0])
        gen = best[encoders[0]][0]

        renderer = Renderer(args.size)
        ordered = sorted(programs, key=lambda p: p.name.replace("/", "_"))
        sampler = Sampler(len(ordered), seed=cfg.seed)
        start = time.perf_counter()
        for s in range(0, args.count, args.shard_size):
            renderer.render_many(ordered, sampler.range(s, min(s + args.shard_size, args.count)))
        render_only = args.count / (time.perf_counter() - start)

        base = baseline_rate(programs, args.size, args.baseline_images, Path(tmp) / "baseline")

    device = renderer.device_name
    common = {"size": args.size, "programs": names}
    for encoder in encoders:
        rate, summary = best[encoder]
        emit(
            "gen",
            "img_per_s",
            rate,
            "img/s",
            device,
            path=f"synpat-gen jpg95 shards ({summary['encoder']})",
            encoder=summary["encoder"],
            workers=args.workers,
            **common,
        )
        emit(
            "gen",
            "bytes_per_image",
            summary["bytes"] / summary["images"],
            "B",
            device,
            encoder=summary["encoder"],
            **common,
        )
    if len(encoders) > 1:
        emit(
            "gen",
            "encoder_over_pillow",
            gen / best["cpu"][0],
            "x",
            device,
            encoder=best[encoders[0]][1]["encoder"],
            **common,
        )
    emit("gen", "img_per_s", render_only, "img/s", device, path="render only (compute, readback)", **common)
    emit("gen", "img_per_s", base, "img/s", device, path="baseline_fragment_1img_fboread_pil_jpg95", **common)
    emit("gen", "gen_over_baseline", gen / base, "x", device, target=1.3, **common)
    emit("gen", "gen_over_render_only", gen / render_only, "x", device, target=0.75, **common)


if __name__ == "__main__":
    main()

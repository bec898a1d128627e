"""Loader throughput: shards and stream through each loader engine here (DALI when installed, torch),
and the rate of a small ViT training step fed by the stream against the same step on ready-made
tensors, in one run.

    python benchmarks/bench_loaders.py [--shards demo/shards] [--size 224] [--batch 64]

Without --shards it renders its own (synpat-gen, --programs) into a temporary folder. The stream
renders --programs (a few bundled ones: each is checked at the render size the first time, and
on a GPU each check compiles and probes it). Without DALI its figures are reported skipped (value
-1) and the torch loader feeds the training step. Every figure is printed the moment it is
measured.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import emit, pick_programs
from synpat.gen.generate import GenConfig, generate
from synpat.gen.source import SourceSpec
from synpat.train.loaders import LoaderConfig, build_loader


def dali_installed() -> bool:
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        return False
    return True


def loader_rate(cfg: LoaderConfig, batches: int) -> float:
    it = iter(build_loader(cfg))
    next(it)  # build, first fill and compile outside the timing
    start, n = time.perf_counter(), 0
    for _ in range(batches):
        try:
            x, _ = next(it)
        except StopIteration:
            break
        n += len(x)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def train_rate(batches, steps: int, size: int, device: torch.device) -> float:
    """img/s of forward+backward+AdamW of a ViT-Tiny/16 classifier fed by ``batches``."""
    import timm

    model = timm.create_model("vit_tiny_patch16_224", img_size=size, num_classes=1000).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    it = iter(batches)

    def step():
        x, y = next(it)
        loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return len(x)

    step()
    start, n = time.perf_counter(), 0
    for _ in range(steps):
        n += step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", default=None, help="shard folder (default: render 2,048 images of --programs)")
    ap.add_argument(
        "--programs", default="waves,voronoi,fbm", help="bundled programs the stream renders ('all': every one)"
    )
    ap.add_argument("--size", type=int, default=224, help="crop size after augmentation")
    ap.add_argument("--render-size", type=int, default=None, help="stream render size (default --size)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--train-steps", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    shaders = [p.path for p in pick_programs(args.programs, None)]
    render = args.render_size or args.size
    engines = ("dali", "torch") if dali_installed() else ("torch",)
    if "dali" not in engines:
        print(
            "bench_loaders: DALI is not installed: its figures are skipped, the torch loader feeds the stream",
            file=sys.stderr,
            flush=True,
        )
        for source in ("shards", "stream"):
            emit("loaders", "img_per_s", -1, "skipped (no DALI)", name, source=source, loader="dali")
    with tempfile.TemporaryDirectory() as tmp:
        shards = args.shards
        if shards is None:
            shards = str(Path(tmp) / "shards")
            generate(GenConfig(shaders=shaders, out=shards, count=2048, size=(render, render), shard_size=512))
        base = dict(batch_size=args.batch, image_size=args.size, num_workers=args.workers)
        spec = SourceSpec(shaders=shaders, size=(render, render))
        rates = {}
        for engine in engines:
            for source, cfg in (
                ("shards", LoaderConfig(data=shards, loader=engine, **base)),
                ("stream", LoaderConfig(source=spec, loader=engine, **base)),
            ):
                rates[source, engine] = loader_rate(cfg, args.batches)
                emit(
                    "loaders",
                    "img_per_s",
                    rates[source, engine],
                    "img/s",
                    name,
                    source=source,
                    loader=engine,
                    size=args.size,
                    batch=args.batch,
                )
        if "dali" in engines:
            for source in ("shards", "stream"):
                emit(
                    "loaders",
                    "dali_over_torch",
                    rates[source, "dali"] / rates[source, "torch"],
                    "x",
                    name,
                    source=source,
                )

        ready = (
            torch.randn(args.batch, 3, args.size, args.size, device=device),
            torch.randint(0, 1000, (args.batch,), device=device),
        )
        tensors = train_rate(iter(lambda: ready, None), args.train_steps, args.size, device)
        emit(
            "loaders",
            "img_per_s",
            tensors,
            "img/s",
            name,
            path="vit_tiny train step, ready-made tensors",
            size=args.size,
        )
        feeder = engines[0]
        streamed = train_rate(
            build_loader(LoaderConfig(source=spec, loader=feeder, **base)), args.train_steps, args.size, device
        )
        emit(
            "loaders",
            "img_per_s",
            streamed,
            "img/s",
            name,
            path=f"vit_tiny train step, {feeder} stream",
            size=args.size,
        )
    emit(
        "loaders",
        "stream_fed_over_tensor_fed",
        streamed / tensors,
        "x",
        name,
        target=0.95,
        size=args.size,
        loader=feeder,
    )


if __name__ == "__main__":
    main()

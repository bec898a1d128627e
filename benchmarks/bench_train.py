"""MAE training-step throughput on one device, same model, batch and masks in one run: torch eager,
torch.compile, pretrain's torch engine (`engine`: autocast, fused AdamW, TF32, compiled on a GPU) and
DeepSpeed ZeRO 0/1/2 (overlap_comm and --bucket-sized buckets; optionally engine.compile()), each
against compiled torch.

    python benchmarks/bench_train.py                                   # GPU: ViT-B/16, 224 px, batch 256, bf16
    python benchmarks/bench_train.py --model mae_vit_tiny_patch16 --size 64 --batch 32 --precision fp32   # CPU

Prints one JSON line per path (img/s, and the seconds it took with its set-up and compilation) and,
right after it, its ratio to torch.compile (measured first when it is among --paths).
"""

from __future__ import annotations

import argparse
import time

import torch
from common import emit
from synpat.train.deepspeed_configs import generated_config
from synpat.train.deepspeed_setup import build_engine, fill_deepspeed_config, init_distributed
from synpat.train.mae import MODELS, build_mae
from synpat.train.optim import param_groups
from synpat.train.torch_engine import DTYPES, TorchEngine

PATHS = ("eager", "compile", "engine", "zero0", "zero1", "zero2", "zero2+compile")


def timed(step, steps: int, warmup: int, batch: int, device: torch.device) -> float:
    """img/s of `steps` calls of step() after `warmup` untimed ones."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def torch_step(model, images, noise, dtype: torch.dtype):
    """Plain torch: autocast to `dtype` (fp32 weights), AdamW with the pre-training parameter groups."""
    optimizer = torch.optim.AdamW(param_groups(model, 0.05), lr=1e-4, betas=(0.9, 0.95))

    def step():
        with torch.autocast(images.device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss, _, _ = model(images, noise)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def engine_step(model, images, noise, precision: str, device: torch.device):
    """pretrain.py's --engine torch as the GPU default runs it (compiled on a GPU)."""
    engine = TorchEngine(model, device, precision, 1e-4, (0.9, 0.95), 0.05)
    if device.type == "cuda":
        engine.compile()

    def step():
        loss, _, _ = engine(images, noise)
        engine.backward(loss)
        engine.step()

    return step


def deepspeed_step(model, images, noise, stage: int, precision: str, bucket: int, compile: bool):
    base = generated_config(stage, precision)
    if stage in (1, 2):
        base["zero_optimization"].update(overlap_comm=True, reduce_bucket_size=bucket, allgather_bucket_size=bucket)
    cfg = fill_deepspeed_config(base, len(images), 1, 1, 1e-4, (0.9, 0.95), 0.05)
    engine = build_engine(model, cfg, 0.05)
    if compile:
        engine.compile()
    dtype = next(engine.module.parameters()).dtype

    def step():
        loss, _, _ = engine(images.to(dtype), noise)
        engine.backward(loss)
        engine.step()

    return step


def main() -> None:
    gpu = torch.cuda.is_available()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="mae_vit_base_patch16", choices=sorted(MODELS))
    p.add_argument("--size", type=int, default=224 if gpu else 64)
    p.add_argument("--batch", type=int, default=256 if gpu else 32)
    p.add_argument("--precision", default="bf16" if gpu else "fp32", choices=("fp32", "bf16", "fp16"))
    p.add_argument("--steps", type=int, default=50 if gpu else 10)
    p.add_argument("--warmup", type=int, default=10 if gpu else 3)
    p.add_argument("--bucket", type=int, default=500_000_000, help="ZeRO-1/2 reduce/allgather bucket (elements)")
    p.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of {','.join(PATHS)}")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    p.add_argument(
        "--compile-backend",
        default="inductor",
        help="torch.compile backend of the compile path ('eager': Dynamo alone, for a quick CPU dry run)",
    )
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    _, _, device = init_distributed()
    name = torch.cuda.get_device_name(device) if gpu else f"cpu x{torch.get_num_threads()} threads"
    dtype = DTYPES[args.precision]
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(args.batch, 3, args.size, args.size, generator=gen).to(device)
    num_patches = (args.size // MODELS[args.model].encoder.patch_size) ** 2
    noise = torch.rand(args.batch, num_patches, generator=gen).to(device)
    extra = {
        "model": args.model,
        "size": args.size,
        "batch": args.batch,
        "precision": args.precision,
        "compile_backend": args.compile_backend,
    }

    paths = args.paths.split(",")
    unknown = sorted(set(paths) - set(PATHS))
    if unknown:
        p.error(f"--paths: unknown {', '.join(unknown)}; expected a subset of {','.join(PATHS)}")
    if "compile" in paths:  # the baseline first, so each path's ratio prints the moment it is measured
        paths.insert(0, paths.pop(paths.index("compile")))
    rates = {}
    for path in paths:
        torch.manual_seed(0)
        model = build_mae(args.model, img_size=args.size).to(device)
        start = time.perf_counter()
        if path == "eager":
            step = torch_step(model, images, noise, dtype)
        elif path == "compile":
            step = torch_step(torch.compile(model, backend=args.compile_backend), images, noise, dtype)
        elif path == "engine":
            step = engine_step(model, images, noise, args.precision, device)
        else:
            stage = int(path[4])
            step = deepspeed_step(model, images, noise, stage, args.precision, args.bucket, path.endswith("+compile"))
        rates[path] = timed(step, args.steps, args.warmup, args.batch, device)
        emit(
            "train",
            "img_per_s",
            rates[path],
            "img/s",
            name,
            path=path,
            seconds_with_setup=round(time.perf_counter() - start, 1),
            **extra,
        )
        if "compile" in rates:
            emit("train", "ratio_vs_compile", rates[path] / rates["compile"], "x", name, path=path, **extra)
        del step, model


if __name__ == "__main__":
    main()

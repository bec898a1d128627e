"""Device check: the CUDA-GL interop batch equals the readback batch byte for byte, for a few and for
many programs, and the PatternStream on cuda:0 gives those images with their labels.

    python benchmarks/check_interop.py --programs 16,256 --size 224 --images 256      # on the GPU machine
    python benchmarks/check_interop.py --programs 4,12 --size 32 --images 16          # CPU dry run

Many programs are the bundled ones repeated with a comment that changes their hash (each compiles
anew). Without CUDA the interop half is reported as skipped and the readback path is timed alone.
Prints JSON lines; exits 1 when a comparison fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from common import emit
from synpat.core.devices import gl_device_index
from synpat.gen.programs import bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler
from synpat.gen.source import SourceSpec
from synpat.gen.stream import PatternStream, StreamConfig
from synpat.train.loaders import LoaderConfig, stream_batches


def many_programs(n: int, folder: Path):
    """n distinct programs: the bundled ones, then copies with a variant comment."""
    bundled = sorted(bundled_shaders_dir().glob("*.glsl"))
    for i in range(n):
        src = bundled[i % len(bundled)]
        (folder / f"p{i:05d}_{src.name}").write_text(src.read_text() + f"\n// variant {i}\n")
    return find_programs([folder])


def compare(n_programs: int, size: int, images: int, device: torch.device, name: str) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        programs = many_programs(n_programs, Path(tmp))
        samples = Sampler(len(programs), seed=3).range(0, images)
        gl = gl_device_index(None, device.index if device.type == "cuda" else None)
        with Renderer(size, device=gl, max_batch=min(images, 256)) as renderer:
            renderer.render_many(programs, samples)  # compile everything once
            start = time.perf_counter()
            host = renderer.render_many(programs, samples)
            emit(
                "check_interop",
                "readback_img_per_s",
                images / (time.perf_counter() - start),
                "img/s",
                name,
                programs=n_programs,
                size=size,
                renderer=renderer.device_name,
            )
            if device.type != "cuda":
                emit("check_interop", "interop_equal", -1, "skipped (no CUDA)", name, programs=n_programs, size=size)
                return True
            from synpat.gen.gl_cuda import CudaRenderer

            with CudaRenderer(renderer, device) as cuda:
                cuda.render_many(programs, samples)
                torch.cuda.synchronize(device)
                start = time.perf_counter()
                tensor = cuda.render_many(programs, samples)
                torch.cuda.synchronize(device)
                rate = images / (time.perf_counter() - start)
            emit("check_interop", "interop_img_per_s", rate, "img/s", name, programs=n_programs, size=size)
            equal = bool(np.array_equal(tensor.cpu().numpy(), host))
            emit("check_interop", "interop_equal", int(equal), "bool", name, programs=n_programs, size=size)
            shares, how = torch_context_shared(tensor)
            emit("check_interop", "interop_shares_torch_context", shares, how, name)
            return equal


def torch_context_shared(tensor: torch.Tensor) -> tuple[int, str]:
    """Whether the CUDA context of torch's ``tensor`` is its device's primary context, the one the
    interop's runtime (cuda-bindings, its own cudart) copies in -> (1 or 0, "bool"), or (-1, why not)."""
    try:
        from cuda.bindings import driver as cu

        def ok(result):
            err, *values = result
            if err != cu.CUresult.CUDA_SUCCESS:
                raise RuntimeError(cu.cuGetErrorName(err)[1].decode())
            return values[0] if values else None

        ok(cu.cuInit(0))
        dev = ok(cu.cuDeviceGet(tensor.device.index or 0))
        primary = ok(cu.cuDevicePrimaryCtxRetain(dev))
        try:
            owner = ok(cu.cuPointerGetAttribute(cu.CUpointer_attribute.CU_POINTER_ATTRIBUTE_CONTEXT, tensor.data_ptr()))
        finally:
            ok(cu.cuDevicePrimaryCtxRelease(dev))
        return int(int(owner) == int(primary)), "bool"
    except Exception as e:  # a check that could not run is reported, never fatal
        return -1, f"not checked ({type(e).__name__}: {e})"


def check_stream(size: int, batch: int, device: torch.device, name: str) -> bool:
    """Three batches of the stream on `device` equal the renderer's own, labels included."""
    shaders = [str(bundled_shaders_dir() / f"{p}.glsl") for p in ("waves", "voronoi", "fbm")]
    cfg = LoaderConfig(
        source=SourceSpec(shaders=shaders, size=(size, size)), batch_size=batch, image_size=size, device=str(device)
    )
    stream = PatternStream(
        StreamConfig(shaders=shaders, batch_size=batch, size=(size, size)),
        cuda_index=device.index if device.type == "cuda" else None,
    )
    reference = PatternStream(
        StreamConfig(shaders=shaders, batch_size=batch, size=(size, size)), programs=stream.programs
    )  # its own renderer on the same GL device
    batches = stream_batches(cfg, stream)
    ok = True
    start = time.perf_counter()
    for _ in range(3):
        images, labels = next(batches)
        want_images, want_labels = next(reference)
        ok &= images.device.type == device.type
        ok &= bool(np.array_equal(images.cpu().numpy(), want_images)) and bool(
            np.array_equal(labels.cpu().numpy(), want_labels)
        )
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    emit(
        "check_interop",
        "stream_img_per_s",
        3 * batch / (time.perf_counter() - start),
        "img/s",
        name,
        size=size,
        stream_device=str(device),
    )
    emit("check_interop", "stream_equal", int(ok), "bool", name, size=size, stream_device=str(device))
    batches.close()
    stream.close()
    reference.close()
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--programs", default="16,1000", help="program counts to compare, comma-separated")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--device", default="cuda:0" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    ok = all([compare(int(n), args.size, args.images, device, name) for n in args.programs.split(",")])
    ok &= check_stream(args.size, min(args.images, 64), device, name)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

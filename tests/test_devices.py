"""Which device: the EGL <-> CUDA pairing, --gl-device over GLCONTEXT_DEVICE_INDEX, the CPU-render
note, and renderers that give their GL memory back (real EGL contexts on this machine)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from synpat.core.devices import (
    cpu_render_note,
    cuda_device_of_egl,
    egl_cuda_devices,
    egl_device_for_cuda,
    gl_device_index,
    renders_on_cpu,
)
from synpat.core.errors import UserError


def test_the_egl_device_is_the_one_whose_cuda_device_matches():
    devices = (None, 1, 0)  # llvmpipe first, then two GPUs enumerated in the other order
    assert egl_device_for_cuda(0, devices) == 2
    assert egl_device_for_cuda(1, devices) == 1
    assert egl_device_for_cuda(2, devices) is None
    assert gl_device_index(None, 0, env={}, devices=devices) == 2
    assert gl_device_index(None, 1, env={}, devices=devices) == 1


def test_gl_device_beats_the_environment_which_beats_the_pairing():
    devices = (0, 1)
    assert gl_device_index(1, 0, env={"GLCONTEXT_DEVICE_INDEX": "0"}, devices=devices) == 1
    assert gl_device_index(None, 0, env={"GLCONTEXT_DEVICE_INDEX": "1"}, devices=devices) == 1
    assert gl_device_index(None, None, env={}, devices=devices) is None
    with pytest.raises(UserError, match="GLCONTEXT_DEVICE_INDEX"):
        gl_device_index(None, 0, env={"GLCONTEXT_DEVICE_INDEX": "x"}, devices=devices)
    with pytest.raises(UserError, match="--gl-device"):
        gl_device_index(-1, 0, env={}, devices=devices)


def test_this_machines_egl_devices_are_listed():
    devices = egl_cuda_devices()
    assert len(devices) >= 1 and all(d is None or d >= 0 for d in devices)


def test_a_gpu_machine_rendering_on_llvmpipe_says_so_in_one_line():
    note = cpu_render_note("synpat-gen", "llvmpipe (LLVM 15.0.6, 256 bits)", 0, gpu_present=True)
    assert note is not None and "\n" not in note and "rendering on the CPU" in note and "EGL_CUDA_DEVICE_NV = 0" in note
    assert cpu_render_note("synpat-gen", "llvmpipe (LLVM 15.0.6, 256 bits)", 0, gpu_present=False) is None
    assert cpu_render_note("synpat-gen", "NVIDIA H200/PCIe/SSE2", 0, gpu_present=True) is None
    assert renders_on_cpu("softpipe") and not renders_on_cpu("NVIDIA H100 80GB HBM3/PCIe/SSE2")


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )


def test_an_explicit_device_is_not_overridden_by_glcontext_device_index():
    # glcontext alone would open device 7, which does not exist here, and fail.
    code = (
        "from synpat.gen.renderer import Renderer; import os; r = Renderer(16, device=0); "
        "print(r.device_name, os.environ['GLCONTEXT_DEVICE_INDEX'])"
    )
    result = run_python(code, GLCONTEXT_DEVICE_INDEX="7")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == "7"  # the user's variable is restored


def test_released_renderers_give_their_gl_memory_back():
    code = """
import gc
from synpat.gen.programs import bundled_shaders_dir, find_programs
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Sampler
programs = [p for p in find_programs([bundled_shaders_dir()]) if p.name == "waves"]
samples = Sampler(len(programs), 0).range(0, 64)
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20
def cycle(release):
    before = rss()
    for _ in range(8):
        r = Renderer(256, max_batch=64)
        r.render_many(programs, samples)
        if release:
            r.release()
        del r
        gc.collect()
    return rss() - before
cycle(True)   # warm up: the context, the shader compiler
print(cycle(True), cycle(False))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    released, dropped = map(float, result.stdout.split())
    # 8 renderers of 16 MiB output buffers each: dropped ones keep them all, released ones at most the
    # the one or two the allocator caches
    assert released < 40, (released, dropped)
    assert dropped > released + 60, (released, dropped)


@pytest.mark.gpu
def test_interop_batch_equals_readback_and_the_stream_pairs_its_gl_device():
    import numpy as np
    import torch
    from synpat.core.devices import renders_on_cpu
    from synpat.gen.gl_cuda import CudaRenderer
    from synpat.gen.programs import bundled_shaders_dir, find_programs
    from synpat.gen.renderer import Renderer
    from synpat.gen.sampler import Sampler

    device = torch.device("cuda", 0)
    gl = gl_device_index(None, 0)
    assert gl is not None, f"no EGL device has EGL_CUDA_DEVICE_NV = 0: {egl_cuda_devices()}"
    programs = find_programs([bundled_shaders_dir()])
    samples = Sampler(len(programs), seed=5).range(0, 64)
    with Renderer(64, device=gl, max_batch=32) as renderer:
        assert not renders_on_cpu(renderer.device_name), renderer.device_name
        host = renderer.render_many(programs, samples)
        with CudaRenderer(renderer, device) as cuda:
            images = cuda.render_many(programs, samples)
        assert images.device == device
        assert np.array_equal(images.cpu().numpy(), host)


def test_the_cuda_device_of_an_egl_device():
    devices = (None, 1, 0)  # llvmpipe first, then two GPUs in EGL's order
    assert [cuda_device_of_egl(i, devices) for i in (None, 0, 1, 2, 3)] == [None, None, 1, 0, None]


def test_the_default_egl_device_is_glcontexts_index():
    from synpat.core.devices import default_egl_device

    assert default_egl_device({}) == 0
    assert default_egl_device({"GLCONTEXT_DEVICE_INDEX": "2"}) == 2
    for bad in ("two", "-1"):
        with pytest.raises(UserError, match="GLCONTEXT_DEVICE_INDEX"):
            default_egl_device({"GLCONTEXT_DEVICE_INDEX": bad})

"""Rendered batches straight into torch CUDA tensors through CUDA-GL interop, no host copy.

The renderer's output SSBO is registered with CUDA once (cudaGraphicsGLRegisterBuffer); after
each rendered chunk it is mapped, copied device-to-device into a CUDA tensor on a side stream, and
unmapped; the caller's stream waits on an event. Mapping orders the copy after the GL work issued before it. The GL context
must live on the same GPU as the CUDA device: synpat.core.devices pairs them (EGL_CUDA_DEVICE_NV).

Uses cuda-python's runtime bindings (``cuda.bindings``, a dependency of the CUDA builds of torch).
Torch is imported when used, not with this module: synpat-gen (no torch) chooses its GPU JPEG path
here, and the stream's loaders (synpat.train.loaders) use it too; this module is the one owner.
"""

from __future__ import annotations

import numpy as np
from synpat.core.devices import cpu_render_note, warn

from .programs import Program
from .redraw import Redraws
from .renderer import Renderer
from .sampler import Samples
from .sound_renderer import SoundRenderer


def interop_available() -> bool:
    """True when torch sees a CUDA device and cuda-python's runtime bindings import."""
    import torch

    if not torch.cuda.is_available():
        return False
    try:
        from cuda.bindings import runtime  # noqa: F401
    except ImportError:
        return False
    return True


def _ok(result):
    from cuda.bindings import runtime as rt

    err, *values = result if isinstance(result, tuple) else (result,)
    if err != rt.cudaError_t.cudaSuccess:
        raise RuntimeError(f"CUDA-GL interop: {rt.cudaGetErrorName(err)[1].decode()}")
    return values[0] if len(values) == 1 else values


def copy_mapped(resource, stream, dst_ptr: int, nbytes: int) -> None:
    """Map the registered GL buffer ``resource`` on torch ``stream``, copy its first ``nbytes`` to
    device address ``dst_ptr`` on that stream, and unmap (GL work issued after the unmap waits for
    the copy; mapping orders the copy after the GL work issued before it)."""
    from cuda.bindings import runtime as rt

    _ok(rt.cudaGraphicsMapResources(1, resource, stream.cuda_stream))
    try:
        ptr, _ = _ok(rt.cudaGraphicsResourceGetMappedPointer(resource))
        _ok(rt.cudaMemcpyAsync(dst_ptr, ptr, nbytes, rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream.cuda_stream))
    finally:
        _ok(rt.cudaGraphicsUnmapResources(1, resource, stream.cuda_stream))


def register_buffer(renderer, device):
    """The renderer's output buffer registered with CUDA (read-only) on torch ``device``; unregister
    with unregister_buffer. Raises RuntimeError when CUDA refuses it."""
    import torch
    from cuda.bindings import runtime as rt

    renderer.make_current()  # the buffer's name means this context's buffer
    with torch.cuda.device(device):
        flags = rt.cudaGraphicsRegisterFlags.cudaGraphicsRegisterFlagsReadOnly
        return _ok(rt.cudaGraphicsGLRegisterBuffer(renderer.output_buffer.glo, flags))


def unregister_buffer(renderer, resource) -> None:
    from cuda.bindings import runtime as rt

    renderer.make_current()
    _ok(rt.cudaGraphicsUnregisterResource(resource))


class CudaRenderer:
    """Wraps a Renderer: ``render_many`` returns (N, H, W, 3) uint8 on ``device``.

    The copies out of the GL buffer and the reordering run on a side stream; the caller's current
    stream waits on an event recorded after them, so nothing blocks the host or the training stream.
    Use as a context manager (or call ``close``) to unregister the buffer."""

    def __init__(self, renderer: Renderer, device):
        import torch

        self.renderer, self.device = renderer, device
        self.copy_stream = torch.cuda.Stream(device)
        self.resource = None
        self.resource = register_buffer(renderer, device)

    def render_many(self, programs: list[Program], samples: Samples, redraws: Redraws | None = None):
        """-> images (N, H, W, 3) uint8 torch tensor on the CUDA device, in sample order, ready for the
        caller's current stream (ordered by an event, not a host synchronisation). With ``redraws``,
        one-colour samples are drawn again on the GL side first (synpat.gen.redraw)."""
        return self.render_varied(programs, samples, redraws)[0]

    def render_varied(self, programs: list[Program], samples: Samples, redraws: Redraws | None = None):
        """As render_many -> (images (N, H, W, 3) uint8 on the CUDA device, the Samples rendered), as
        Renderer.render_varied."""
        import torch

        r = self.renderer
        image_bytes = r.width * r.height * 4
        consumer = torch.cuda.current_stream(self.device)
        side = self.copy_stream
        with torch.cuda.stream(side):
            rgba = torch.empty((len(samples), r.height, r.width, 4), dtype=torch.uint8, device=self.device)

            def copy(first: int, n: int) -> None:
                copy_mapped(self.resource, side, rgba[first].data_ptr(), n * image_bytes)

            order, rendered = r.render_in_program_order(programs, samples, copy, redraws)
            rows = torch.from_numpy(np.ascontiguousarray(order)).pin_memory().to(self.device, non_blocking=True)
            images = torch.empty((len(samples), r.height, r.width, 3), dtype=torch.uint8, device=self.device)
            images[rows] = rgba[..., :3]
        done = torch.cuda.Event()
        done.record(side)
        consumer.wait_event(done)
        images.record_stream(consumer)  # allocated on the side stream, used on the consumer's
        return images, rendered

    def close(self) -> None:
        """Unregister the GL buffer from CUDA (once)."""
        if self.resource is not None:
            self.copy_stream.synchronize()
            unregister_buffer(self.renderer, self.resource)
            self.resource = None

    def __enter__(self) -> CudaRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class CudaSoundRenderer:
    """Wraps a SoundRenderer (synpat.gen.sound_renderer): ``render_measured`` returns clips as a
    (N, C, S) float32 CUDA tensor in [-1, 1], copied out of the GL buffer on a side stream as
    CudaRenderer does for images. Use as a context manager (or call ``close``)."""

    def __init__(self, renderer, device):
        import torch

        self.renderer, self.device = renderer, device
        self.copy_stream = torch.cuda.Stream(device)
        self.resource = None
        self.resource = register_buffer(renderer, device)

    def render_measured(self, programs: list[Program], samples: Samples, redraws: Redraws | None = None):
        """-> (waves (N, C, S) float32 on the CUDA device, NaN -> 0 and clamped to [-1, 1], in sample order,
        ready for the caller's current stream; levels (N, 3) and the Samples rendered, as
        SoundRenderer.render_measured)."""
        import torch

        r = self.renderer
        clip_bytes = r.channels * r.length * 4
        consumer = torch.cuda.current_stream(self.device)
        side = self.copy_stream
        with torch.cuda.stream(side):
            raw = torch.empty((len(samples), r.channels, r.length), dtype=torch.float32, device=self.device)
            order, levels, rendered = r.render_in_program_order(
                programs,
                samples,
                lambda first, n: copy_mapped(self.resource, side, raw[first].data_ptr(), n * clip_bytes),
                redraws,
            )
            rows = torch.from_numpy(np.ascontiguousarray(order)).pin_memory().to(self.device, non_blocking=True)
            waves = torch.empty_like(raw)
            waves[rows] = torch.nan_to_num(raw, nan=0.0, posinf=1.0, neginf=-1.0).clamp_(-1.0, 1.0)
        done = torch.cuda.Event()
        done.record(side)
        consumer.wait_event(done)
        waves.record_stream(consumer)
        return waves, levels, rendered

    def close(self) -> None:
        if self.resource is not None:
            self.copy_stream.synchronize()
            unregister_buffer(self.renderer, self.resource)
            self.resource = None

    def __enter__(self) -> CudaSoundRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_interop(renderer, device, tool: str) -> CudaRenderer | CudaSoundRenderer | None:
    """A CudaRenderer over ``renderer`` (a CudaSoundRenderer over a SoundRenderer) into torch CUDA
    ``device``, or None (read back through the host) with one line saying why: no interop bindings,
    an EGL device that is not this CUDA device's GPU (llvmpipe), or a failed registration."""
    if not interop_available():
        warn(f"{tool} on {device}: no CUDA-GL interop (cuda-python missing); reading images back through the host")
        return None
    note = cpu_render_note(tool, renderer.device_name, device.index, gpu_present=True)
    if note:
        warn(f"{note}; reading images back through the host")
        return None
    try:
        return (CudaSoundRenderer if isinstance(renderer, SoundRenderer) else CudaRenderer)(renderer, device)
    except RuntimeError as err:
        warn(f"{tool} on {device}: {err} (EGL device {renderer.device}); reading images back through the host")
        return None

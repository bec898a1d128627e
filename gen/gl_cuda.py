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


class CudaRenderer:
    """Wraps a Renderer: ``render_many`` returns (N, H, W, 3) uint8 on ``device``.

    The copies out of the GL buffer and the reordering run on a side stream; the caller's current
    stream waits on an event recorded after them, so nothing blocks the host or the training stream.
    Use as a context manager (or call ``close``) to unregister the buffer."""

    def __init__(self, renderer: Renderer, device):
        import torch
        from cuda.bindings import runtime as rt
        self.renderer, self.device = renderer, device
        self.copy_stream = torch.cuda.Stream(device)
        self.resource = None
        renderer.make_current()   # the buffer's name means this context's buffer
        with torch.cuda.device(device):
            flags = rt.cudaGraphicsRegisterFlags.cudaGraphicsRegisterFlagsReadOnly
            self.resource = _ok(rt.cudaGraphicsGLRegisterBuffer(renderer.output_buffer.glo, flags))

    def render_many(self, programs: list[Program], samples: Samples, redraws: Redraws | None = None):
        """-> images (N, H, W, 3) uint8 torch tensor on the CUDA device, in sample order, ready for the
        caller's current stream (ordered by an event, not a host synchronisation). With ``redraws``,
        one-colour samples are drawn again on the GL side first (synpat.gen.redraw)."""
        return self.render_varied(programs, samples, redraws)[0]

    def render_varied(self, programs: list[Program], samples: Samples, redraws: Redraws | None = None):
        """As render_many -> (images (N, H, W, 3) uint8 on the CUDA device, the Samples rendered), as
        Renderer.render_varied."""
        import torch
        from cuda.bindings import runtime as rt
        r = self.renderer
        image_bytes = r.width * r.height * 4
        consumer = torch.cuda.current_stream(self.device)
        side = self.copy_stream
        with torch.cuda.stream(side):
            rgba = torch.empty((len(samples), r.height, r.width, 4), dtype=torch.uint8, device=self.device)

            def copy(first: int, n: int) -> None:
                _ok(rt.cudaGraphicsMapResources(1, self.resource, side.cuda_stream))
                try:
                    ptr, _ = _ok(rt.cudaGraphicsResourceGetMappedPointer(self.resource))
                    _ok(rt.cudaMemcpyAsync(rgba[first].data_ptr(), ptr, n * image_bytes,
                                           rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice, side.cuda_stream))
                finally:   # GL work issued after the unmap waits for the copy before it
                    _ok(rt.cudaGraphicsUnmapResources(1, self.resource, side.cuda_stream))

            order, rendered = r.render_in_program_order(programs, samples, copy, redraws)
            rows = torch.from_numpy(np.ascontiguousarray(order)).pin_memory().to(self.device, non_blocking=True)
            images = torch.empty((len(samples), r.height, r.width, 3), dtype=torch.uint8, device=self.device)
            images[rows] = rgba[..., :3]
        done = torch.cuda.Event()
        done.record(side)
        consumer.wait_event(done)
        images.record_stream(consumer)   # allocated on the side stream, used on the consumer's
        return images, rendered

    def close(self) -> None:
        """Unregister the GL buffer from CUDA (once)."""
        from cuda.bindings import runtime as rt
        if self.resource is not None:
            self.copy_stream.synchronize()
            self.renderer.make_current()
            _ok(rt.cudaGraphicsUnregisterResource(self.resource))
            self.resource = None

    def __enter__(self) -> "CudaRenderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_interop(renderer: Renderer, device, tool: str) -> CudaRenderer | None:
    """A CudaRenderer over ``renderer`` into torch CUDA ``device``, or None (read back through the
    host) with one line saying why: no interop bindings, an EGL device that is not this CUDA
    device's GPU (llvmpipe), or a failed registration."""
    if not interop_available():
        warn(f"{tool} on {device}: no CUDA-GL interop (cuda-python missing); reading images back through the host")
        return None
    note = cpu_render_note(tool, renderer.device_name, device.index, gpu_present=True)
    if note:
        warn(f"{note}; reading images back through the host")
        return None
    try:
        return CudaRenderer(renderer, device)
    except RuntimeError as err:
        warn(f"{tool} on {device}: {err} (EGL device {renderer.device}); reading images back through the host")
        return None

"""Rendered batches straight into torch CUDA tensors through CUDA-GL interop, no host copy.

The renderer's output SSBO is registered with CUDA once (cudaGraphicsGLRegisterBuffer); after
each rendered chunk it is mapped, copied device-to-device into a CUDA tensor on torch's current
stream, and unmapped. Mapping orders the copy after the GL work issued before it. The GL context
must live on the same GPU as the CUDA device (synpat uses EGL device = local rank).

Uses cuda-python's runtime bindings (``cuda.bindings``, a dependency of the CUDA builds of torch).
"""

from __future__ import annotations

import numpy as np
import torch

from synpat.gen.programs import Program
from synpat.gen.renderer import Renderer
from synpat.gen.sampler import Samples


def interop_available() -> bool:
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
    """Wraps a Renderer: ``render_many`` returns (N, H, W, 3) uint8 on ``device``."""

    def __init__(self, renderer: Renderer, device: torch.device):
        from cuda.bindings import runtime as rt
        self.renderer, self.device = renderer, device
        with torch.cuda.device(device):
            flags = rt.cudaGraphicsRegisterFlags.cudaGraphicsRegisterFlagsReadOnly
            self.resource = _ok(rt.cudaGraphicsGLRegisterBuffer(renderer.output_buffer.glo, flags))

    def render_many(self, programs: list[Program], samples: Samples) -> torch.Tensor:
        """-> images (N, H, W, 3) uint8 on the CUDA device, in sample order."""
        from cuda.bindings import runtime as rt
        r = self.renderer
        image_bytes = r.width * r.height * 4
        rgba = torch.empty((len(samples), r.height, r.width, 4), dtype=torch.uint8, device=self.device)
        stream = torch.cuda.current_stream(self.device).cuda_stream

        def copy(first: int, n: int) -> None:
            _ok(rt.cudaGraphicsMapResources(1, self.resource, stream))
            try:
                ptr, _ = _ok(rt.cudaGraphicsResourceGetMappedPointer(self.resource))
                _ok(rt.cudaMemcpyAsync(rgba[first].data_ptr(), ptr, n * image_bytes,
                                       rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice, stream))
            finally:
                _ok(rt.cudaGraphicsUnmapResources(1, self.resource, stream))

        order = r.render_in_program_order(programs, samples, copy)
        images = torch.empty((len(samples), r.height, r.width, 3), dtype=torch.uint8, device=self.device)
        images[torch.from_numpy(np.ascontiguousarray(order)).to(self.device)] = rgba[..., :3]
        return images

    def close(self) -> None:
        from cuda.bindings import runtime as rt
        _ok(rt.cudaGraphicsUnregisterResource(self.resource))

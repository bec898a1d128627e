"""CUDA-GL interop for the training side: the stream's loaders import it from here. The one
owner is synpat.gen.gl_cuda (torch imported when used), which synpat-gen's GPU JPEG path shares."""

from synpat.gen.gl_cuda import CudaRenderer, interop_available

__all__ = ["CudaRenderer", "interop_available"]

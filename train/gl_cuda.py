"""CUDA-GL interop under its training-side name. The one owner is synpat.gen.gl_cuda (torch imported
when used), shared by the stream's loaders and synpat-gen's GPU JPEG path."""

from synpat.gen.gl_cuda import CudaRenderer, interop_available

__all__ = ["CudaRenderer", "interop_available"]

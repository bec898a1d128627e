"""synpat-gen's JPEG encoders: Pillow in the encode workers (``cpu``), or torchvision's
``encode_jpeg`` on the rank's CUDA device (``gpu``: nvJPEG, fed from the rendered CUDA tensor
through CUDA-GL interop when the renderer is on that GPU, else uploaded from the host).

Torch is imported only when the torch encoder is chosen (generation runs without it). The encoder's
name goes into the manifest's settings: its bytes differ from the other encoders' (torchvision's
nvJPEG path writes 4:4:4 chroma where Pillow writes 4:2:0, at the same quality), so a run is
resumed only with the encoder that began it. On the CPU, torchvision's encoder writes what Pillow
does (libjpeg-turbo, 4:2:0, the same tables); the tests run the torch path that way
(tests/gen_torch_cpu.py).
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass

import numpy as np
from synpat.core.devices import cuda_device_of_egl
from synpat.core.errors import UserError

JPEG_ENCODERS = ("cpu", "gpu", "auto")
PILLOW = "pillow"
NVJPEG = "nvjpeg"


@dataclass(frozen=True)
class Encoder:
    """How synpat-gen encodes its images. ``name`` is what the manifest records: "pillow" or "nvjpeg"
    (torchvision on CUDA); ``device`` is the torch device the
    torch encoder runs on (None: Pillow in the encode workers)."""

    name: str
    device: str | None = None


def _torch_missing() -> str | None:
    missing = [m for m in ("torch", "torchvision") if importlib.util.find_spec(m) is None]
    return f"needs {' and '.join(missing)} (pip install 'synpat[train]')" if missing else None


def choose_encoder(choice: str, fmt: str, egl_device: int | None, local_rank: int | None) -> Encoder:
    """--jpeg-encoder ``choice`` -> the Encoder for this rank.

    cpu: Pillow. gpu: torchvision on the CUDA device of the renderer's EGL device (else on this
    rank's, pixels uploaded); a one-line UserError when torch, torchvision or CUDA is missing. auto:
    the GPU when the renderer is on an NVIDIA EGL device and torch sees CUDA, else Pillow (torch is
    not imported when the renderer is not on a GPU). Formats other than jpg are always Pillow's.
    """
    if choice not in JPEG_ENCODERS:
        raise UserError(f"--jpeg-encoder: expected one of {', '.join(JPEG_ENCODERS)}, got '{choice}'")
    if fmt != "jpg":
        if choice == "gpu":
            raise UserError(f"--jpeg-encoder gpu: encodes jpg only, got --format {fmt}")
        return Encoder(PILLOW)
    paired = cuda_device_of_egl(egl_device)
    if choice == "cpu" or (choice == "auto" and (paired is None or _torch_missing())):
        return Encoder(PILLOW)
    if choice == "gpu" and _torch_missing():
        raise UserError(f"--jpeg-encoder gpu: {_torch_missing()}")
    import torch

    if not torch.cuda.is_available():
        if choice == "auto":
            return Encoder(PILLOW)
        raise UserError(
            f"--jpeg-encoder gpu: no CUDA device (torch {torch.__version__} sees none); use --jpeg-encoder cpu"
        )
    index = paired if paired is not None else (local_rank or 0) % torch.cuda.device_count()
    name, device = NVJPEG, f"cuda:{index}"
    try:  # starts the encoder before the clock does; a torchvision without nvJPEG fails here
        torch_encode_jpeg(np.zeros((1, 8, 8, 3), np.uint8), 95, device)
    except RuntimeError as e:
        if choice == "auto":
            return Encoder(PILLOW)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UserError(f"--jpeg-encoder gpu: torchvision cannot encode on {device} ({first})") from None
    return Encoder(name, device)


def torch_encode_jpeg(images, quality: int, device: str) -> list[bytes]:
    """images: (N, H, W, 3) uint8, a numpy array (uploaded) or a torch tensor on ``device`` -> N JPEG
    files, by torchvision.io.encode_jpeg: on CUDA one call for the batch (nvJPEG), one copy back."""
    import torch
    from torchvision.io import encode_jpeg

    if len(images) == 0:
        return []
    pixels = torch.as_tensor(images).to(device, non_blocking=True)
    planes = pixels.permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W): one copy for the batch
    if planes.is_cuda:
        # torchvision encodes on a stream of its own that does not wait for ours: finish the copy first.
        torch.cuda.current_stream(planes.device).synchronize()
    with warnings.catch_warnings():  # torchvision 0.29 marks its image codecs deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        files = encode_jpeg(list(planes.unbind(0)), quality=quality)
    ends = np.cumsum([f.numel() for f in files])
    data = torch.cat(files).cpu().numpy().tobytes()
    return [data[start:end] for start, end in zip(np.r_[0, ends[:-1]], ends)]

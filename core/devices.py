"""The one owner of "which device": the torch device of this process and the EGL (GL) device that
renders for it. Torch is imported only when a torch device is asked for (gen/ runs without it).

EGL and CUDA number their devices independently. The EGL device that renders for CUDA device c is
the one whose ``EGL_CUDA_DEVICE_NV`` attribute is c (as nvdiffrast pairs them), found through
libEGL's ``eglQueryDevicesEXT``/``eglQueryDeviceAttribEXT`` (ctypes), in the order glcontext indexes
them. ``--gl-device`` overrides the pairing; glcontext's own ``GLCONTEXT_DEVICE_INDEX`` is honoured
only when no ``--gl-device`` is given (gl_context passes the chosen index through it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import sys

from synpat.core.errors import UserError


def local_rank(env: dict | None = None) -> int | None:
    """LOCAL_RANK (torchrun, DeepSpeed) or SLURM_LOCALID, None when no launcher set one."""
    env = os.environ if env is None else env
    for name in ("LOCAL_RANK", "SLURM_LOCALID"):
        value = env.get(name, "")
        if value:
            try:
                return int(value)
            except ValueError:
                raise UserError(f"environment variable {name}: expected an integer, got '{value}'") from None
    return None


def torch_device(name: str | None = None, rank: int | None = None):
    """'auto'/None -> cuda:LOCAL_RANK (or `rank`) when CUDA is there, else cpu; 'cuda...' without CUDA
    is a UserError; anything else as torch names it."""
    import torch

    if name in (None, "", "auto"):
        if not torch.cuda.is_available():
            return torch.device("cpu")
        index = rank if rank is not None else local_rank() or 0
        return torch.device("cuda", index % torch.cuda.device_count())
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"device {name}: no CUDA device available on this machine")
    try:
        return torch.device(name)
    except RuntimeError:
        raise UserError(f"device {name!r}: expected auto, cpu, cuda or cuda:N") from None


EGL_CUDA_DEVICE_NV = 0x323A
EGL_EXTENSIONS = 0x3055
EGL_TRUE = 1
DEVICE_ENV = "GLCONTEXT_DEVICE_INDEX"  # glcontext reads it and lets it beat its device_index argument


@functools.lru_cache(maxsize=1)
def egl_cuda_devices() -> tuple[int | None, ...]:
    """Per EGL device, in eglQueryDevicesEXT order (glcontext's device_index): its CUDA device
    ordinal, or None for a device that is no CUDA GPU (Mesa's llvmpipe/software device). Empty when
    libEGL or its device extension is missing."""
    name = ctypes.util.find_library("EGL")
    if name is None:
        return ()
    try:
        egl = ctypes.CDLL(name)
    except OSError:
        return ()
    egl.eglGetProcAddress.restype = ctypes.c_void_p
    egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
    query_devices = egl.eglGetProcAddress(b"eglQueryDevicesEXT")
    query_attrib = egl.eglGetProcAddress(b"eglQueryDeviceAttribEXT")
    query_string = egl.eglGetProcAddress(b"eglQueryDeviceStringEXT")
    if not (query_devices and query_attrib and query_string):
        return ()
    query_devices = ctypes.CFUNCTYPE(
        ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int)
    )(query_devices)
    query_attrib = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_ssize_t))(
        query_attrib
    )
    query_string = ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int)(query_string)
    count = ctypes.c_int(0)
    if query_devices(0, None, ctypes.byref(count)) != EGL_TRUE or count.value <= 0:
        return ()
    devices = (ctypes.c_void_p * count.value)()
    if query_devices(count.value, devices, ctypes.byref(count)) != EGL_TRUE:
        return ()
    found = []
    for device in devices[: count.value]:
        extensions = (query_string(device, EGL_EXTENSIONS) or b"").decode(errors="replace").split()
        value = ctypes.c_ssize_t(-1)
        if (
            "EGL_NV_device_cuda" in extensions
            and query_attrib(device, EGL_CUDA_DEVICE_NV, ctypes.byref(value)) == EGL_TRUE
        ):
            found.append(int(value.value))
        else:
            found.append(None)
    return tuple(found)


def egl_device_for_cuda(cuda_index: int, devices: tuple[int | None, ...] | None = None) -> int | None:
    """The EGL device index whose EGL_CUDA_DEVICE_NV is ``cuda_index``; None when no EGL device is that GPU."""
    devices = egl_cuda_devices() if devices is None else devices
    return next((i for i, c in enumerate(devices) if c == cuda_index), None)


def cuda_device_of_egl(egl_index: int | None, devices: tuple[int | None, ...] | None = None) -> int | None:
    """The CUDA device ordinal of EGL device ``egl_index`` (its EGL_CUDA_DEVICE_NV); None for EGL's
    default device (None), a device that is no CUDA GPU (llvmpipe), or an index past the list."""
    devices = egl_cuda_devices() if devices is None else devices
    if egl_index is None or not 0 <= egl_index < len(devices):
        return None
    return devices[egl_index]


def gl_device_index(
    explicit: int | None, cuda_index: int | None, env: dict | None = None, devices: tuple[int | None, ...] | None = None
) -> int | None:
    """The EGL device to render on: ``explicit`` (--gl-device) wins, then GLCONTEXT_DEVICE_INDEX,
    then the EGL device paired with CUDA device ``cuda_index`` (this rank's GPU); None (EGL's
    default device) when there is no pairing, as on a machine without an NVIDIA EGL device."""
    env = os.environ if env is None else env
    if explicit is not None:
        if explicit < 0:
            raise UserError(f"--gl-device: expected an EGL device index >= 0, got {explicit}")
        return explicit
    if env.get(DEVICE_ENV, ""):
        return default_egl_device(env)
    if cuda_index is None:
        return None
    return egl_device_for_cuda(cuda_index, devices)


def default_egl_device(env: dict | None = None) -> int:
    """The EGL device glcontext opens when given none: GLCONTEXT_DEVICE_INDEX, else 0. A renderer
    asked for EGL's default device (None) keys its context by this index, so None and the index
    it stands for share one context."""
    env = os.environ if env is None else env
    value = env.get(DEVICE_ENV, "")
    if not value:
        return 0
    try:
        index = int(value)
    except ValueError:
        raise UserError(f"environment variable {DEVICE_ENV}: expected an integer, got '{value}'") from None
    if index < 0:
        raise UserError(f"environment variable {DEVICE_ENV}: expected an EGL device index >= 0, got {index}")
    return index


def renders_on_cpu(gl_renderer: str) -> bool:
    """True for a GL_RENDERER string of a software rasteriser (Mesa llvmpipe/softpipe/lavapipe)."""
    return any(word in gl_renderer.lower() for word in ("llvmpipe", "softpipe", "lavapipe", "software"))


def gpu_present() -> bool:
    """True when the NVIDIA driver shows a GPU on this machine (no torch, no CUDA context)."""
    folder = "/proc/driver/nvidia/gpus"
    return os.path.exists("/dev/nvidiactl") or (os.path.isdir(folder) and bool(os.listdir(folder)))


def cpu_render_note(tool: str, gl_renderer: str, cuda_index: int | None, gpu_present: bool | None = None) -> str | None:
    """One line saying that ``tool`` renders on the CPU although this machine has an NVIDIA GPU (the
    EGL device is a software one, as in a container without the graphics driver capability); None
    when it renders on a GPU, or on a machine without one (where the CPU is the only choice)."""
    gpu = globals()["gpu_present"]() if gpu_present is None else gpu_present
    if not gpu or not renders_on_cpu(gl_renderer):
        return None
    paired = "" if cuda_index is None else f"; no EGL device has EGL_CUDA_DEVICE_NV = {cuda_index}"
    return (
        f"{tool}: rendering on the CPU ({gl_renderer}){paired}; for the GPU, give the container the NVIDIA "
        "graphics driver capability (NVIDIA_DRIVER_CAPABILITIES=graphics,compute,utility)"
    )


def warn(line: str | None) -> None:
    """Print a one-line note on stderr (nothing for None)."""
    if line:
        print(line, file=sys.stderr, flush=True)

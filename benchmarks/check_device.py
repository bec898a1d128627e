"""gpu_check.sh's first step: can this machine run the check? synpat's packages import, the Python
packages each step needs are there, torch sees the GPU, and an EGL device renders (the one paired
with cuda:0). Prints one JSON line of what it found and, for each problem, one line saying how to
fix it.

    python benchmarks/check_device.py            # the GPU run: CUDA and a GPU EGL device are required
    python benchmarks/check_device.py --dry-run  # the CPU dry run: they are reported, not required

Exit status: 2 when synpat itself cannot be imported (no step can run: gpu_check stops), 1 when a
package or device a step needs is missing (those steps will fail; the others still run), else 0.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys

SYNPAT = ("synpat.core", "synpat.gen", "synpat.train", "synpat.audio")
# module -> the gpu_check steps that need it (None: none needs it; reported only)
PACKAGES = {
    "torch": "all but bench_render",
    "moderngl": "all",
    "glcontext": "all",
    "numpy": "all",
    "PIL": "all",
    "torchvision": "bench_gen, gen_jpeg_determinism (nvJPEG)",
    "timm": "bench_loaders, pretrain",
    "webdataset": "bench_loaders, pretrain (--loader torch)",
    "deepspeed": "pretrain_deepspeed, bench_train",
    "safetensors": "pretrain (export)",
    "cuda.bindings": "interop, bench_loaders (CUDA-GL interop)",
    "triton": "torch.compile (pretrain_torch, bench_train)",
    "pytest": "pytest",
    "nvidia.dali": None,  # optional: without it the loaders' DALI figures are skipped
}
FIX_SYNPAT = (
    "synpat is not importable: `source .gl/device-setup.sh` first (it links pyproject.toml's package-dir "
    "mapping, synpat.gen -> gen/ ..., onto PYTHONPATH), or `pip install -e .` where a registry is reachable"
)
FIX_PACKAGES = (
    "carry them as wheels and install them onto PYTHONPATH before the run (the README's GPU section: "
    "'The first GPU run')"
)


HEAVY = ("torchvision", "timm", "deepspeed", "triton", "nvidia.dali")  # found, not imported (seconds each)


def try_import(name: str) -> str | None:
    """None when ``name`` imports (a HEAVY one: is found), else the reason in a few words."""
    try:
        if name in HEAVY:
            if importlib.util.find_spec(name) is None:
                return "not found"
        else:
            importlib.import_module(name)
    except Exception as e:  # ImportError, or a package that breaks at import (a wrong CUDA build)
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:160]
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="CUDA and a GPU EGL device are not required")
    args = ap.parse_args()
    broken = {m: why for m in SYNPAT if (why := try_import(m))}
    if broken:
        first = next(iter(broken))
        print(f"gpu_check: {first}: {broken[first]}; {FIX_SYNPAT}", file=sys.stderr, flush=True)
        print(
            json.dumps(
                {
                    "bench": "check_device",
                    "metric": "synpat_imports",
                    "value": 0,
                    "unit": "bool",
                    "device": "unknown",
                    "missing": sorted(broken),
                }
            ),
            flush=True,
        )
        return 2

    from synpat.core.devices import cpu_render_note, egl_cuda_devices, egl_device_for_cuda, gl_device_index

    found = {"packages_missing": {}, "problems": []}
    for module, steps in PACKAGES.items():
        why = try_import(module)
        if why is None:
            continue
        found["packages_missing"][module] = why
        if steps is not None:
            found["problems"].append(f"{module} is missing ({why}); steps that need it fail: {steps}")
    if found["packages_missing"].get("nvidia.dali"):
        print(
            "gpu_check: DALI is not installed: the loaders' DALI figures are skipped, the torch loader is used",
            file=sys.stderr,
        )

    cuda_index = None
    found["device"] = "cpu"
    if "torch" not in found["packages_missing"]:
        import torch

        found["torch"] = torch.__version__
        if torch.cuda.is_available():
            cuda_index = 0
            found["device"] = torch.cuda.get_device_name(0)
            found["cuda"] = torch.version.cuda
        elif not args.dry_run:
            found["problems"].append("torch sees no CUDA device (a CPU build of torch, or the driver is not mounted)")
    found["egl_devices"] = [("cpu" if c is None else f"cuda:{c}") for c in egl_cuda_devices()]
    gl = gl_device_index(None, cuda_index)
    found["gl_device"] = gl
    if cuda_index is not None and egl_device_for_cuda(cuda_index) is None:
        found["problems"].append(
            "no EGL device is cuda:0's GPU: rendering falls back to EGL's default device "
            "(point EGL at the NVIDIA driver: __EGL_VENDOR_LIBRARY_FILENAMES=.../10_nvidia.json)"
        )
    if "moderngl" not in found["packages_missing"]:
        from synpat.core.errors import UserError
        from synpat.gen.renderer import gl_context

        try:
            ctx = gl_context(gl)
            found["gl_renderer"] = ctx.info["GL_RENDERER"]
            found["gl_version"] = ctx.info["GL_VERSION"]
            note = cpu_render_note("gpu_check", found["gl_renderer"], cuda_index)
            if note and not args.dry_run:
                found["problems"].append(note)
        except UserError as e:
            found["problems"].append(str(e))
    for line in found["problems"]:
        print(f"gpu_check: {line}", file=sys.stderr)
    missing = [m for m in found["packages_missing"] if PACKAGES[m] is not None]
    if missing:
        print(f"gpu_check: missing packages {', '.join(missing)}: {FIX_PACKAGES}", file=sys.stderr)
    print(
        json.dumps(
            {"bench": "check_device", "metric": "problems", "value": len(found["problems"]), "unit": "count", **found}
        ),
        flush=True,
    )
    return 1 if found["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

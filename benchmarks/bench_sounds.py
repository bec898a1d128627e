"""Sound programs: clips per second rendered by synpat (render only, and into shards by synpat-gen)
against a vectorised numpy rendering of the same recipes, one clip at a time, as on-the-fly CPU
synthesisers (AudioPG's) make them.

    python benchmarks/bench_sounds.py [--durations 1,10.24] [--clips 64] [--numpy-clips 8]

The numpy recipes below are the bundled programs additive_harmonic, fm_bell, subtractive_saw and
noise_coloured (shaders/sounds/) written again in numpy, vectorised over the clip's samples and
partials; each line reports how far the numpy clips are from synpat's (max_abs_diff), so the two
sides compute the same thing. Prints one JSON line per result; the ratios compare paths measured
in this run. ``--device cuda`` measures clips rendered into CUDA memory through CUDA-GL interop.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from common import emit
from synpat.core.devices import gl_device_index
from synpat.gen.programs import find_programs
from synpat.gen.sampler import Sampler
from synpat.gen.sound_renderer import SoundRenderer

RECIPES = ("additive_harmonic", "fm_bell", "subtractive_saw", "noise_coloured")
RATE = 16000
TAU = 2 * np.pi


# -- the recipes in numpy (the GLSL's helpers: hsh, rnd, osc, white, smoothNoise) ------------------


def hsh(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.uint32).copy()
    x ^= x >> np.uint32(16)
    x *= np.uint32(0x7FEB352D)
    x ^= x >> np.uint32(15)
    x *= np.uint32(0x846CA68B)
    x ^= x >> np.uint32(16)
    return x


def rnd(s) -> np.ndarray:
    return (hsh(s) >> np.uint32(8)).astype(np.float64) / 16777216.0


def osc(cycles) -> np.ndarray:
    return np.sin(TAU * np.mod(cycles, 1.0))


def white(n, s) -> np.ndarray:
    return 2.0 * rnd(np.asarray(n).astype(np.int64).astype(np.uint32) ^ hsh(s)) - 1.0


def smooth_noise(x, s) -> np.ndarray:
    i = np.floor(x)
    f = x - i
    f = f * f * (3.0 - 2.0 * f)
    return white(i, s) * (1 - f) + white(i + 1, s) * f


def mix(a, b, t):
    return a + (b - a) * t


def u32(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).astype(np.uint32)


def additive_harmonic(time, t, seed, p):
    ln = mix(0.25, 1.5, p[1])
    slot = np.floor(t / ln)
    s = np.uint32(seed) + u32(slot) * np.uint32(7919)
    nt = t - slot * ln
    f0 = 55.0 * np.exp2(np.floor(rnd(s) * 48.0) / 12.0)
    gamma, decay = mix(0.6, 2.2, p[0]), mix(0.3, 3.0, p[2])
    k = np.arange(1, 41)[:, None]
    f = f0 * k
    x = np.where(f <= 0.45 * RATE, k**-gamma * np.exp(-nt * k / decay) * osc(f * nt + rnd(s + u32(k))), 0.0).sum(0)
    return x * np.minimum(nt / 0.005, 1.0) * 0.35  # the mono mixdown of (1 - w, 1 + w)


def fm_bell(time, t, seed, p):
    ln = mix(0.5, 2.5, p[3])
    slot = np.floor(t / ln)
    s = np.uint32(seed) + u32(slot) * np.uint32(97)
    nt = t - slot * ln
    fc = 200.0 * np.exp2(rnd(s) * 3.0)
    ratio = 1.0 + np.floor(rnd(s + np.uint32(1)) * 4.0) + mix(0.1, 0.9, p[0]) * rnd(s + np.uint32(2))
    e = np.exp(-nt / mix(0.3, 2.5, p[2])) * np.minimum(nt / 0.002, 1.0)
    index = mix(1.0, 8.0, p[1]) * e
    return 0.4 * e * np.sin(TAU * np.mod(fc * nt, 1.0) + index * osc(fc * ratio * nt))


def adsr(t, a, d, s, hold, r):
    return np.select(
        [t < 0, t < a, t < a + d, t < a + d + hold],
        [0.0, t / a, mix(1.0, s, (t - a) / d), s],
        s * np.exp(-(t - a - d - hold) / r),
    )


def subtractive_saw(time, t, seed, p):
    ln = mix(0.15, 1.0, p[3])
    slot = np.floor(t / ln)
    s = np.uint32(seed) + u32(slot) * np.uint32(7)
    nt = t - slot * ln
    f0 = 55.0 * np.exp2(np.floor(rnd(s) * 36.0) / 12.0)
    fc = mix(200.0, 3000.0, p[0]) * (1.0 + mix(0.0, 6.0, p[2]) * np.exp(-nt / 0.12))
    q = mix(0.7, 12.0, p[1] * p[1])
    k = np.arange(1, 65)[:, None]
    f = f0 * k
    r = f / fc
    re, im = 1.0 - r * r, r / q
    gain, phase = 1.0 / np.sqrt(re * re + im * im), -np.arctan2(im, re) / TAU
    x = np.where(f <= 0.45 * RATE, gain / k * osc(f * nt + phase), 0.0).sum(0)
    return 0.25 * x * adsr(nt, 0.005, 0.2, 0.6, ln * 0.5, 0.05) / np.sqrt(q)


def noise_coloured(time, t, seed, p, samp):
    alpha = 2.0 * p[0]
    left = right = norm = 0.0
    for j in range(12):
        w = 2.0 ** (j * alpha * 0.5)
        at = samp / 2.0**j
        lo = smooth_noise(at, np.uint32(seed) + np.uint32(j * 101))
        left = left + w * lo
        right = right + w * mix(lo, smooth_noise(at, np.uint32(seed) + np.uint32(j * 101 + 7)), p[3])
        norm += w * w
    swell = 1.0 - p[1] * (0.5 + 0.5 * smooth_noise(time * mix(0.2, 3.0, p[2]), np.uint32(seed) + np.uint32(3)))
    return 0.5 * swell * 0.5 * (left + right) / np.sqrt(norm)


def numpy_clip(name: str, start: float, seed: int, params: np.ndarray, length: int) -> np.ndarray:
    """One clip of recipe ``name`` -> (1, S) float32 in [-1, 1], the same time axis as synpat's."""
    samp = np.round(np.float32(start) * RATE) + np.arange(length)
    time = samp / RATE
    t = time - np.float32(start)
    p = params.astype(np.float64)
    x = noise_coloured(time, t, seed, p, samp) if name == "noise_coloured" else globals()[name](time, t, seed, p)
    return np.clip(x, -1.0, 1.0).astype(np.float32)[None]


# -- the measurements -------------------------------------------------------------------------


def synpat_rate(programs, duration: float, clips: int, batch: int, device: str) -> tuple[float, np.ndarray, str]:
    """clips/s of synpat rendering ``clips`` clips of each program (readback and clipping included, or
    into CUDA memory) -> (rate, the first program's clips, device name)."""
    gl = gl_device_index(None, 0) if device == "cuda" else None  # the EGL device of CUDA device 0
    renderer = SoundRenderer(RATE, duration, 1, backend="compute", device=gl, max_batch=batch)
    samples = Sampler(1, seed=3).range(0, clips)
    first = None
    cuda = None
    if device == "cuda":
        import torch
        from synpat.gen.gl_cuda import CudaSoundRenderer

        cuda = CudaSoundRenderer(renderer, torch.device("cuda", 0))
    for p in programs:  # compile and warm up outside the timing
        renderer.render(p, samples.take(np.arange(min(batch, clips))))
    start = time.perf_counter()
    for p in programs:
        if cuda is not None:
            waves = cuda.render_measured([p], samples)[0]
        else:
            waves = renderer.render(p, samples)
        first = waves if first is None else first
    if cuda is not None:
        import torch

        torch.cuda.synchronize()
        first = first.cpu().numpy()
    rate = clips * len(programs) / (time.perf_counter() - start)
    return rate, first, renderer.device_name


def numpy_rate(programs, duration: float, clips: int) -> tuple[float, list[np.ndarray]]:
    samples = Sampler(1, seed=3).range(0, clips)
    length = int(round(duration * RATE))
    first = []
    start = time.perf_counter()
    for p in programs:
        for i in range(clips):
            clip = numpy_clip(p.name, float(samples.time[i]), int(samples.seed[i]), samples.params[i], length)
            if p is programs[0]:
                first.append(clip)
    return clips * len(programs) / (time.perf_counter() - start), first


def shards_rate(paths, duration: float, clips: int, batch: int, workers: int) -> float:
    """clips/s of synpat-gen writing ``clips`` clips of each program into FLAC shards (checks excluded)."""
    from synpat.gen.generate import GenConfig, generate

    with tempfile.TemporaryDirectory() as tmp:
        summary = generate(
            GenConfig(
                shaders=paths,
                out=f"{tmp}/shards",
                count=clips * len(paths),
                duration=duration,
                sample_rate=RATE,
                shard_size=max(1, clips * len(paths) // 4),
                batch=batch,
                workers=workers,
            )
        )
    return summary["images"] / summary["seconds"]


def has_soundfile() -> bool:
    """Whether synpat-gen can write FLAC here (a GPU machine may lack soundfile: render figures only)."""
    try:
        import soundfile  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--durations", default="1,10.24", help="clip lengths in seconds")
    ap.add_argument("--clips", type=int, default=64, help="clips per program rendered by synpat")
    ap.add_argument("--numpy-clips", type=int, default=8, help="clips per program rendered by numpy")
    ap.add_argument("--batch", type=int, default=64, help="clips per dispatch at most")
    ap.add_argument("--workers", type=int, default=2, help="synpat-gen's FLAC encoding threads")
    ap.add_argument(
        "--device",
        choices=("host", "cuda"),
        default="host",
        help="host: read clips back to numpy; cuda: into CUDA memory through interop (GPU machines)",
    )
    ap.add_argument("--no-shards", action="store_true", help="skip the synpat-gen measurement")
    args = ap.parse_args()
    programs = [p for p in find_programs(["bundled:sounds"]) if p.name in RECIPES]
    names = ",".join(p.name for p in programs)
    for duration in map(float, args.durations.split(",")):
        rate, clips, device = synpat_rate(programs, duration, args.clips, args.batch, args.device)
        emit(
            "sounds",
            "clips_per_s",
            rate,
            "clips/s",
            device,
            path=f"synpat_render_{args.device}",
            duration=duration,
            sample_rate=RATE,
            programs=names,
            batch=args.batch,
        )
        if args.device == "cuda":
            continue
        base, numpy_clips = numpy_rate(programs, duration, args.numpy_clips)
        diff = float(np.abs(np.stack(numpy_clips) - clips[: len(numpy_clips)]).max())
        emit(
            "sounds",
            "clips_per_s",
            base,
            "clips/s",
            "cpu numpy",
            path="numpy_one_clip_at_a_time",
            duration=duration,
            sample_rate=RATE,
            programs=names,
            max_abs_diff=round(diff, 5),
        )
        emit("sounds", "render_over_numpy", rate / base, "x", device, duration=duration, programs=names)
        if not args.no_shards and not has_soundfile():
            print("bench_sounds: soundfile is not installed: the FLAC shard figures are skipped", flush=True)
            args.no_shards = True
        if not args.no_shards:
            shards = shards_rate([p.path for p in programs], duration, args.clips, args.batch, args.workers)
            emit(
                "sounds",
                "clips_per_s",
                shards,
                "clips/s",
                device,
                path="synpat_gen_flac_shards",
                duration=duration,
                sample_rate=RATE,
                programs=names,
                workers=args.workers,
            )
            emit("sounds", "shards_over_numpy", shards / base, "x", device, duration=duration, programs=names)


if __name__ == "__main__":
    main()

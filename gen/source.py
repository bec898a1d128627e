"""The pattern source: one spec and one object that turn sample indices into rendered samples.

    with PatternSource(SourceSpec(shaders=["shaders/"], size=(64, 64), seed=3)) as source:
        samples, pixels, stats = source.render(0, 256)   # pixels (N, H, W, 3) uint8

A sample is a pure function of (spec, index): the accepted programs (class id = position), the
Sampler's draw for the index (program, iTime, iSeed, iParams; family mix and runs of ``group``),
the redraws of one-colour draws (silent clips for sound programs), then the statistic filters. synpat-gen writes the source's
batches for its shard range (gen/generate.py), the stream renders the source's batches for its
steps (gen/stream.py): the same spec gives the same samples and the same pixels in both.

The source owns every step of that: program acceptance (the checks and their cache, --strict,
--filter-programs), the Sampler, Redraws, the filters, the statistics (measured on the GPU while
a chunk is there) and the pixel path (read back to the host, or kept on the GPU through CUDA-GL
interop for a torch consumer on the renderer's GPU). Sound programs (a file defining mainSound:
synpat.gen.sound_renderer) render clips instead, with the spec's ``duration``, ``sample_rate`` and
``channels``: a Batch's pixels are then waves (N, C, S) float32 in [-1, 1] and its statistics
synpat.gen.sound_stats'. A source renders one kind; a spec naming both is one line (UserError).
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
from synpat.core.devices import cpu_render_note, cuda_device_of_egl, gl_device_index, warn
from synpat.core.errors import UserError
from synpat.core.settings import option

from .check_cache import accept_cached
from .checks import CheckSettings
from .filters import StatFilters, filter_programs
from .gl_stats import GLStats, render_measured
from .programs import Program, find_programs, run_kind
from .redraw import Redraws
from .renderer import BACKENDS, MAX_NAN, Renderer
from .sampler import TIME_RANGE, Sampler, Samples, check_mix, check_seed, default_group
from .sound_glsl import EXACT_SAMPLES
from .sound_renderer import CHANNELS, DURATION, SAMPLE_RATE, SoundRenderer
from .sound_stats import sound_stats

CHECK_SECONDS = 30.0


def parse_size(text: str) -> tuple[int, int]:
    """'224' or '320x240' -> (width, height)."""
    try:
        w, x, h = text.lower().partition("x")
        size = (int(w), int(h if x else w))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or WxH, got '{text}'") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got '{text}'")
    return size


def format_size(size: tuple[int, int]) -> str:
    """(320, 240) -> '320x240' (parse_size's input)."""
    return f"{size[0]}x{size[1]}"


def parse_range(text: str) -> tuple[float, float]:
    """'0.1,10' -> (0.1, 10.0)."""
    try:
        lo, hi = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX, got '{text}'") from None
    return lo, hi


def parse_mix(text: str) -> dict[str, float]:
    """'dead_leaves=2,statistical=1' -> {'dead_leaves': 2.0, 'statistical': 1.0}; a family named twice is refused."""
    mix = {}
    for part in text.split(","):
        name, eq, weight = part.partition("=")
        name = name.strip()
        try:
            value = float(weight)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected FAMILY=WEIGHT,..., got '{part}'") from None
        if not eq or not name:
            raise argparse.ArgumentTypeError(f"expected FAMILY=WEIGHT,..., got '{part}'")
        if name in mix:
            raise argparse.ArgumentTypeError(f"family '{name}' is named twice in '{text}'; name each once")
        mix[name] = value
    return mix


@dataclass
class SourceSpec:
    """Every setting that decides which samples a source renders and how they look (the flags of
    synpat-gen and of the stream have these names)."""

    shaders: list[str] = option(
        [],
        "folders (searched recursively for *.glsl, *.frag), files, or procedural:N[@SEED] (a generated set, "
        "seeded by --seed); default: the bundled programs",
        nargs="+",
        metavar="PATH",
    )
    size: tuple[int, int] = option((224, 224), "N or WxH pixels", type=parse_size, shown=format_size)
    seed: int = option(0, "seed of the sampler (and of procedural program sets)", type=int)
    time_range: tuple[float, float] = option(TIME_RANGE, "iTime range MIN,MAX", type=parse_range)
    backend: str = option(
        "auto", "how programs render: a compute shader, a fragment shader, or auto (per program)", choices=BACKENDS
    )
    gl_device: int | None = option(None, "EGL device index (default: LOCAL_RANK when launched)", type=int)
    group: int | None = option(
        None,
        "consecutive samples of one program (a run); default 1 up to 64 programs, 16 up to 1024, 64 above",
        type=int,
    )
    strict: bool = option(False, "a program that is rejected stops the run")
    check_seconds: float = option(
        CHECK_SECONDS, "reject a program that cannot render 3 of its 8 probe images in this time", type=float
    )
    max_nan: float = option(
        MAX_NAN,
        "reject a program when more than this fraction of its probe images' channel "
        "values is NaN (a NaN channel renders as 0 and +-Inf clamps, as on a GPU)",
        type=float,
    )
    # statistics and filters (synpat.gen.stats: TV, entropies, Canny edge density)
    stats: bool = option(False, "store each image's statistics in its json")
    max_tv: float | None = option(None, "drop images whose total variation is above this", type=float)
    min_std: float | None = option(
        None, "drop images whose per-channel standard deviation (mean of R, G, B; 0..1) is below this", type=float
    )
    max_edge: float | None = option(None, "drop images whose Canny edge density is above this", type=float)
    filter_programs: bool = option(
        False, "apply the filters to each program's 8 probe images instead: drop a program when more than half fail"
    )
    mix: dict[str, float] | None = option(
        None,
        "share of each program family ('// family:' line) in the samples; families not named get none",
        type=parse_mix,
        metavar="FAMILY=W,...",
    )
    # sound programs (a program kind that renders clips, not images)
    duration: float = option(DURATION, "seconds of a sound program's clip", type=float)
    sample_rate: int = option(SAMPLE_RATE, "samples per second of a sound program's clip", type=int)
    channels: int = option(
        CHANNELS,
        "channels of a sound program's clip: 1 the mono mixdown of its (left, right), 2 stereo",
        type=int,
        choices=(1, 2),
    )

    def filters(self) -> StatFilters:
        return StatFilters(self.max_tv, self.min_std, self.max_edge)

    @property
    def drops_samples(self) -> bool:
        """The filters drop samples (with --filter-programs they drop programs instead)."""
        return self.filters().active and not self.filter_programs

    @property
    def measures(self) -> bool:
        """Each sample's statistics are measured (stored, or for the filters)."""
        return self.stats or self.drops_samples

    def validate(self) -> None:
        """UserError, naming the flag, for the first setting out of its range."""
        filters = self.filters()  # its values are checked as it is made
        if len(self.size) != 2 or min(self.size) < 1:
            raise UserError(f"--size: expected positive sizes, got {self.size}")
        if self.backend not in BACKENDS:
            raise UserError(f"--backend: expected one of {', '.join(BACKENDS)}, got '{self.backend}'")
        if not (math.isfinite(self.check_seconds) and self.check_seconds > 0):
            raise UserError(f"--check-seconds: expected a positive number of seconds, got {self.check_seconds}")
        if not 0 <= self.max_nan <= 1:
            raise UserError(f"--max-nan: expected a fraction in 0..1, got {self.max_nan}")
        if not (0 <= self.time_range[0] < self.time_range[1] and all(map(math.isfinite, self.time_range))):
            raise UserError(
                f"--time-range: expected finite 0 <= MIN < MAX, got {self.time_range[0]:g},{self.time_range[1]:g}"
            )
        if self.group is not None and self.group < 1:
            raise UserError(f"--group: expected a positive number, got {self.group}")
        if self.filter_programs and not filters.active:
            raise UserError("--filter-programs: give at least one of --max-tv, --min-std, --max-edge")
        check_seed(self.seed, "--seed")  # the sampler hashes the seed's 64 bits: 2**64 would alias 0
        if self.mix is not None:
            check_mix(self.mix)
        if not (math.isfinite(self.duration) and self.duration > 0) or self.sample_rate < 1:
            raise UserError(
                f"--duration, --sample-rate: expected positive numbers, got {self.duration}, {self.sample_rate}"
            )
        if self.channels not in (1, 2):
            raise UserError(f"--channels: expected 1 (mono mixdown) or 2 (stereo), got {self.channels}")

    def validate_sound(self) -> None:
        """UserError for the image-only settings, in a source of sound programs, and for clips that
        reach past the time float32 holds to the sample (EXACT_SAMPLES)."""
        if self.filters().active or self.filter_programs:
            raise UserError(
                "--max-tv, --min-std, --max-edge and --filter-programs filter images; "
                "these are sound programs (filter sound shards with synpat-stats' statistics)"
            )
        length = round(self.duration * self.sample_rate)  # a --duration too long alone: the renderer's line
        if length <= EXACT_SAMPLES < round(self.time_range[1] * self.sample_rate) + length:
            raise UserError(
                f"--time-range {self.time_range[0]:g},{self.time_range[1]:g} with --duration {self.duration:g}: a sound "
                f"program's time, float(samp) / iSampleRate in float32, is exact to the sample up to "
                f"{EXACT_SAMPLES:,} samples ({EXACT_SAMPLES / self.sample_rate:g} s at {self.sample_rate} Hz); "
                "expected MAX + duration up to that (later times play as steps, then as a constant)"
            )

    def content(self, kind: str = "image") -> dict:
        """The settings that decide the samples' content, as a manifest records them (``kind``: of the
        programs; a sound source records its clips' duration, rate and channels instead of a size)."""
        media = (
            {"size": list(self.size)}
            if kind == "image"
            else {"kind": kind, "duration": self.duration, "sample_rate": self.sample_rate, "channels": self.channels}
        )
        return {
            "seed": self.seed,
            **media,
            "time_range": list(self.time_range),
            "backend": self.backend,
            "stats": {
                "store": self.stats,
                "filters": self.filters().settings(),
                "filter_programs": self.filter_programs,
            },
            "mix": dict(sorted(self.mix.items())) if self.mix is not None else None,
        }


def spec_of(settings: SourceSpec) -> SourceSpec:
    """The SourceSpec part of a settings object that extends it (GenConfig, StreamConfig)."""
    return SourceSpec(**{f.name: getattr(settings, f.name) for f in fields(SourceSpec)})


def family_mix(
    programs: list[Program], mix: dict[str, float] | None
) -> tuple[tuple[int, ...], tuple[float, ...]] | None:
    """--mix over the run's programs -> (family index of each program, weight of each family), or None."""
    if mix is None:
        return None
    families = sorted({p.family for p in programs})
    unknown = sorted(set(mix) - set(families))
    if unknown:
        raise UserError(f"--mix: no program of family '{unknown[0]}' in this run (families: {', '.join(families)})")
    return tuple(families.index(p.family) for p in programs), tuple(float(mix.get(f, 0.0)) for f in families)


class Batch(NamedTuple):
    """What a source renders for indices [start, stop): the samples the filters kept, in index order."""

    samples: Samples
    pixels: object  # (N, H, W, 3) uint8: numpy, or a torch tensor on the GPU
    stats: dict[str, np.ndarray] | None  # (N,) or (N, 3) per statistic (synpat.gen.stats), when measured


class PatternSource:
    """Renders the samples of a SourceSpec by index. Use as a context manager (or call ``close``);
    the renderer opens on first use, in the process that renders (the GL context belongs to it).

    ``rank``/``world_size``: rank 0 checks the programs, the others wait for its check cache.
    ``cuda_index``: the CUDA device this process uses (the EGL device paired with it renders, unless
    the spec's gl_device says otherwise). ``programs``: accepted programs given (no checks)."""

    def __init__(
        self,
        spec: SourceSpec,
        *,
        rank: int = 0,
        world_size: int = 1,
        cuda_index: int | None = None,
        max_batch: int = 256,
        tool: str = "synpat",
        programs: list[Program] | None = None,
    ):
        spec.validate()
        self.spec, self.rank, self.world_size, self.cuda_index = spec, rank, world_size, cuda_index
        self.max_batch, self.tool = max_batch, tool
        self._programs = programs
        self.rejected: list[tuple[Program, str]] = []  # programs the checks or --filter-programs dropped
        self.dropped_programs = 0  # of those, by --filter-programs
        self._sampler: Sampler | None = None
        # one-colour samples (silent clips) are drawn again (synpat.gen.redraw); it counts them over the source's life
        self.redraws = Redraws(lambda samples, attempt: self.sampler.redraw(samples, attempt))
        self._renderer: Renderer | SoundRenderer | None = None
        self._found: list[Program] | None = programs  # the programs the spec names, before the checks
        self._gl_stats: GLStats | None = None
        self._pixel_device: str | None = None
        self._interop = None
        self.dropped_samples = 0  # samples the filters dropped
        self.constant = 0  # samples kept although still one colour after their redraws
        self.clipped = 0  # sound: samples beyond [-1, 1], clipped
        self.nan = 0  # sound: NaN samples, written as 0

    # -- the renderer ------------------------------------------------------------------------

    @property
    def found(self) -> list[Program]:
        """The programs the spec names (before the checks)."""
        if self._found is None:
            self._found = find_programs(self.spec.shaders, self.spec.seed)
        return self._found

    @property
    def kind(self) -> str:
        """``image`` or ``sound``: what the programs render (one line when the spec names both kinds)."""
        kind = run_kind(self.found)
        if kind == "sound":
            self.spec.validate_sound()
        return kind

    @property
    def renderer(self) -> Renderer | SoundRenderer:
        if self._renderer is None:
            s = self.spec
            device = gl_device_index(s.gl_device, self.cuda_index)
            if self.kind == "sound":
                self._renderer = SoundRenderer(
                    s.sample_rate, s.duration, s.channels, backend=s.backend, device=device, max_batch=self.max_batch
                )
            else:
                self._renderer = Renderer(
                    s.size[0], s.size[1], backend=s.backend, device=device, max_batch=self.max_batch
                )
            warn(cpu_render_note(self.tool, self._renderer.device_name, self.cuda_index))
        return self._renderer

    def pixels_to(self, device: str | None) -> None:
        """Where ``render`` leaves the pixels: None (host numpy) or a torch CUDA device ("cuda:0"): kept
        on the GPU through CUDA-GL interop when the renderer runs on that GPU and no statistics are
        read back with them, else read back to the host (the consumer uploads them)."""
        self._close_interop()
        self._pixel_device = device

    def _pixel_path(self):
        """The object whose ``render_varied`` renders unmeasured batches: the renderer, or a CudaRenderer."""
        device = self._pixel_device or ""
        if not device.startswith("cuda") or self.spec.measures:
            return self.renderer
        if self._interop is None:
            import torch

            from .gl_cuda import open_interop

            target = torch.device(device)
            index = target.index if target.index is not None else torch.cuda.current_device()
            paired = cuda_device_of_egl(self.renderer.device)
            if paired is not None and paired != index:
                warn(
                    f"{self.tool} on {device}: the renderer is on EGL device {self.renderer.device} (cuda:{paired}); "
                    "reading images back through the host"
                )
                self._interop = False
            else:
                self._interop = open_interop(self.renderer, torch.device("cuda", index), self.tool) or False
        return self._interop or self.renderer

    def _close_interop(self) -> None:
        if self._interop:
            self._interop.close()
        self._interop = None

    def close(self) -> None:
        """Release the GL objects (a later render opens a fresh renderer)."""
        self._close_interop()
        if self._gl_stats is not None:
            self._gl_stats.release()
            self._gl_stats = None
        if self._renderer is not None:
            self._renderer.release()
            self._renderer = None

    def __enter__(self) -> PatternSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the programs and the sampler --------------------------------------------------------

    @property
    def programs(self) -> list[Program]:
        """The accepted programs; class id = position (as in synpat-gen's manifest)."""
        if self._programs is None:
            self._programs = self._accept()
        return self._programs

    def _accept(self) -> list[Program]:
        """Check the programs (rank 0 checks, all ranks decide from the check cache; rejections printed,
        or fatal with --strict), then --filter-programs."""
        s, renderer, kind = self.spec, self.renderer, self.kind
        programs = self.found
        settings = CheckSettings(
            s.size[0],
            s.size[1],
            s.backend,
            renderer.device,
            s.check_seconds,
            max_nan=s.max_nan,
            time_range=s.time_range,
            kind=kind,
            sample_rate=s.sample_rate,
            duration=s.duration,
            channels=s.channels,
        )
        accepted, rejected = accept_cached(programs, settings, self.rank, self.world_size)
        if rejected and s.strict:
            raise UserError(f"{rejected[0][1]} (--strict)")
        for _, reason in rejected:
            print(reason, file=sys.stderr)
        if not accepted:
            raise UserError(f"--shaders: none of the {len(programs)} programs renders (reasons above)")
        dropped = []
        if s.filter_programs:
            accepted, dropped = filter_programs(renderer, accepted, s.filters(), s.time_range)
            for _, reason in dropped:
                print(reason, file=sys.stderr)
            if not accepted:
                raise UserError("--filter-programs: every program fails the filters (reasons above)")
        self.rejected, self.dropped_programs = rejected + dropped, len(dropped)
        return accepted

    @property
    def sampler(self) -> Sampler:
        if self._sampler is None:
            n, s = len(self.programs), self.spec
            self._sampler = Sampler(
                n, s.seed, s.time_range, mix=family_mix(self.programs, s.mix), group=s.group or default_group(n)
            )
        return self._sampler

    def samples(self, start: int, stop: int) -> Samples:
        """The Sampler's draws for indices [start, stop) (before redraws and filters; nothing rendered)."""
        return self.sampler.range(start, stop)

    # -- rendering ---------------------------------------------------------------------------

    def render(self, start: int, stop: int) -> Batch:
        """Render indices [start, stop) -> their Batch (samples as drawn after redraws; without the
        samples the filters drop)."""
        return self._render(self.samples(start, stop))

    def _render(self, samples: Samples) -> Batch:
        """Render ``samples`` and apply the filters: images through the Renderer, clips of sound programs
        through the SoundRenderer (spec.duration, spec.sample_rate)."""
        programs, redraws = self.programs, self.redraws
        flat_before = len(redraws.flat)
        if self.kind == "sound":  # clips (N, C, S) float32; silent ones drawn again; statistics on the host
            pixels, levels, samples = self._pixel_path().render_measured(programs, samples, redraws)
            values = self.renderer.channels * self.renderer.length
            self.clipped += int(round(float(levels[:, 2].sum()) * values))
            self.nan += int(round(float(levels[:, 1].sum()) * values))
            stats = sound_stats(pixels, self.spec.sample_rate) if self.spec.stats else None
        elif self.spec.measures:  # measured chunk by chunk on the GPU while each chunk is there (host pixels)
            if self._gl_stats is None:
                self._gl_stats = GLStats(self.renderer)
            pixels, stats, samples = render_measured(self.renderer, self._gl_stats, programs, samples, redraws)
            if self.spec.drops_samples:
                keep = np.flatnonzero(self.spec.filters().passes(stats))
                self.dropped_samples += len(samples) - len(keep)
                samples, pixels = samples.take(keep), pixels[keep]
                stats = {k: v[keep] for k, v in stats.items()}
        else:
            pixels, samples = self._pixel_path().render_varied(programs, samples, redraws)
            stats = None
        for flat in redraws.flat[flat_before:]:
            self.constant += int(np.isin(flat, samples.index).sum())
        return Batch(samples, pixels, stats if self.spec.stats else None)

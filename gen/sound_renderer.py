"""Render sound programs into (N, C, S) float32 clips on the process's headless GL context.

Two backends for the same program (synpat.gen.sound_glsl):
  compute  (default) one dispatch renders a run of clips of one program: x = sample, z = clip;
           per-clip inputs from the SSBO image programs use; float32 into the output SSBO.
  fragment pixels are samples, for a driver whose compute stage cannot compile the program.
A batch is sorted by program and rendered ``max_batch`` clips at a time, as image batches are
(synpat.gen.renderer). After each chunk a second compute pass measures every clip on the GPU
(LevelPass: sum of squares of the clipped values, NaN samples, samples beyond [-1, 1]); only
those few words per clip come back. Silent clips (RMS below SILENT_DBFS) are drawn again with
new iTime, iSeed and iParams, as one-colour images are (synpat.gen.redraw). What is written is
clipped: NaN -> 0, values beyond [-1, 1] clamped; the clipped samples are counted.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import moderngl
import numpy as np
from synpat.core.errors import UserError

from . import sound_glsl
from .glsl import FULLSCREEN_VERTEX, program_kind
from .programs import Program
from .redraw import REDRAWS, Redraws
from .renderer import (
    BACKENDS,
    CACHE_PROGRAMS,
    MAX_NAN,
    MIN_PROBES,
    PROBE_SAMPLES,
    CompileError,
    ProgramRenderer,
    gl_context,
)
from .sampler import TIME_RANGE, Sampler, Samples

SAMPLE_RATE = 16000  # default --sample-rate
DURATION = 10.24  # default --duration, seconds (the AudioMAE input)
CHANNELS = 1  # default --channels: the mono mixdown
SILENT_DBFS = -60.0  # a clip whose RMS is below this is silent, drawn again
MAX_SAMPLES_PER_CLIP = sound_glsl.EXACT_SAMPLES  # a longer clip's time would no longer be exact to the sample

_GROUP = 256
_LEVEL = f"""#version 430
layout(local_size_x = {_GROUP}) in;
layout(std430, binding = 1) readonly buffer Waves {{ float w[]; }};
layout(std430, binding = 2) writeonly buffer Levels {{ uvec4 level[]; }};
uniform uint values;   // C * S per clip
shared float sq[{_GROUP}];
shared uint nan[{_GROUP}], over[{_GROUP}];
void main() {{
    uint clip = gl_WorkGroupID.x, me = gl_LocalInvocationIndex;
    float s = 0.0;
    uint n = 0u, o = 0u;
    for (uint i = me; i < values; i += {_GROUP}u) {{
        float v = w[clip * values + i];
        if (isnan(v)) {{ n++; continue; }}
        if (abs(v) > 1.0) o++;
        float c = clamp(v, -1.0, 1.0);
        s += c * c;
    }}
    sq[me] = s; nan[me] = n; over[me] = o;
    barrier();
    for (uint step = {_GROUP // 2}u; step > 0u; step >>= 1u) {{
        if (me < step) {{ sq[me] += sq[me + step]; nan[me] += nan[me + step]; over[me] += over[me + step]; }}
        barrier();
    }}
    if (me == 0u) level[clip] = uvec4(floatBitsToUint(sq[0]), nan[0], over[0], 0u);
}}
"""


class LevelPass:
    """Per clip of a renderer's output SSBO: sum of squares of the clipped values, NaN samples and
    samples beyond [-1, 1], computed on its GL context."""

    def __init__(self, ctx: moderngl.Context, max_batch: int, values: int):
        self.program = ctx.compute_shader(_LEVEL)
        self.program["values"].value = values
        self.values = values
        self.buffer = ctx.buffer(reserve=max_batch * 16)
        self.ctx = ctx

    def __call__(self, output: moderngl.Buffer, n: int) -> np.ndarray:
        """Clips [0, n) of ``output`` -> (n, 3) float64: mean square, NaN fraction, clipped fraction."""
        output.bind_to_storage_buffer(1)
        self.buffer.bind_to_storage_buffer(2)
        self.program.run(n)
        self.ctx.memory_barrier()
        words = np.frombuffer(self.buffer.read(size=n * 16), dtype=np.uint32).reshape(n, 4)
        out = np.empty((n, 3), dtype=np.float64)
        out[:, 0] = words[:, 0].view(np.float32) / self.values
        out[:, 1:] = words[:, 1:3] / self.values
        return out

    def release(self) -> None:
        self.program.release()
        self.buffer.release()


def silent(levels: np.ndarray) -> np.ndarray:
    """levels (N, 3) from LevelPass -> (N,) bool: RMS below SILENT_DBFS."""
    return levels[:, 0] < 10.0 ** (SILENT_DBFS / 10.0)


def clip_waves(waves: np.ndarray) -> np.ndarray:
    """waves (N, C, S) float32, in place: NaN -> 0, values beyond [-1, 1] clamped; -> waves."""
    np.nan_to_num(waves, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    return np.clip(waves, -1.0, 1.0, out=waves)


@dataclass
class _Compiled:
    backend: str
    program: moderngl.ComputeShader | moderngl.Program
    vao: moderngl.VertexArray | None = None

    def release(self) -> None:
        for obj in (self.vao, self.program):
            if obj is not None:
                obj.release()


def _set_uniform(prog, name: str, value) -> None:
    if name in prog:  # unused uniforms are optimised away
        prog[name].value = value


class SoundRenderer(ProgramRenderer):
    """Renders sound programs as clips of ``duration`` seconds at ``sample_rate`` with ``channels``
    (1: mono mixdown, 2: stereo), ``max_batch`` clips a chunk at most, on one GL context."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        duration: float = DURATION,
        channels: int = CHANNELS,
        backend: str = "auto",
        device: int | None = None,
        max_batch: int = 256,
        ctx: moderngl.Context | None = None,
        cache_programs: int = CACHE_PROGRAMS,
    ):
        if backend not in BACKENDS:
            raise UserError(f"--backend: expected one of {', '.join(BACKENDS)}, got '{backend}'")
        if not 1000 <= int(sample_rate) <= 384000:
            raise UserError(f"--sample-rate: expected 1000..384000 Hz, got {sample_rate}")
        if channels not in sound_glsl.CHANNELS:
            raise UserError(f"--channels: expected 1 (mono mixdown) or 2 (stereo), got {channels}")
        self.sample_rate, self.channels, self.backend, self.device = int(sample_rate), int(channels), backend, device
        self.length = int(round(float(duration) * self.sample_rate))
        if not (duration > 0 and 1 <= self.length <= MAX_SAMPLES_PER_CLIP):
            raise UserError(
                f"--duration: expected seconds from one sample ({1 / self.sample_rate:g}) to "
                f"{MAX_SAMPLES_PER_CLIP / self.sample_rate:g} at --sample-rate {self.sample_rate}, got {duration}"
            )
        self.duration = self.length / self.sample_rate
        self.ctx = ctx or gl_context(device)
        self.make_current()
        clip_bytes = self.channels * self.length * 4
        limit = self.ctx.info["GL_MAX_SHADER_STORAGE_BLOCK_SIZE"]
        if clip_bytes > limit:
            raise UserError(
                f"--duration {duration}: a clip of {clip_bytes >> 20} MiB exceeds this GL device's largest "
                f"storage block ({limit >> 20} MiB)"
            )
        self.max_batch = max(1, min(int(max_batch), limit // clip_bytes, 2048))
        self.cache_programs = max(1, int(cache_programs))
        self._compiled: OrderedDict[tuple[str, str], _Compiled | CompileError] = OrderedDict()
        self._samples = self.ctx.buffer(reserve=self.max_batch * 32)
        self._groups = sound_glsl.compute_groups(self.length, self.ctx.info["GL_MAX_COMPUTE_WORK_GROUP_COUNT"][0])
        self._output = None
        self._levels = None
        self._atlas = None

    @property
    def device_name(self) -> str:
        return self.ctx.info["GL_RENDERER"]

    @property
    def shape(self) -> tuple[int, int]:
        """(C, S) of one clip."""
        return self.channels, self.length

    def release(self) -> None:
        """Free this renderer's GL objects; the process's context stays. Calling it again does nothing."""
        if self._samples is not None:
            self.make_current()
        for obj in (self._samples, self._output, self._levels, self._atlas):
            if obj is not None:
                obj.release()
        for compiled in self._compiled.values():
            if isinstance(compiled, _Compiled):
                compiled.release()
        self._compiled.clear()
        self._samples = self._output = self._levels = self._atlas = None

    def __enter__(self) -> SoundRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # -- programs ----------------------------------------------------------------------------

    def _build_either(self, program: Program) -> _Compiled:
        backend = "compute" if self.backend == "auto" else self.backend
        try:
            return self._build(program, backend)
        except CompileError:
            if self.backend != "auto":
                raise
            return self._build(program, "fragment")

    def _build(self, program: Program, backend: str) -> _Compiled:
        try:
            kind = program_kind(program.source)
        except ValueError as e:
            raise CompileError(f"{program.path}: {e}") from None
        if kind != "sound":
            raise CompileError(f"{program.path}: not a sound program (no `{sound_glsl.ENTRY}`)")
        try:
            if backend == "compute":
                compiled = _Compiled(backend, self.ctx.compute_shader(sound_glsl.compute_source(program.source)))
            else:
                prog = self.ctx.program(
                    vertex_shader=FULLSCREEN_VERTEX, fragment_shader=sound_glsl.fragment_source(program.source)
                )
                compiled = _Compiled(backend, prog, self.ctx.vertex_array(prog, []))
        except moderngl.Error as e:
            raise CompileError(sound_glsl.first_error(str(e), program.path, program.source)) from None
        prog = compiled.program
        _set_uniform(prog, "iSampleRate", float(self.sample_rate))
        _set_uniform(prog, "iResolution", (0.0, 0.0, 0.0))
        _set_uniform(prog, "iMouse", (0.0, 0.0, 0.0, 0.0))
        _set_uniform(prog, "_sp_length", self.length)
        _set_uniform(prog, "_sp_channels", self.channels)
        return compiled

    # -- rendering ---------------------------------------------------------------------------

    @property
    def output_buffer(self) -> moderngl.Buffer:
        """The SSBO clips are rendered into: max_batch x (C, S) float32."""
        if self._output is None:
            self._output = self.ctx.buffer(reserve=self.max_batch * self.channels * self.length * 4)
        return self._output

    def render(self, program: Program, samples: Samples) -> np.ndarray:
        """-> waves (N, C, S) float32 in [-1, 1]."""
        return self.render_many(
            [program],
            Samples(samples.index, np.zeros(len(samples), np.int64), samples.time, samples.seed, samples.params),
        )

    def render_many(self, programs: list[Program], samples: Samples) -> np.ndarray:
        """Clips of several programs (``samples.program`` indexes ``programs``) -> (N, C, S) float32."""
        return self.render_measured(programs, samples)[0]

    def render_measured(
        self, programs: list[Program], samples: Samples, redraws: Redraws | None = None, raw: bool = False
    ) -> tuple[np.ndarray, np.ndarray, Samples]:
        """-> (waves (N, C, S) float32 clipped to [-1, 1] (as rendered with ``raw``), levels (N, 3): mean
        square, NaN fraction and clipped fraction of each clip, the Samples rendered), in sample order;
        silent clips drawn again when ``redraws`` is given."""
        waves = np.empty((len(samples), self.channels, self.length), dtype=np.float32)

        def read(first: int, n: int) -> None:
            self.output_buffer.read_into(waves[first : first + n], size=n * self.channels * self.length * 4)

        order, levels, rendered = self.render_in_program_order(programs, samples, read, redraws)
        out = np.empty_like(waves)
        out[order] = waves
        return (out if raw else clip_waves(out)), levels, rendered

    def render_in_program_order(
        self, programs: list[Program], samples: Samples, read, redraws: Redraws | None = None
    ) -> tuple[np.ndarray, np.ndarray, Samples]:
        """Render ``samples`` sorted by program, ``max_batch`` at a time; after each chunk calls
        ``read(first, n)`` while the output SSBO holds sorted clips [first, first + n) as (n, C, S)
        float32 (readback here; synpat.gen.gl_cuda maps the buffer into CUDA instead). -> (order (N,):
        the row in ``samples`` of each sorted clip, levels (N, 3) in ``samples``' order (LevelPass),
        the Samples rendered)."""
        order = np.argsort(samples.program, kind="stable")
        rendered = samples
        levels = np.empty((len(samples), 3), dtype=np.float64)
        measured = {}  # the levels of the chunk's last measurement: its outputs as they stay

        def flat(n: int) -> np.ndarray:
            measured["levels"] = self._measure(n)
            return silent(measured["levels"])

        for first, chunk in self.render_chunks(programs, samples.take(order), flat, redraws):
            rows = order[first : first + len(chunk)]
            if redraws is not None:
                rendered = rendered.replace(rows, chunk)
            else:
                measured["levels"] = self._measure(len(chunk))
            levels[rows] = measured["levels"]
            read(first, len(chunk))
        return order, levels, rendered

    def _measure(self, n: int) -> np.ndarray:
        if self._levels is None:
            self._levels = LevelPass(self.ctx, self.max_batch, self.channels * self.length)
        return self._levels(self.output_buffer, n)

    def _render_rows(self, programs: list[Program], chunk: Samples, rows: np.ndarray) -> None:
        """Upload ``chunk`` (sorted by program) and render its ``rows`` (ascending) into the same rows
        of the output SSBO: one dispatch (or draw) per run of consecutive rows of one program."""
        data = np.zeros((len(chunk), 2, 4), dtype=np.float32)
        data[:, 0] = chunk.params
        data[:, 1, 0] = chunk.time
        data[:, 1, 1] = chunk.seed.view(np.float32)
        self._samples.write(data.tobytes())
        self._samples.bind_to_storage_buffer(0)
        self.output_buffer.bind_to_storage_buffer(1)
        breaks = np.flatnonzero((np.diff(rows) != 1) | (chunk.program[rows[1:]] != chunk.program[rows[:-1]])) + 1
        for run in np.split(rows, breaks):
            if len(run):
                compiled = self.compile(programs[int(chunk.program[run[0]])])
                _set_uniform(compiled.program, "_sp_first", int(run[0]))
                if compiled.backend == "compute":
                    compiled.program.run(*self._groups, len(run))
                else:
                    self._draw_fragment(compiled, int(run[0]), len(run))
        self.ctx.memory_barrier()

    def _draw_fragment(self, compiled: _Compiled, first: int, n: int) -> None:
        """Clips [first, first + n) as pixels of an atlas ``width`` wide, as many draws as it takes."""
        width = min(self.ctx.info["GL_MAX_TEXTURE_SIZE"], *self.ctx.info["GL_MAX_VIEWPORT_DIMS"], 4096)
        rows_max = min(self.ctx.info["GL_MAX_TEXTURE_SIZE"], self.ctx.info["GL_MAX_VIEWPORT_DIMS"][1])
        if self._atlas is None:
            self._atlas = self.ctx.empty_framebuffer((width, rows_max))
        per_draw = max(1, (width * rows_max) // self.length)
        prog = compiled.program
        _set_uniform(prog, "_sp_width", width)
        self._atlas.use()
        for base in range(first, first + n, per_draw):
            count = min(per_draw, first + n - base)
            _set_uniform(prog, "_sp_first", base)
            _set_uniform(prog, "_sp_count", count)
            self._atlas.viewport = (0, 0, width, -(-count * self.length // width))
            compiled.vao.render(moderngl.TRIANGLES, vertices=3)

    # -- validation --------------------------------------------------------------------------

    def check(
        self,
        program: Program,
        time_limit: float = 30.0,
        max_nan: float = MAX_NAN,
        time_range: tuple[float, float] = TIME_RANGE,
    ) -> str | None:
        """Compile and render probe clips at the run's duration, rate and iTime range, as
        Renderer.check does for images; None if usable, else why not: too slow, more than
        ``max_nan`` of the probes' samples NaN, or most probe clips silent even after REDRAWS
        new draws each."""
        try:
            self.compile(program)
        except CompileError as e:
            return str(e)
        sampler = Sampler(1, seed=0x5EED, time_range=tuple(time_range))
        probe, redraws = sampler.range(0, PROBE_SAMPLES), Redraws(sampler.redraw)
        levels = []
        start = time.perf_counter()
        for i in range(PROBE_SAMPLES):
            levels.append(self.render_measured([program], probe.take(np.array([i])), redraws)[1][0])
            seconds = time.perf_counter() - start
            if seconds > time_limit:
                break
        n = len(levels)
        if n < MIN_PROBES:
            return (
                f"{program.path}: too slow: {seconds / n:.1f} s a {self.duration:g} s clip at {self.sample_rate} Hz, "
                f"{n} of the {MIN_PROBES} probe clips needed in --check-seconds {time_limit:g}"
            )
        nan = float(np.mean([lv[1] for lv in levels]))
        if nan > max_nan:
            return (
                f"{program.path}: renders NaN in {100 * nan:.0f}% of its probe clips' samples (--max-nan {max_nan:g})"
            )
        quiet = redraws.constant
        if 2 * quiet > n:
            return (
                f"{program.path}: renders silence ({quiet} of {n} probe clips below {SILENT_DBFS:g} dBFS RMS "
                f"after {REDRAWS} new draws each)"
            )
        return None

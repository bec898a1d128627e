"""Render programs into (N, H, W, 3) uint8 batches on one headless moderngl (EGL) context.

Two backends for the same program:
  compute  (default) one dispatch renders the batch: x, y = pixel, z = sample; per-sample inputs
           from an SSBO; each invocation writes one packed RGBA8 word into the output SSBO.
  fragment a full-screen triangle over an atlas framebuffer, one tile per sample, each fragment
           writing the same output SSBO; for programs that need derivatives or discard.
``auto`` picks compute unless the program needs the fragment stage, or compute cannot compile it
(a global ``in`` variable, a texture bias) and the fragment stage can. Both produce the same bytes
up to the GPU's rounding (tests hold them to 2/255). Outputs are top row first.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

import moderngl
import numpy as np
from synpat.core.devices import DEVICE_ENV, default_egl_device
from synpat.core.errors import UserError

from . import glsl
from .programs import Program
from .redraw import CONSTANT_RANGE, REDRAWS, Redraws, SpreadPass
from .sampler import TIME_RANGE, Sampler, Samples, hash64

BACKENDS = ("auto", "compute", "fragment")
CHANNEL_SIZE = 256  # 2D channel textures (units 0-3, one per channel)
CUBE_SIZE = 64  # the cube map a channel sampled with a direction gets (unit 4)
VOLUME_SIZE = 32  # the 3D texture a channel declared 3d gets (unit 5)
_UNITS = {"cube": 4, "3d": 5}
PROBE_SAMPLES = 8  # probe images rendered per program, one at a time, within its time limit
MIN_PROBES = 3  # fewer probe images than this within the limit: too slow
MAX_NAN = 0.99  # default --max-nan: largest fraction of NaN channel values in the probes (a GPU
# shows NaN as 0: real programs draw on NaN backgrounds of 58-95% of their pixels)
CACHE_PROGRAMS = 1024  # compiled programs a renderer keeps (least recently used go first)


class CompileError(Exception):
    """A program that does not compile; the message is one ``FILE:LINE: message`` line."""


def _load_triton_first() -> None:
    """Import triton (when installed) before Mesa's llvmpipe loads its LLVM: the other order
    crashes the process when torch later imports triton (two LLVMs, one symbol namespace)."""
    if "triton" not in sys.modules and importlib.util.find_spec("triton") is not None:
        import triton  # noqa: F401


_CONTEXTS: dict[tuple[int, int | None], moderngl.Context] = {}


def gl_context(device: int | None = None) -> moderngl.Context:
    """The process's headless EGL context on GL device ``device`` (None: the device glcontext opens
    by default, GLCONTEXT_DEVICE_INDEX or 0, so ``None`` and that index are one context).

    Keyed by process id too: a forked worker (a DataLoader's) makes its own context rather than
    using its parent's. Creating a context makes it current: a Renderer makes its own current again
    before its GL calls (Renderer.make_current).
    """
    index = default_egl_device() if device is None else device
    key = (os.getpid(), index)
    if key not in _CONTEXTS:
        _load_triton_first()
        try:
            with _device_env(index), _zero_init_locals():
                _CONTEXTS[key] = moderngl.create_standalone_context(backend="egl", require=430, device_index=index)
        except Exception as e:  # glcontext raises plain Exception
            default = " (the default)" if device is None else ""
            raise UserError(
                f"cannot open an OpenGL 4.3 context on EGL device {index}{default}: {e} "
                "(headless EGL needs the packages libegl1 libegl-mesa0 libgl1-mesa-dri)"
            ) from None
    return _CONTEXTS[key]


ZERO_INIT_ENV = "glsl_zero_init"  # Mesa's switch: every GLSL variable starts at 0, as in WebGL
_ZERO_INIT_NOTE = b"ATTENTION: default value of option glsl_zero_init overridden by environment."


@contextmanager
def _zero_init_locals():
    """While a context opens, ask Mesa to zero-initialise GLSL variables, as WebGL (Shadertoy) does
    and golfed programs rely on (``vec4 d; d.y++;``); the user's own setting of the variable wins.
    Mesa announces the override on stderr; that one line is dropped, anything else is passed on.
    Other drivers ignore the variable."""
    if ZERO_INIT_ENV in os.environ:
        yield
        return
    os.environ[ZERO_INIT_ENV] = "true"
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            del os.environ[ZERO_INIT_ENV]
            caught.seek(0)
            rest = [line for line in caught.read().splitlines(keepends=True) if line.strip() != _ZERO_INIT_NOTE]
            if rest:
                os.write(2, b"".join(rest))


@contextmanager
def _device_env(device: int):
    """glcontext lets GLCONTEXT_DEVICE_INDEX beat its device_index argument: while a context for
    ``device`` opens, the variable says the same (synpat.core.devices decided already)."""
    saved = os.environ.get(DEVICE_ENV)
    os.environ[DEVICE_ENV] = str(device)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(DEVICE_ENV, None)
        else:
            os.environ[DEVICE_ENV] = saved


def channel_texture_data(size: int = CHANNEL_SIZE, layers: int = 1, lane: int = 7) -> np.ndarray:
    """(layers, size, size, 4) uint8 (or (size, size, 4) for one layer): deterministic RGBA noise,
    the texels of the channel textures (2D: one layer; cube: 6 faces; 3D: size slices)."""
    h = hash64(0, "params", np.arange(layers * size * size * 4, dtype=np.uint64), lane=lane)
    data = (h >> np.uint64(56)).astype(np.uint8).reshape(layers, size, size, 4)
    return data[0] if layers == 1 else data


def _channel_resolution(kind: str) -> tuple[float, float, float]:
    return {
        "2d": (CHANNEL_SIZE, CHANNEL_SIZE, 1.0),
        "cube": (CUBE_SIZE, CUBE_SIZE, 1.0),
        "3d": (VOLUME_SIZE, VOLUME_SIZE, VOLUME_SIZE),
    }[kind]


@dataclass
class _Compiled:
    backend: str
    program: moderngl.ComputeShader | moderngl.Program  # the image (a splat program's resolve)
    vao: moderngl.VertexArray | None = None
    points: moderngl.ComputeShader | None = None  # a splat program's box and point passes

    def release(self) -> None:
        for obj in (self.vao, self.points, self.program):
            if obj is not None:
                obj.release()


def _as_program(samples: Samples, program: int) -> Samples:
    return Samples(
        samples.index, np.full(len(samples), program, dtype=np.int64), samples.time, samples.seed, samples.params
    )


def _set_uniform(prog, name: str, value) -> None:
    if name in prog:  # unused uniforms are optimised away
        prog[name].value = value


class ProgramRenderer:
    """What Renderer and SoundRenderer (synpat.gen.sound_renderer) share: the LRU of compiled programs
    and the loop that renders a batch sorted by program, ``max_batch`` at a time. A subclass sets
    ``ctx``, ``backend``, ``max_batch``, ``cache_programs`` and ``_compiled`` (an empty OrderedDict)
    and implements ``_build_either(program)`` and ``_render_rows(programs, chunk, rows)``."""

    def make_current(self) -> None:
        """Make this renderer's GL context current on this thread. glcontext makes each new context
        current and moderngl never switches back, so with two contexts in a process (a renderer per
        EGL device, the interop check's two) GL calls would land in the newest one: every sequence
        of GL calls here starts with this (as nvdiffrast does before each operation), and so must
        a caller's own GL or CUDA-GL calls on this renderer's objects (synpat.gen.gl_cuda). The
        context stays current afterwards, as a new context does."""
        self.ctx.__enter__()

    def compile(self, program: Program) -> _Compiled:
        """The compiled program (kept in an LRU of ``cache_programs``); raises CompileError with a
        ``FILE:LINE: message`` line. ``auto`` falls back to the fragment stage when compute fails."""
        key = (program.hash, self.backend)
        if key in self._compiled:
            self._compiled.move_to_end(key)
        else:
            self.make_current()
            try:
                self._compiled[key] = self._build_either(program)
            except CompileError as e:
                self._compiled[key] = e
            while len(self._compiled) > self.cache_programs:
                _, old = self._compiled.popitem(last=False)
                if not isinstance(old, CompileError):  # the subclass's compiled program
                    old.release()
        compiled = self._compiled[key]
        if isinstance(compiled, CompileError):
            raise compiled
        return compiled

    def render_chunks(
        self,
        programs: list[Program],
        samples: Samples,
        flat: Callable[[int], np.ndarray],
        redraws: Redraws | None = None,
    ):
        """Render ``samples`` (sorted by program) ``max_batch`` at a time; after each chunk yields
        (first, the chunk's Samples as rendered) while the output SSBO holds outputs [first, first + n).
        With ``redraws``, a chunk's flat outputs (``flat(n)``: (n,) bool over outputs [0, n)) are
        drawn and rendered again first (synpat.gen.redraw)."""
        for first in range(0, len(samples), self.max_batch):
            chunk = samples.take(np.arange(first, min(len(samples), first + self.max_batch)))
            self.make_current()  # the caller may have used another context since the last chunk
            self._render_rows(programs, chunk, np.arange(len(chunk)))
            if redraws is not None:
                chunk = redraws.apply(flat, lambda c, rows: self._render_rows(programs, c, rows), chunk)
            yield first, chunk


class Renderer(ProgramRenderer):
    """Renders programs at ``width`` x ``height`` on one GL context, ``max_batch`` images a call at most,
    keeping the ``cache_programs`` most recently used programs compiled."""

    def __init__(
        self,
        width: int,
        height: int | None = None,
        backend: str = "auto",
        device: int | None = None,
        max_batch: int = 256,
        ctx: moderngl.Context | None = None,
        cache_programs: int = CACHE_PROGRAMS,
    ):
        if backend not in BACKENDS:
            raise UserError(f"--backend: expected one of {', '.join(BACKENDS)}, got '{backend}'")
        self.width, self.height = int(width), int(height or width)
        if not (1 <= self.width <= 8192 and 1 <= self.height <= 8192):
            raise UserError(f"--size: expected 1..8192 pixels, got {self.width}x{self.height}")
        self.backend = backend
        self.device = device
        self.ctx = ctx or gl_context(device)  # ctx: a window's context (the live viewer)
        self.make_current()
        image_bytes = self.width * self.height * 4
        ssbo_limit = self.ctx.info["GL_MAX_SHADER_STORAGE_BLOCK_SIZE"]
        self.max_batch = max(1, min(int(max_batch), ssbo_limit // image_bytes, 2048))
        self.cache_programs = max(1, int(cache_programs))
        self._compiled: OrderedDict[tuple[str, str], _Compiled | CompileError] = OrderedDict()  # LRU order
        self._samples = self.ctx.buffer(reserve=self.max_batch * 32)
        self._output = None  # the output SSBO, made on first use
        self._density = None  # splat programs' density and box SSBOs, made on first use
        self._box = None
        self.splat_slots = max(1, min(self.max_batch, ssbo_limit // (image_bytes * glsl.SPLAT_WORDS)))
        self._atlas = None  # the fragment stage's framebuffer (no attachments), made on first use
        self._spread = None  # the one-colour test of synpat.gen.redraw, made on first use
        tex = self.ctx.texture((CHANNEL_SIZE, CHANNEL_SIZE), 4, channel_texture_data().tobytes())
        tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        tex.repeat_x = tex.repeat_y = True
        for unit in range(4):
            tex.use(location=unit)
        cube = self.ctx.texture_cube((CUBE_SIZE, CUBE_SIZE), 4, channel_texture_data(CUBE_SIZE, 6, lane=8).tobytes())
        volume = self.ctx.texture3d(
            (VOLUME_SIZE,) * 3, 4, channel_texture_data(VOLUME_SIZE, VOLUME_SIZE, lane=9).tobytes()
        )
        for t, kind in ((cube, "cube"), (volume, "3d")):
            t.filter = (moderngl.LINEAR, moderngl.LINEAR)
            t.use(location=_UNITS[kind])
        volume.repeat_x = volume.repeat_y = volume.repeat_z = True
        self._channel = (tex, cube, volume)

    def release(self) -> None:
        """Free this renderer's GL objects (buffers, textures, compiled programs); the process's GL
        context stays for the next renderer. Calling it again does nothing."""
        if self._channel:
            self.make_current()
        objects = [self._samples, self._output, self._atlas, self._spread, self._density, self._box, *self._channel]
        for obj in objects:
            if obj is not None:
                obj.release()
        for compiled in self._compiled.values():
            if isinstance(compiled, _Compiled):
                compiled.release()
        self._compiled.clear()
        self._samples = self._output = self._atlas = self._spread = self._density = self._box = None
        self._channel = ()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    @property
    def device_name(self) -> str:
        return self.ctx.info["GL_RENDERER"]

    # -- programs ----------------------------------------------------------------------------

    def backend_for(self, program: Program) -> str:
        """The backend that renders ``program`` here; raises CompileError when none can."""
        reason = program.fragment_reason
        if self.backend == "auto":
            return "fragment" if reason else "compute"
        if self.backend == "compute" and reason:
            raise CompileError(
                f"{program.path}: cannot use the compute backend: {reason} (use --backend auto or fragment)"
            )
        return self.backend

    def _build_either(self, program: Program) -> _Compiled:
        """``auto``: a program compute cannot compile goes to the fragment stage when that can."""
        backend = self.backend_for(program)
        try:
            return self._build(program, backend)
        except CompileError:
            if self.backend != "auto" or backend == "fragment":
                raise
            return self._build(program, "fragment")

    def _build(self, program: Program, backend: str) -> _Compiled:
        """Compile with the channel types a ``// channels:`` comment declares, or else with 2D
        channels, turning a channel sampled with a vec3 into a cube map, then a 3D texture."""
        try:
            glsl.check_text(program.source)
            declared = glsl.declared_channels(program.source)
            splat = glsl.program_kind(program.source) == "splat"
        except ValueError as e:
            raise CompileError(f"{program.path}: {e}") from None
        if (
            splat
            and self.width * self.height * 4 * glsl.SPLAT_WORDS > self.ctx.info["GL_MAX_SHADER_STORAGE_BLOCK_SIZE"]
        ):
            raise CompileError(
                f"{program.path}: a splat program's density buffer at {self.width}x{self.height} "
                f"exceeds this GL device's largest storage block "
                f"({self.ctx.info['GL_MAX_SHADER_STORAGE_BLOCK_SIZE'] >> 20} MiB); use a smaller --size"
            )
        channels = declared or glsl.DEFAULT_CHANNELS
        while True:
            try:
                compiled = self._link(program.source, backend, channels, splat)
                break
            except moderngl.Error as e:
                guess = None if declared else glsl.guess_channels(str(e), program.source, channels)
                if guess is None:
                    raise CompileError(glsl.first_error(str(e), program.path, program.source)) from None
                channels = guess
        for prog in (compiled.program, compiled.points):
            if prog is None:
                continue
            _set_uniform(prog, "iResolution", (float(self.width), float(self.height), 1.0))
            _set_uniform(prog, "iTimeDelta", 1.0 / 60.0)
            _set_uniform(prog, "iMouse", (0.0, 0.0, 0.0, 0.0))
            _set_uniform(prog, "iSampleRate", 44100.0)
            if "iChannelResolution" in prog:  # the driver may report a shorter array when only [0] is used
                res = prog["iChannelResolution"]
                values = [_channel_resolution(kind) for kind in channels]
                res.value = values[: res.array_length] if res.array_length > 1 else values[0]
            for i, kind in enumerate(channels):
                _set_uniform(prog, f"iChannel{i}", _UNITS.get(kind, i))
        if compiled.points is not None:
            _set_uniform(compiled.points, "_sp_chains", self.splat_points // glsl.SPLAT_STEPS)
        return compiled

    def _link(self, source: str, backend: str, channels: tuple[str, ...], splat: bool) -> _Compiled:
        points = self.ctx.compute_shader(glsl.splat_source(source, channels)) if splat else None
        if backend == "compute":
            return _Compiled(
                backend, self.ctx.compute_shader(glsl.compute_source(source, channels, splat)), points=points
            )
        prog = self.ctx.program(
            vertex_shader=glsl.FULLSCREEN_VERTEX, fragment_shader=glsl.fragment_source(source, channels, splat)
        )
        return _Compiled(backend, prog, self.ctx.vertex_array(prog, []), points)

    @property
    def splat_points(self) -> int:
        """Points a splat program scatters per image: SPLAT_POINTS_PER_PIXEL x W x H (at most
        SPLAT_MAX_POINTS), rounded up to whole chains of SPLAT_STEPS."""
        points = min(glsl.SPLAT_MAX_POINTS, int(np.ceil(glsl.SPLAT_POINTS_PER_PIXEL * self.width * self.height)))
        return -(-points // glsl.SPLAT_STEPS) * glsl.SPLAT_STEPS

    # -- rendering ---------------------------------------------------------------------------
    #
    # A batch is sorted by program, uploaded once, rendered with one dispatch (compute) or a few
    # atlas draws (fragment) per program into the output SSBO, (n, H, W) packed RGBA8 in sorted
    # order, and read back once; the caller's order is restored in the copy that drops alpha.

    def render(self, program: Program, samples: Samples) -> np.ndarray:
        """-> images (N, H, W, 3) uint8, top row first."""
        return self.render_many([program], _as_program(samples, 0))

    def render_many(self, programs: list[Program], samples: Samples) -> np.ndarray:
        """Samples of several programs (``samples.program`` indexes ``programs``) -> images (N, H, W, 3)
        uint8 in sample order."""
        return self.render_varied(programs, samples)[0]

    def render_varied(
        self, programs: list[Program], samples: Samples, redraws: Redraws | None = None
    ) -> tuple[np.ndarray, Samples]:
        """As render_many, drawing one-colour samples again when ``redraws`` is given (synpat.gen.redraw)
        -> (images (N, H, W, 3) uint8, the Samples rendered) in sample order."""
        rgba, order, rendered = self._render_readback(programs, samples, redraws)
        images = np.empty((len(samples), self.height, self.width, 3), dtype=np.uint8)
        images[order] = rgba[..., :3]
        return images, rendered

    def render_rgba(self, program: Program, samples: Samples, redraws: Redraws | None = None) -> np.ndarray:
        """-> (N, H, W, 4) uint8; a NaN channel is 0, an Inf one clamped; alpha is 255 - 85 x (the
        number of the pixel's RGB channels that were NaN). ``redraws``: as render_varied."""
        rgba, order, _ = self._render_readback([program], _as_program(samples, 0), redraws)
        out = np.empty_like(rgba)
        out[order] = rgba
        return out

    def _render_readback(
        self, programs: list[Program], samples: Samples, redraws: Redraws | None = None
    ) -> tuple[np.ndarray, np.ndarray, Samples]:
        """Render and read back to host memory -> (images (N, H, W, 4) uint8 sorted by program,
        order (N,): their rows in ``samples``, the Samples rendered in ``samples``' order)."""
        out = np.empty((len(samples), self.height, self.width, 4), dtype=np.uint8)

        def read(first: int, n: int) -> None:
            self.output_buffer.read_into(out[first : first + n], size=n * self.width * self.height * 4)

        order, rendered = self.render_in_program_order(programs, samples, read, redraws)
        return out, order, rendered

    def render_in_program_order(
        self, programs: list[Program], samples: Samples, read, redraws: Redraws | None = None
    ) -> tuple[np.ndarray, Samples]:
        """Render ``samples`` sorted by program, ``max_batch`` at a time; after each chunk calls
        ``read(first, n)`` while the output SSBO holds sorted images [first, first + n) as (n, H, W)
        RGBA8 words (readback here; the GPU path maps the buffer into CUDA instead). With
        ``redraws``, a chunk's one-colour samples are drawn and rendered again before ``read``.
        -> (order (N,): the row in ``samples`` of each sorted image, the Samples rendered, in
        ``samples``' order)."""
        order = np.argsort(samples.program, kind="stable")
        rendered = samples
        for first, chunk in self.render_chunks(programs, samples.take(order), self._one_colour, redraws):
            read(first, len(chunk))
            if redraws is not None:
                rendered = rendered.replace(order[first : first + len(chunk)], chunk)
        return order, rendered

    def _render_rows(self, programs: list[Program], chunk: Samples, rows: np.ndarray) -> None:
        """Upload ``chunk`` (sorted by program) and render its ``rows`` (ascending) into the same rows
        of the output SSBO: one dispatch (or atlas draw) per run of consecutive rows of one program."""
        self._upload(chunk)
        breaks = np.flatnonzero((np.diff(rows) != 1) | (chunk.program[rows[1:]] != chunk.program[rows[:-1]])) + 1
        for run in np.split(rows, breaks):
            if not len(run):
                continue
            start, n = int(run[0]), len(run)
            compiled = self.compile(programs[int(chunk.program[start])])
            if compiled.points is not None:
                self._render_splat(compiled, start, n)
            else:
                self._render_image(compiled, start, n)
        self.ctx.memory_barrier()

    def _spread_of(self, n: int) -> np.ndarray:
        """(n,) uint32: the widest channel range of output images [0, n)."""
        if self._spread is None:
            self._spread = SpreadPass(self.ctx, self.max_batch, self.width * self.height)
        return self._spread(self.output_buffer, n)

    def _one_colour(self, n: int) -> np.ndarray:
        """(n,) bool: which output images [0, n) are of one colour (synpat.gen.redraw)."""
        return self._spread_of(n) <= CONSTANT_RANGE

    @property
    def output_buffer(self) -> moderngl.Buffer:
        """The SSBO images are rendered into: max_batch x (H, W) packed RGBA8 words."""
        if self._output is None:
            self._output = self.ctx.buffer(reserve=self.max_batch * self.width * self.height * 4)
        return self._output

    def _upload(self, samples: Samples) -> None:
        data = np.zeros((len(samples), 2, 4), dtype=np.float32)
        data[:, 0] = samples.params
        data[:, 1, 0] = samples.time
        data[:, 1, 1] = samples.seed.view(np.float32)
        self._samples.write(data.tobytes())
        self._samples.bind_to_storage_buffer(0)
        self.output_buffer.bind_to_storage_buffer(1)

    def _render_image(self, compiled: _Compiled, first: int, n: int) -> None:
        if compiled.backend == "compute":
            self._dispatch_compute(compiled, first, n)
        else:
            self._draw_fragment(compiled, first, n)

    def _render_splat(self, compiled: _Compiled, first: int, n: int) -> None:
        """A splat program's samples [first, first + n), ``splat_slots`` at a time: clear their
        density, box pass, point pass, then the resolve into the output SSBO (glsl.py's splat notes)."""
        pixels = self.width * self.height
        if self._density is None:
            self._density = self.ctx.buffer(reserve=self.splat_slots * pixels * 4 * glsl.SPLAT_WORDS)
            self._box = self.ctx.buffer(reserve=self.splat_slots * 4 * glsl.SPLAT_BOX_WORDS)
        self._density.bind_to_storage_buffer(2)
        self._box.bind_to_storage_buffer(3)
        empty_box = np.zeros((self.splat_slots, glsl.SPLAT_BOX_WORDS), np.uint32)
        empty_box[:, :2] = 0xFFFFFFFF  # min keys start high, max keys and the largest hits at 0
        points = compiled.points
        for base in range(first, first + n, self.splat_slots):
            count = min(self.splat_slots, first + n - base)
            self._density.clear(size=count * pixels * 4 * glsl.SPLAT_WORDS)
            self._box.write(empty_box[:count].tobytes())
            for prog in (points, compiled.program):
                _set_uniform(prog, "_sp_first", base)
                _set_uniform(prog, "_sp_splat_first", base)
            for phase, chains in ((0, glsl.SPLAT_BOX_CHAINS), (1, self.splat_points // glsl.SPLAT_STEPS)):  # _sp_chains
                _set_uniform(points, "_sp_phase", phase)
                points.run(-(-chains // glsl.SPLAT_GROUP), 1, count)
                self.ctx.memory_barrier()
            self._render_image(compiled, base, count)
            if compiled.backend == "fragment":
                # the draw reads the density SSBO; the next clear must wait for it (a tiled driver
                # runs draws late: a barrier orders shader writes, not a later clear after reads)
                self.ctx.finish()

    def _dispatch_compute(self, compiled: _Compiled, first: int, n: int) -> None:
        _set_uniform(compiled.program, "_sp_first", first)  # gone when the program writes nothing
        gx, gy = glsl.COMPUTE_GROUP
        compiled.program.run((self.width + gx - 1) // gx, (self.height + gy - 1) // gy, n)

    def _atlas_layout(self) -> tuple[int, int, int, int]:
        """-> (tile width, tile height, columns, rows): tiles rounded up to even sizes."""
        tw, th = self.width + self.width % 2, self.height + self.height % 2
        limit = min(self.ctx.info["GL_MAX_TEXTURE_SIZE"], *self.ctx.info["GL_MAX_VIEWPORT_DIMS"])
        cols = max(1, min(self.max_batch, limit // tw))
        rows = max(1, min(-(-self.max_batch // cols), limit // th))
        return tw, th, cols, rows

    def _draw_fragment(self, compiled: _Compiled, first: int, n: int) -> None:
        tw, th, cols, rows = self._atlas_layout()
        if self._atlas is None:
            self._atlas = self.ctx.empty_framebuffer((cols * tw, rows * th))
        prog = compiled.program
        _set_uniform(prog, "_sp_tile", (tw, th))
        _set_uniform(prog, "_sp_cols", cols)
        self._atlas.use()
        for base in range(first, first + n, cols * rows):
            count = min(cols * rows, first + n - base)
            _set_uniform(prog, "_sp_first", base)
            _set_uniform(prog, "_sp_count", count)
            self._atlas.viewport = (0, 0, cols * tw, -(-count // cols) * th)
            compiled.vao.render(moderngl.TRIANGLES, vertices=3)

    # -- validation --------------------------------------------------------------------------

    def check(
        self,
        program: Program,
        time_limit: float = 30.0,
        max_nan: float = MAX_NAN,
        time_range: tuple[float, float] = TIME_RANGE,
    ) -> str | None:
        """Compile and render probe images at the run's size and iTime range; None if the program
        is usable, else the reason it is rejected.

        Probes render one at a time until ``time_limit`` seconds are spent (a program too slow to
        render MIN_PROBES images is rejected). Rejected: more than ``max_nan`` of the probes'
        channel values NaN (a GPU shows such a channel as 0), or most probe images one colour
        even after REDRAWS new draws each, as a run draws them (synpat.gen.redraw), so a fade-in
        that is black at small iTime is kept.
        """
        try:
            self.compile(program)
        except CompileError as e:
            return str(e)
        sampler = Sampler(1, seed=0x5EED, time_range=tuple(time_range))
        probe, redraws = sampler.range(0, PROBE_SAMPLES), Redraws(sampler.redraw)
        images = []
        start = time.perf_counter()
        for i in range(PROBE_SAMPLES):
            images.append(self.render_rgba(program, probe.take(np.array([i])), redraws)[0])
            seconds = time.perf_counter() - start
            if seconds > time_limit:
                break
        n = len(images)
        if n < MIN_PROBES:
            return (
                f"{program.path}: too slow: {seconds / n:.1f} s an image at {self.width}x{self.height}, "
                f"{n} of the {MIN_PROBES} probe images needed in --check-seconds {time_limit:g}"
            )
        images = np.stack(images)  # (n, H, W, 4)
        nan = float((255 - images[..., 3].astype(np.float64)).mean() / 255)  # alpha counts bad channels
        if nan > max_nan:
            return (
                f"{program.path}: renders NaN in {100 * nan:.0f}% of its probe images' channel values "
                f"(--max-nan {max_nan:g})"
            )
        flat = redraws.constant  # probes the GPU's one-colour test still flagged after their redraws
        if 2 * flat > n:
            return (
                f"{program.path}: renders constant images ({flat} of {n} probe images are one colour "
                f"after {REDRAWS} new draws each)"
            )
        return None

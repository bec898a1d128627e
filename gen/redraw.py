"""Samples that render one colour are drawn again instead of being written.

A program that passed its checks can still render a flat image for some draws: a fade-in is
black at small iTime, a zoom can land inside a region of one colour. Right after a chunk is
rendered, one compute pass measures each image's widest channel range on the GPU (a few bytes
per image come back, the pixels stay where they are); the images whose range is at most
CONSTANT_RANGE get new iTime, iSeed and iParams from ``Sampler.redraw`` (same index, same
program, so labels and program shares do not change) and only those are rendered again, up to
REDRAWS times. What is still one colour after that is kept and counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import moderngl
import numpy as np

from .sampler import Samples

CONSTANT_RANGE = 2  # an image whose values span no more than this (per channel) is one colour
REDRAWS = 3  # new draws tried for a sample before a one-colour image is kept

_GROUP = 256
_SPREAD = f"""#version 430
layout(local_size_x = {_GROUP}) in;
layout(std430, binding = 1) readonly buffer Pixels {{ uint px[]; }};
layout(std430, binding = 2) writeonly buffer Spread {{ uint spread[]; }};
uniform uint pixels;   // W * H
shared uint lo[3], hi[3];
void main() {{
    uint img = gl_WorkGroupID.x, me = gl_LocalInvocationIndex;
    if (me == 0u) {{ lo[0] = lo[1] = lo[2] = 255u; hi[0] = hi[1] = hi[2] = 0u; }}
    barrier();
    uvec3 mn = uvec3(255u), mx = uvec3(0u);
    for (uint i = me; i < pixels; i += {_GROUP}u) {{
        uint p = px[img * pixels + i];
        uvec3 c = uvec3(p & 255u, (p >> 8u) & 255u, (p >> 16u) & 255u);
        mn = min(mn, c);
        mx = max(mx, c);
    }}
    for (int k = 0; k < 3; k++) {{ atomicMin(lo[k], mn[k]); atomicMax(hi[k], mx[k]); }}
    barrier();
    if (me == 0u) spread[img] = max(max(hi[0] - lo[0], hi[1] - lo[1]), hi[2] - lo[2]);
}}
"""


class SpreadPass:
    """Widest channel range of each image in a renderer's output SSBO, computed on its GL context."""

    def __init__(self, ctx: moderngl.Context, max_batch: int, pixels: int):
        self.program = ctx.compute_shader(_SPREAD)
        self.program["pixels"].value = pixels
        self.buffer = ctx.buffer(reserve=max_batch * 4)
        self.ctx = ctx

    def __call__(self, output: moderngl.Buffer, n: int) -> np.ndarray:
        """Images [0, n) of ``output`` ((n, H, W) packed RGBA8) -> (n,) uint32, max over RGB of max - min."""
        output.bind_to_storage_buffer(1)
        self.buffer.bind_to_storage_buffer(2)
        self.program.run(n)
        self.ctx.memory_barrier()
        return np.frombuffer(self.buffer.read(size=n * 4), dtype=np.uint32)

    def release(self) -> None:
        self.program.release()
        self.buffer.release()


@dataclass
class Redraws:
    """How a renderer redraws one-colour samples, and the counts over its use."""

    redraw: Callable[[Samples, int], Samples]  # Sampler.redraw: (samples, attempt >= 1) -> new draws
    redrawn: int = 0  # samples whose first draw was one colour
    flat: list[np.ndarray] = field(default_factory=list)  # index arrays: still one colour after REDRAWS

    @property
    def constant(self) -> int:
        """Samples still one colour after REDRAWS new draws (kept as they are)."""
        return sum(len(f) for f in self.flat)

    def flat_index(self) -> np.ndarray:
        """(M,) int64: the global indices of those samples."""
        return np.concatenate(self.flat) if self.flat else np.zeros(0, dtype=np.int64)

    def apply(self, flat: Callable[[int], np.ndarray], render_rows, chunk: Samples) -> Samples:
        """``chunk`` was just rendered; draw its flat samples again, rendering them with
        ``render_rows(chunk, rows)`` -> the chunk's final Samples. ``flat(n)``: (n,) bool, which
        of the chunk's outputs are flat (an image of one colour, a silent clip)."""
        rows = np.flatnonzero(flat(len(chunk)))
        self.redrawn += len(rows)
        for attempt in range(1, REDRAWS + 1):
            if not len(rows):
                break
            chunk = chunk.replace(rows, self.redraw(chunk.take(rows), attempt))
            render_rows(chunk, rows)
            rows = rows[flat(len(chunk))[rows]]
        if len(rows):  # a stream runs forever: keep only what is there
            self.flat.append(chunk.index[rows])
        return chunk

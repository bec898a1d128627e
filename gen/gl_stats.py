"""The statistics of synpat.gen.stats computed on the GPU, on the images a Renderer just rendered.

Same definitions and the same float32 operations in the same order (``precise``, no fused
multiply-add), so the values match the numpy ones: integer histograms, sums and squares are
exact; the Canny steps (luma, blur, Sobel, non-maximum suppression, hysteresis) repeat numpy's
arithmetic. Passes over the renderer's output SSBO (images [0, n), packed RGBA8, top row first):
    vblur, hblur  luma -> 5-tap blur down the columns, then along the rows      (a, then b)
    magnitude     squared Sobel magnitude of the blurred luma                   (a)
    suppress      non-maximum suppression and thresholds -> 0, 1 weak, 2 strong (e)
    grow          hysteresis in place: weak pixels next to strong ones flood their chain;
                  repeated only when a flood was cut short (the same closure as numpy's) (e)
    rows          per image row: colour and luma histograms (atomics), sums of |neighbour
                  differences|, of values and squares per channel, strong-edge count
The host reads the histograms and the row sums and finishes as numpy does.
"""

from __future__ import annotations

import numpy as np

from .sampler import Samples
from .stats import (BLUR_TAPS, COLOUR_LEVELS, EDGE_HIGH, EDGE_LOW, LUMA_SCALE, LUMA_WEIGHTS, SECTOR_TAN,
                    entropy_of_counts, moments_of_sums, tv_of_sums)

ROW_FIELDS = 8          # tv, sum r g b, squares r g b, edges
HIST_BINS = COLOUR_LEVELS ** 3 + 256

_HEADER = """#version 430
layout(local_size_x = {lx}, local_size_y = {ly}) in;
layout(std430, binding = 1) readonly buffer Pixels {{ uint px[]; }};
layout(std430, binding = 2) buffer A {{ float a[]; }};
layout(std430, binding = 3) buffer B {{ float b[]; }};
layout(std430, binding = 4) buffer E {{ uint e[]; }};
layout(std430, binding = 5) buffer Hist {{ uint hist[]; }};
layout(std430, binding = 6) buffer Rows {{ uint rows[]; }};
layout(std430, binding = 7) buffer Flag {{ uint changed; uint overflow; }};
uniform ivec2 size;   // W, H
int W = size.x, H = size.y;
int at(int img, int y, int x) {{ return (img * H + y) * W + x; }}
int cy(int y) {{ return clamp(y, 0, H - 1); }}
int cx(int x) {{ return clamp(x, 0, W - 1); }}
ivec3 rgb(uint p) {{ return ivec3(int(p & 255u), int((p >> 8u) & 255u), int((p >> 16u) & 255u)); }}
int weigh(ivec3 c, ivec3 w) {{ return c.r * w.r + c.g * w.g + c.b * w.b; }}
"""

_PIXEL = "ivec3 g = ivec3(gl_GlobalInvocationID); int x = g.x, y = g.y, img = g.z; if (x >= W || y >= H) return;\n"

_SOURCES = {
    "vblur": """
uniform float taps[5];
uniform float lumaScale;
uniform ivec3 lumaWeights;
void main() {
    """ + _PIXEL + """
    precise float acc = 0.0;
    for (int i = 0; i < 5; i++) {
        precise float l = float(weigh(rgb(px[at(img, cy(y + i - 2), x)]), lumaWeights)) * lumaScale;
        acc += taps[i] * l;
    }
    a[at(img, y, x)] = acc;
}""",
    "hblur": """
uniform float taps[5];
void main() {
    """ + _PIXEL + """
    precise float acc = 0.0;
    for (int i = 0; i < 5; i++) acc += taps[i] * a[at(img, y, cx(x + i - 2))];
    b[at(img, y, x)] = acc;
}""",
    "magnitude": """
float colsum(int img, int y, int x) { precise float s = (b[at(img, cy(y - 1), x)] + 2.0 * b[at(img, y, x)]) + b[at(img, cy(y + 1), x)]; return s; }
float rowsum(int img, int y, int x) { precise float s = (b[at(img, y, cx(x - 1))] + 2.0 * b[at(img, y, x)]) + b[at(img, y, cx(x + 1))]; return s; }
void main() {
    """ + _PIXEL + """
    precise float gx = (colsum(img, y, cx(x + 1)) - colsum(img, y, cx(x - 1))) * 0.25;
    precise float gy = (rowsum(img, cy(y + 1), x) - rowsum(img, cy(y - 1), x)) * 0.25;
    precise float m = gx * gx + gy * gy;
    a[at(img, y, x)] = m;
}""",
    "suppress": """
uniform vec2 sectorTan;
uniform float lowSq, highSq;
float colsum(int img, int y, int x) { precise float s = (b[at(img, cy(y - 1), x)] + 2.0 * b[at(img, y, x)]) + b[at(img, cy(y + 1), x)]; return s; }
float rowsum(int img, int y, int x) { precise float s = (b[at(img, y, cx(x - 1))] + 2.0 * b[at(img, y, x)]) + b[at(img, y, cx(x + 1))]; return s; }
float mag(int img, int y, int x) { return (y < 0 || y >= H || x < 0 || x >= W) ? 0.0 : a[at(img, y, x)]; }
bool peak(int img, int y, int x, float m, int dy, int dx) {
    return m > mag(img, y + dy, x + dx) && m >= mag(img, y - dy, x - dx);
}
void main() {
    """ + _PIXEL + """
    precise float gx = (colsum(img, y, cx(x + 1)) - colsum(img, y, cx(x - 1))) * 0.25;
    precise float gy = (rowsum(img, cy(y + 1), x) - rowsum(img, cy(y - 1), x)) * 0.25;
    precise float ax = abs(gx), ay = abs(gy);
    precise float t0 = sectorTan.x * ax, t1 = sectorTan.y * ax, gxy = gx * gy;
    float m = a[at(img, y, x)];
    bool level = ay <= t0, steep = ay >= t1, diagonal = !(level || steep), rising = gxy > 0.0;
    bool keep = (level && peak(img, y, x, m, 0, 1)) || (diagonal && rising && peak(img, y, x, m, 1, 1))
             || (steep && peak(img, y, x, m, 1, 0)) || (diagonal && !rising && peak(img, y, x, m, 1, -1));
    bool weak = keep && m >= lowSq;
    e[at(img, y, x)] = (weak && m >= highSq) ? 2u : (weak ? 1u : 0u);
}""",
    "grow": """
// A weak pixel next to a strong one turns strong and floods on through the weak pixels it
// reaches (a depth-first walk): a whole chain in one pass, not one pixel per pass. Only a walk
// that outgrows its stack or step budget leaves work for another pass (counted in overflow).
bool strongAround(int img, int y, int x) {
    for (int dy = -1; dy <= 1; dy++)
    for (int dx = -1; dx <= 1; dx++) {
        int yy = y + dy, xx = x + dx;
        if (yy >= 0 && yy < H && xx >= 0 && xx < W && e[at(img, yy, xx)] == 2u) return true;
    }
    return false;
}
void main() {
    """ + _PIXEL + """
    int i = at(img, y, x);
    if (e[i] != 1u || !strongAround(img, y, x)) return;
    e[i] = 2u;
    atomicAdd(changed, 1u);
    ivec2 stack[64];
    int top = 0;
    stack[top++] = ivec2(x, y);
    for (int step = 0; step < 1024 && top > 0; step++) {
        ivec2 p = stack[--top];
        for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
            int yy = p.y + dy, xx = p.x + dx;
            if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
            int q = at(img, yy, xx);
            if (e[q] == 1u) {
                e[q] = 2u;
                atomicAdd(changed, 1u);
                if (top < 64) stack[top++] = ivec2(xx, yy);
                else atomicAdd(overflow, 1u);
            }
        }
    }
    if (top > 0) atomicAdd(overflow, 1u);
}""",
    "rows": """
uniform ivec3 lumaWeights;
uniform int colourBits;
void main() {
    int y = int(gl_GlobalInvocationID.x), img = int(gl_GlobalInvocationID.y);
    if (y >= H) return;
    uint tv = 0u, edges = 0u;
    uvec3 s = uvec3(0u), q = uvec3(0u);
    int levels = 1 << colourBits, shift = 8 - colourBits;
    for (int x = 0; x < W; x++) {
        ivec3 c = rgb(px[at(img, y, x)]);
        ivec3 k = c >> shift;
        atomicAdd(hist[img * HIST + (k.r * levels + k.g) * levels + k.b], 1u);
        atomicAdd(hist[img * HIST + levels * levels * levels + (weigh(c, lumaWeights) + 500) / 1000], 1u);
        if (x + 1 < W) { ivec3 d = abs(rgb(px[at(img, y, x + 1)]) - c); tv += uint(d.r + d.g + d.b); }
        if (y + 1 < H) { ivec3 d = abs(rgb(px[at(img, y + 1, x)]) - c); tv += uint(d.r + d.g + d.b); }
        s += uvec3(c);
        q += uvec3(c * c);
        edges += e[at(img, y, x)] == 2u ? 1u : 0u;
    }
    int o = (img * H + y) * 8;
    rows[o] = tv; rows[o + 1] = s.r; rows[o + 2] = s.g; rows[o + 3] = s.b;
    rows[o + 4] = q.r; rows[o + 5] = q.g; rows[o + 6] = q.b; rows[o + 7] = edges;
}""",
}


def _set(prog, name: str, value) -> None:
    if name in prog:
        prog[name].value = value


class GLStats:
    """The statistics of the images in ``renderer``'s output SSBO, on its GL context."""

    def __init__(self, renderer):
        self.renderer = renderer
        ctx = renderer.ctx
        self.ctx = ctx
        self.passes = {}
        for name, body in _SOURCES.items():
            lx, ly = (64, 1) if name == "rows" else (8, 8)
            source = _HEADER.format(lx=lx, ly=ly) + f"const int HIST = {HIST_BINS};\n" + body
            prog = ctx.compute_shader(source)
            _set(prog, "size", (renderer.width, renderer.height))
            _set(prog, "taps", tuple(float(t) for t in BLUR_TAPS))
            _set(prog, "lumaScale", float(LUMA_SCALE))
            _set(prog, "lumaWeights", LUMA_WEIGHTS)
            _set(prog, "sectorTan", tuple(float(t) for t in SECTOR_TAN))
            _set(prog, "lowSq", float(np.float32(EDGE_LOW * EDGE_LOW)))
            _set(prog, "highSq", float(np.float32(EDGE_HIGH * EDGE_HIGH)))
            _set(prog, "colourBits", int(np.log2(COLOUR_LEVELS)))
            self.passes[name] = prog
        n, h, w = renderer.max_batch, renderer.height, renderer.width
        self.a, self.b, self.e = (ctx.buffer(reserve=n * h * w * 4) for _ in range(3))
        self.hist = ctx.buffer(reserve=n * HIST_BINS * 4)
        self.rows = ctx.buffer(reserve=n * h * ROW_FIELDS * 4)
        self.flag = ctx.buffer(reserve=8)

    def release(self) -> None:
        """Free the passes and buffers (the renderer and its context stay)."""
        for obj in [*self.passes.values(), self.a, self.b, self.e, self.hist, self.rows, self.flag]:
            obj.release()
        self.passes = {}

    def __enter__(self) -> "GLStats":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _run(self, name: str, n: int) -> None:
        w, h = self.renderer.width, self.renderer.height
        if name == "rows":
            self.passes[name].run((h + 63) // 64, n, 1)
        else:
            self.passes[name].run((w + 7) // 8, (h + 7) // 8, n)
        self.ctx.memory_barrier()

    def measure(self, n: int) -> dict[str, np.ndarray]:
        """Statistics of images [0, n) of the output SSBO -> as synpat.gen.stats.image_stats."""
        h, w = self.renderer.height, self.renderer.width
        self.renderer.output_buffer.bind_to_storage_buffer(1)
        for binding, buf in enumerate((self.a, self.b, self.e, self.hist, self.rows, self.flag), start=2):
            buf.bind_to_storage_buffer(binding)
        for name in ("vblur", "hblur", "magnitude", "suppress"):
            self._run(name, n)
        while True:   # hysteresis: again only while a walk was cut short and changed something
            self.flag.write(bytes(8))
            self._run("grow", n)
            changed, overflow = np.frombuffer(self.flag.read(), np.uint32)
            if changed == 0 or overflow == 0:
                break
        self.hist.clear()
        self._run("rows", n)
        hist = np.frombuffer(self.hist.read(size=n * HIST_BINS * 4), np.uint32).reshape(n, HIST_BINS)
        rows = np.frombuffer(self.rows.read(size=n * h * ROW_FIELDS * 4), np.uint32).reshape(n, h, ROW_FIELDS)
        sums = rows.astype(np.int64).sum(axis=1)                       # (n, ROW_FIELDS)
        mean, std = moments_of_sums(sums[:, 1:4], sums[:, 4:7], h * w)
        colours = COLOUR_LEVELS ** 3
        return {"colour_entropy": entropy_of_counts(hist[:, :colours]),
                "brightness_entropy": entropy_of_counts(hist[:, colours:]),
                "total_variation": tv_of_sums(sums[:, 0], h, w),
                "edge_density": (sums[:, 7] / float(h * w)).astype(np.float32),
                "mean": mean, "std": std}


def render_measured(renderer, stats: GLStats, programs, samples: Samples,
                    redraws=None) -> tuple[np.ndarray, dict[str, np.ndarray], Samples]:
    """Render like Renderer.render_varied and measure each chunk while it is on the GPU
    -> (images (N, H, W, 3) uint8, statistics of each, the Samples rendered; in sample order)."""
    n, h, w = len(samples), renderer.height, renderer.width
    rgba = np.empty((n, h, w, 4), dtype=np.uint8)
    parts = []

    def read(first: int, count: int) -> None:
        renderer.output_buffer.read_into(rgba[first:first + count], size=count * w * h * 4)
        parts.append(stats.measure(count))

    order, rendered = renderer.render_in_program_order(programs, samples, read, redraws)
    images = np.empty((n, h, w, 3), dtype=np.uint8)
    images[order] = rgba[..., :3]
    measured = {}
    for k in parts[0]:
        values = np.concatenate([p[k] for p in parts])
        measured[k] = np.empty_like(values)
        measured[k][order] = values
    return images, measured, rendered

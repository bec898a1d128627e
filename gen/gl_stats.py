"""The statistics of synpat.gen.stats computed on the GPU, on the images a Renderer just rendered.

Same definitions and the same float32 operations in the same order (``precise``, no fused
multiply-add), so the values match the numpy ones exactly: histograms, sums and squares are
integers; the Canny steps (luma, blur, Sobel, non-maximum suppression, hysteresis) repeat numpy's
arithmetic. Two passes over the renderer's output SSBO (images [0, n), packed RGBA8, top row first):

    measure  one invocation walks a strip of STRIP columns down a band of rows, holding everything
             in registers: the packed pixels of five rows (plus a 4-column halo each side), the
             blurred rows, the Sobel magnitudes of three rows. Each pixel is read from memory about
             (STRIP + 8) / STRIP times (the vertical blur and Sobel windows slide; nothing is
             written back in between). Per row it writes one word of 2-bit Canny classes (1 weak,
             3 strong; 16 pixels a word) and adds the row's colour and luma histogram counts
             (global atomics, or a workgroup's shared histogram merged once with ``shared_hist``);
             at the end one record of integer sums (TV, sum and squares per channel, strong pixels).
    grow     hysteresis on the packed classes, one invocation an image: sweeps down, up, down...
             turning weak pixels next to strong ones strong with bit operations (a 3x3 dilation
             of 16 pixels at a time, flooded along the row to its end) until a sweep turns
             nothing; it counts the pixels it turns. The host runs it again until a pass turns
             nothing (on llvmpipe the first pass sometimes stops a sweep short; the second one
             costs one sweep) -- the same closure as numpy's iterated dilation.

The host reads the turned counts after each grow pass and the histograms and records once, and
finishes as numpy does. On llvmpipe every per-lane memory access costs about as much as
twenty arithmetic operations, so the passes read each pixel ~1.5 times and write 1/16 word a
pixel; on a GPU the same layout gives long coalesced walks and few dispatches.
"""

from __future__ import annotations

import numpy as np

from .sampler import Samples
from .stats import (
    BLUR_TAPS,
    COLOUR_LEVELS,
    EDGE_HIGH,
    EDGE_LOW,
    LUMA_SCALE,
    LUMA_WEIGHTS,
    SECTOR_TAN,
    entropy_of_counts,
    moments_of_sums,
    tv_of_sums,
)

RECORD_FIELDS = 8  # tv, sum r g b, squares r g b, strong pixels
HIST_BINS = COLOUR_LEVELS**3 + 256
STRIP = 16  # columns an invocation walks: one 32-bit word of 2-bit classes
GROW_LANES = 8
MAX_BAND = 1024  # rows at most an invocation walks: keeps its sums of squares within 32 bits


def _f32(x) -> str:
    """An exact float32 literal for GLSL."""
    return f"uintBitsToFloat(0x{int(np.float32(x).view(np.uint32)):08x}u)"


_HEADER = """#version 430
layout(local_size_x = {lx}, local_size_y = {ly}) in;
layout(std430, binding = 1) readonly buffer Pixels {{ uint px[]; }};
layout(std430, binding = 2) coherent buffer Edges {{ uint e[]; }};       // (n, H, STRIPS) words of 2-bit classes
layout(std430, binding = 3) buffer Hist {{ uint hist[]; }};      // (n, HIST): colour bins then luma bins
layout(std430, binding = 4) buffer Records {{ uint rec[]; }};    // (n, BANDS, STRIPS, RECORD)
layout(std430, binding = 5) buffer Grown {{ uint changed; uint grown[]; }};   // pixels turned strong: in a pass, per image
const int W = {w}, H = {h}, K = {strip}, CW = K + 8, STRIPS = {strips}, BAND = {band}, BANDS = {bands};
const int HIST = {hist}, COLOURS = {colours}, LEVEL_SHIFT = {shift}, LEVEL_BITS = {bits}, RECORD = {record};
const int LAST_X0 = (STRIPS - 1) * K;
int cx(int x) {{ return clamp(x, 0, W - 1); }}
int cy(int y) {{ return clamp(y, 0, H - 1); }}
ivec3 rgb(uint p) {{ return ivec3(int(p & 255u), int((p >> 8u) & 255u), int((p >> 16u) & 255u)); }}
"""

_MEASURE = """
const float TAPS[5] = float[5]({taps});
const float LUMA_SCALE = {luma_scale}, TAN0 = {tan0}, TAN1 = {tan1}, LOW_SQ = {low_sq}, HIGH_SQ = {high_sq};
const ivec3 LUMA_W = ivec3({luma_w});
#define SHARED_HIST {shared_hist}
#if SHARED_HIST
shared uint sh[HIST];
#endif

int img, x0, ya, yb, c;                // c: the row the pixel ring is centred on
uint P[5][CW];                         // packed pixels of rows c-2..c+2 (clamped), columns x0-4.. (clamped)
float B[3][K + 4];                     // blurred luma, logical rows y-1, y, y+1; columns x0-2..x0+K+1
float M[3][K + 2];                     // squared Sobel magnitude, rows y-2, y-1, y (0 outside); columns x0-1..x0+K
float GX[2][K], GY[2][K];              // the gradient of rows y-1, y at the own columns
uint tv = 0u, strong = 0u;
uvec3 s = uvec3(0u), q = uvec3(0u);

void loadRow(int slot, int y) {
    int base = (img * H + cy(y)) * W;
    for (int i = 0; i < CW; i++) P[slot][i] = px[base + cx(x0 - 4 + i)];
}

float luma(uint p) {
    ivec3 v = rgb(p);
    precise float l = float(v.r * LUMA_W.r + v.g * LUMA_W.g + v.b * LUMA_W.b) * LUMA_SCALE;
    return l;
}

void blurRow(out float row[K + 4]) {   // b at the ring's centre row: vertical taps, then horizontal
    float v[CW];
    for (int i = 0; i < CW; i++) {
        precise float acc = 0.0;
        for (int k = 0; k < 5; k++) acc += TAPS[k] * luma(P[k][i]);
        v[i] = acc;
    }
    for (int j = 0; j < K + 4; j++) {
        precise float acc = 0.0;
        for (int d = 0; d < 5; d++) acc += TAPS[d] * v[j + d];
        row[j] = acc;
    }
    // columns outside the image hold the edge column's value (numpy pads b by replication)
    if (x0 == 0) { row[0] = row[2]; row[1] = row[2]; }
    if (x0 == LAST_X0) { for (int j = W - 1 - LAST_X0 + 3; j < K + 4; j++) row[j] = row[W - 1 - LAST_X0 + 2]; }
}

void advance(int logical) {            // B <- logical rows (.., logical): the new one is b(clamp(logical))
    B[0] = B[1]; B[1] = B[2];
    if (logical > c && logical <= H - 1) {
        for (int k = 0; k < 4; k++) P[k] = P[k + 1];
        c++;
        loadRow(4, c + 2);
        blurRow(B[2]);
    }
}

void addHist(int bin, uint count) {
#if SHARED_HIST
    atomicAdd(sh[bin], count);
#else
    atomicAdd(hist[img * HIST + bin], count);
#endif
}

// Runs of one bin (smooth images have long ones) are counted here and added once: 0 colour, 1 luma.
int runBin[2] = int[2](0, 0);
uint runCount[2] = uint[2](0u, 0u);
void countBin(int which, int bin) {
    if (bin == runBin[which]) { runCount[which]++; return; }
    if (runCount[which] != 0u) addHist(runBin[which], runCount[which]);
    runBin[which] = bin;
    runCount[which] = 1u;
}

void rowStats(int y, bool below) {      // own pixels of row y (ring slot 1, or 2 on the last row)
    uint cur[K + 1], nxt[K];
    for (int i = 0; i <= K; i++) cur[i] = below ? P[1][4 + i] : P[2][4 + i];
    for (int i = 0; i < K; i++) nxt[i] = P[2][4 + i];
    for (int i = 0; i < K; i++) {
        if (x0 + i < W) {
            ivec3 v = rgb(cur[i]);
            ivec3 k = v >> LEVEL_SHIFT;
            countBin(0, (((k.r << LEVEL_BITS) | k.g) << LEVEL_BITS) | k.b);
            countBin(1, COLOURS + (v.r * LUMA_W.r + v.g * LUMA_W.g + v.b * LUMA_W.b + 500) / 1000);
            s += uvec3(v);
            q += uvec3(v * v);
            if (x0 + i + 1 < W) { ivec3 d = abs(rgb(cur[i + 1]) - v); tv += uint(d.r + d.g + d.b); }
            if (below) { ivec3 d = abs(rgb(nxt[i]) - v); tv += uint(d.r + d.g + d.b); }
        }
    }
}

void magnitudeRow(int y) {             // M[2] and GX/GY[1] for row y (zeros outside the image)
    for (int j = 0; j < K + 2; j++) {
        precise float c0 = (B[0][j] + 2.0 * B[1][j]) + B[2][j];
        precise float c2 = (B[0][j + 2] + 2.0 * B[1][j + 2]) + B[2][j + 2];
        precise float r0 = (B[0][j] + 2.0 * B[0][j + 1]) + B[0][j + 2];
        precise float r2 = (B[2][j] + 2.0 * B[2][j + 1]) + B[2][j + 2];
        precise float gx = (c2 - c0) * 0.25;
        precise float gy = (r2 - r0) * 0.25;
        precise float m = gx * gx + gy * gy;
        int x = x0 - 1 + j;
        M[2][j] = (y < 0 || y >= H || x < 0 || x >= W) ? 0.0 : m;
        if (j >= 1 && j <= K) { GX[1][j - 1] = gx; GY[1][j - 1] = gy; }
    }
}

void classify(int y) {                 // row y from M rows y-1, y, y+1 and the gradient of row y
    uint word = 0u;
    for (int i = 0; i < K; i++) {
        float m = M[1][i + 1], gx = GX[0][i], gy = GY[0][i];
        precise float ax = abs(gx), ay = abs(gy);
        precise float t0 = TAN0 * ax, t1 = TAN1 * ax, gxy = gx * gy;
        bool level = ay <= t0, steep = ay >= t1, diagonal = !(level || steep), rising = gxy > 0.0;
        bool keep = (level && m > M[1][i + 2] && m >= M[1][i])
                 || (diagonal && rising && m > M[2][i + 2] && m >= M[0][i])
                 || (steep && m > M[2][i + 1] && m >= M[0][i + 1])
                 || (diagonal && !rising && m > M[2][i] && m >= M[0][i + 2]);
        bool weak = keep && m >= LOW_SQ;
        word |= (weak ? (m >= HIGH_SQ ? 3u : 1u) : 0u) << (2 * i);
    }
    e[(img * H + y) * STRIPS + x0 / K] = word;
    strong += uint(bitCount(word & (word >> 1u) & 0x55555555u));
}

void main() {
    int strip = int(gl_GlobalInvocationID.x), band = int(gl_GlobalInvocationID.y);
    img = int(gl_GlobalInvocationID.z);
    bool mine = strip < STRIPS && band < BANDS;
#if SHARED_HIST
    for (int i = int(gl_LocalInvocationIndex); i < HIST; i += int(gl_WorkGroupSize.x * gl_WorkGroupSize.y)) sh[i] = 0u;
    barrier();
#endif
    if (mine) {
        x0 = strip * K; ya = band * BAND; yb = min(ya + BAND, H);
        c = max(ya - 2, 0);
        for (int k = 0; k < 5; k++) loadRow(k, c - 2 + k);
        blurRow(B[2]);
        advance(ya - 1);
        advance(ya);
        for (int y = ya - 1; y <= yb; y++) {
            if (y >= ya && y < yb) rowStats(y, y + 1 < H);
            magnitudeRow(y);
            if (y - 1 >= ya) classify(y - 1);
            M[0] = M[1]; M[1] = M[2]; GX[0] = GX[1]; GY[0] = GY[1];
            if (y < yb) advance(y + 2);
        }
        for (int which = 0; which < 2; which++)
            if (runCount[which] != 0u) addHist(runBin[which], runCount[which]);
        int o = ((img * BANDS + band) * STRIPS + strip) * RECORD;
        rec[o] = tv; rec[o + 1] = s.r; rec[o + 2] = s.g; rec[o + 3] = s.b;
        rec[o + 4] = q.r; rec[o + 5] = q.g; rec[o + 6] = q.b; rec[o + 7] = strong;
    }
#if SHARED_HIST
    barrier();
    for (int i = int(gl_LocalInvocationIndex); i < HIST; i += int(gl_WorkGroupSize.x * gl_WorkGroupSize.y))
        if (sh[i] != 0u) atomicAdd(hist[img * HIST + i], sh[i]);
#endif
}
"""

_GROW = """
// One invocation owns an image's words and sweeps them down, then up, then down... until a sweep
// turns nothing: row by row it floods the weak pixels next to strong ones (the finished row
// before, the row after as it stands, the row itself) to their end with bit operations, 16
// pixels a word, across the words of the row. The same closure as numpy's iterated dilation.
uint strongBits(uint w) { return (w >> 1u) & 0x55555555u; }
uint hdil(uint s) { return s | (s << 2u) | (s >> 2u); }
uint load(int img, int y, int ws) { return (y < 0 || y >= H) ? 0u : e[(img * H + y) * STRIPS + ws]; }
uint flood(uint weak, uint t, uint around) {   // t grown within weak, from itself and around, to its end
    for (int j = 0; j < K; j++) t = weak & (hdil(t) | around);
    return t;
}

uint sweep(int img, int dir) {
    uint before[STRIPS], cur[STRIPS], nxt[STRIPS], after[STRIPS], t[STRIPS];
    int y = dir > 0 ? 0 : H - 1;
    for (int k = 0; k < STRIPS; k++) { before[k] = 0u; cur[k] = load(img, y, k); }
    uint turned = 0u;
    for (int i = 0; i < H; i++) {
        for (int k = 0; k < STRIPS; k++) nxt[k] = load(img, y + dir, k);
        for (int k = 0; k < STRIPS; k++) {
            after[k] = hdil(strongBits(nxt[k])) | (k > 0 ? strongBits(nxt[k - 1]) >> 30u : 0u)
                     | (k + 1 < STRIPS ? (strongBits(nxt[k + 1]) & 1u) << 30u : 0u);
            t[k] = strongBits(cur[k]);
        }
        bool moved = true;
        while (moved) {                  // across the row's words, both ways, until still
            moved = false;
            for (int j = 0; j < 2 * STRIPS; j++) {
                int k = j < STRIPS ? j : 2 * STRIPS - 1 - j;
                uint side = (k > 0 ? t[k - 1] >> 30u : 0u) | (k + 1 < STRIPS ? (t[k + 1] & 1u) << 30u : 0u);
                uint g = flood(cur[k] & 0x55555555u, t[k], side | before[k] | after[k]);
                if (g != t[k]) moved = true;
                t[k] = g;
            }
        }
        for (int k = 0; k < STRIPS; k++) {
            uint s = strongBits(cur[k]);
            if (t[k] != s) { e[(img * H + y) * STRIPS + k] = cur[k] | (t[k] << 1u); turned += uint(bitCount(t[k] & ~s)); }
        }
        for (int k = 0; k < STRIPS; k++)
            before[k] = hdil(t[k]) | (k > 0 ? t[k - 1] >> 30u : 0u) | (k + 1 < STRIPS ? (t[k + 1] & 1u) << 30u : 0u);
        for (int k = 0; k < STRIPS; k++) cur[k] = nxt[k];
        y += dir;
    }
    return turned;
}

void main() {
    int img = int(gl_GlobalInvocationID.x);
    if (img >= IMAGES) return;
    uint total = 0u, turned = 1u;
    for (int dir = 1; turned != 0u; dir = -dir) {
        turned = sweep(img, dir);
        total += turned;
    }
    grown[img] += total;
    if (total != 0u) atomicAdd(changed, total);
}
"""


class GLStats:
    """The statistics of the images in ``renderer``'s output SSBO, on its GL context.

    ``band``: rows an invocation walks (default: the whole height on llvmpipe, where long walks
    amortise the halo; 16 on a GPU, for enough invocations); ``shared_hist``: count histograms in
    workgroup shared memory and merge them once per workgroup (default on a GPU; on llvmpipe shared
    atomics cost more than global ones)."""

    def __init__(self, renderer, band: int | None = None, shared_hist: bool | None = None):
        self.renderer = renderer
        ctx = renderer.ctx
        self.ctx = ctx
        cpu = "llvmpipe" in ctx.info["GL_RENDERER"]
        w, h = renderer.width, renderer.height
        self.band = max(2, min(int(band or (h if cpu else 16)), h, MAX_BAND))
        self.shared_hist = (not cpu) if shared_hist is None else bool(shared_hist)
        self.strips, self.bands = -(-w // STRIP), -(-h // self.band)
        # workgroups: 16 strips x up to 4 bands of one image (llvmpipe runs 8 invocations of a row together)
        self.local = (16, max(1, min(4, self.bands)))
        consts = dict(
            w=w,
            h=h,
            strip=STRIP,
            strips=self.strips,
            band=self.band,
            bands=self.bands,
            hist=HIST_BINS,
            colours=COLOUR_LEVELS**3,
            bits=int(np.log2(COLOUR_LEVELS)),
            shift=8 - int(np.log2(COLOUR_LEVELS)),
            record=RECORD_FIELDS,
            lx=self.local[0],
            ly=self.local[1],
        )
        header = _HEADER.format(**consts)
        measure = (
            _MEASURE.replace("{taps}", ", ".join(_f32(t) for t in BLUR_TAPS))
            .replace("{luma_scale}", _f32(LUMA_SCALE))
            .replace("{tan0}", _f32(SECTOR_TAN[0]))
            .replace("{tan1}", _f32(SECTOR_TAN[1]))
            .replace("{low_sq}", _f32(EDGE_LOW * EDGE_LOW))
            .replace("{high_sq}", _f32(EDGE_HIGH * EDGE_HIGH))
            .replace("{luma_w}", ", ".join(str(v) for v in LUMA_WEIGHTS))
            .replace("{shared_hist}", str(int(self.shared_hist)))
        )
        self.measure_pass = ctx.compute_shader(header + measure)
        self.grow_pass = ctx.compute_shader(
            _HEADER.format(**{**consts, "lx": GROW_LANES, "ly": 1}) + "uniform int IMAGES;\n" + _GROW
        )
        n = renderer.max_batch
        self.edges = ctx.buffer(reserve=n * h * self.strips * 4)
        self.hist = ctx.buffer(reserve=n * HIST_BINS * 4)
        self.records = ctx.buffer(reserve=n * self.bands * self.strips * RECORD_FIELDS * 4)
        self.grown = ctx.buffer(reserve=(n + 1) * 4)

    def release(self) -> None:
        """Free the passes and buffers (the renderer and its context stay)."""
        for obj in (self.measure_pass, self.grow_pass, self.edges, self.hist, self.records, self.grown):
            obj.release()

    def __enter__(self) -> GLStats:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def _groups(self, n: int) -> tuple[int, int, int]:
        return -(-self.strips // self.local[0]), -(-self.bands // self.local[1]), n

    def measure(self, n: int) -> dict[str, np.ndarray]:
        """Statistics of images [0, n) of the output SSBO -> as synpat.gen.stats.image_stats."""
        h, w = self.renderer.height, self.renderer.width
        self.renderer.output_buffer.bind_to_storage_buffer(1)
        for binding, buf in enumerate((self.edges, self.hist, self.records, self.grown), start=2):
            buf.bind_to_storage_buffer(binding)
        self.hist.clear(size=n * HIST_BINS * 4)
        self.measure_pass.run(*self._groups(n))
        self.ctx.memory_barrier()
        self.grown.clear(size=(n + 1) * 4)
        self.grow_pass["IMAGES"].value = n
        while True:  # each pass ends when a sweep turns nothing; one more pass confirms it
            self.grow_pass.run(-(-n // GROW_LANES), 1, 1)
            self.ctx.memory_barrier()
            counts = np.frombuffer(self.grown.read(size=(n + 1) * 4), np.uint32)
            if counts[0] == 0:
                break
            self.grown.write(bytes(4))
        grown = counts[1:]
        hist = np.frombuffer(self.hist.read(size=n * HIST_BINS * 4), np.uint32).reshape(n, HIST_BINS)
        records = np.frombuffer(self.records.read(size=n * self.bands * self.strips * RECORD_FIELDS * 4), np.uint32)
        sums = records.reshape(n, -1, RECORD_FIELDS).astype(np.int64).sum(axis=1)  # (n, RECORD_FIELDS)
        mean, std = moments_of_sums(sums[:, 1:4], sums[:, 4:7], h * w)
        colours = COLOUR_LEVELS**3
        edges = sums[:, 7] + grown
        return {
            "colour_entropy": entropy_of_counts(hist[:, :colours]),
            "brightness_entropy": entropy_of_counts(hist[:, colours:]),
            "total_variation": tv_of_sums(sums[:, 0], h, w),
            "edge_density": (edges / float(h * w)).astype(np.float32),
            "mean": mean,
            "std": std,
        }


def render_measured(
    renderer, stats: GLStats, programs, samples: Samples, redraws=None
) -> tuple[np.ndarray, dict[str, np.ndarray], Samples]:
    """Render like Renderer.render_varied and measure each chunk while it is on the GPU
    -> (images (N, H, W, 3) uint8, statistics of each, the Samples rendered; in sample order)."""
    n, h, w = len(samples), renderer.height, renderer.width
    rgba = np.empty((n, h, w, 4), dtype=np.uint8)
    parts = []

    def read(first: int, count: int) -> None:
        renderer.output_buffer.read_into(rgba[first : first + count], size=count * w * h * 4)
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

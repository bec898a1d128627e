"""Image statistics of the paper, batched in numpy: entropies, total variation, edge density.

All functions take ``images``: (N, H, W, 3) uint8 and return (N,) float32 (or (N, 3) for the
per-channel moments); no per-image Python loop. Definitions:
    colour_entropy      Shannon entropy (bits) of the joint RGB histogram, 8 levels a channel
                        (512 bins): 0 for one colour, at most 9.
    brightness_entropy  Shannon entropy (bits) of the 256-bin histogram of the luma
                        (299 R + 587 G + 114 B) / 1000, rounded: 0..8.
    total_variation     mean absolute difference between horizontally and vertically
                        neighbouring values, over all three channels, on a 0..1 scale: 0..1.
    edge_density        fraction of pixels on Canny edges of the luma (Gaussian sigma 1, Sobel,
                        non-maximum suppression, hysteresis between EDGE_LOW and EDGE_HIGH).
    mean, std           per channel, on a 0..1 scale.
"""

from __future__ import annotations

import numpy as np

COLOUR_LEVELS = 8
EDGE_LOW, EDGE_HIGH = 0.1, 0.2  # hysteresis thresholds on the luma gradient (0..1 scale)
STAT_NAMES = ("colour_entropy", "brightness_entropy", "total_variation", "edge_density")
LUMA_WEIGHTS = (299, 587, 114)  # luma = (299 R + 587 G + 114 B) / 255000
LUMA_SCALE = np.float32(1.0 / 255000.0)
BLUR_TAPS = np.array([1, 4, 7, 4, 1], dtype=np.float32) / 17.0  # ~Gaussian, sigma ~1
SECTOR_TAN = (np.float32(0.41421356), np.float32(2.41421356))  # tan 22.5 and 67.5 degrees


def _check(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected images (N, H, W, 3) uint8, got {images.shape} {images.dtype}")
    return images


def _entropy(codes: np.ndarray, bins: int) -> np.ndarray:
    """codes: (N, M) ints in [0, bins) -> (N,) float32 Shannon entropy in bits of each row's histogram."""
    n = len(codes)
    offset = (np.arange(n, dtype=np.int64) * bins)[:, None]
    return entropy_of_counts(np.bincount((codes + offset).ravel(), minlength=n * bins).reshape(n, bins))


def entropy_of_counts(counts: np.ndarray) -> np.ndarray:
    """counts: (N, bins) histogram counts -> (N,) float32 Shannon entropy in bits."""
    p = counts / counts.sum(axis=1, keepdims=True).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(counts > 0, -p * np.log2(np.where(counts > 0, p, 1.0)), 0.0)
    return terms.sum(axis=1).astype(np.float32) + np.float32(0.0)  # + 0.0 turns -0.0 into 0.0


def luma_sum(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H, W) int32 luma x 255000: 299 R + 587 G + 114 B (exact)."""
    x = _check(images).astype(np.int32)
    return x[..., 0] * LUMA_WEIGHTS[0] + x[..., 1] * LUMA_WEIGHTS[1] + x[..., 2] * LUMA_WEIGHTS[2]


def luma(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H, W) float32 luma in 0..1 (ITU-R 601 weights)."""
    return luma_sum(images).astype(np.float32) * LUMA_SCALE


def colour_entropy(images: np.ndarray) -> np.ndarray:
    bits = int(np.log2(COLOUR_LEVELS))
    q = (_check(images) >> np.uint8(8 - bits)).astype(np.uint16)
    codes = (q[..., 0] << np.uint16(2 * bits)) | (q[..., 1] << np.uint16(bits)) | q[..., 2]
    return _entropy(codes.reshape(len(q), -1), COLOUR_LEVELS**3)


def brightness_entropy(images: np.ndarray) -> np.ndarray:
    return _brightness_entropy(luma_sum(images))


def _brightness_entropy(lsum: np.ndarray) -> np.ndarray:
    """lsum: (N, H, W) luma_sum -> entropy of the 256-level luma, rounded half up."""
    codes = (lsum + 500) // 1000
    return _entropy(codes.reshape(len(codes), -1), 256)


def total_variation(images: np.ndarray) -> np.ndarray:
    x = _check(images).astype(np.int16)
    n = len(x)
    dx = np.abs(np.diff(x, axis=2)).reshape(n, -1).sum(axis=1, dtype=np.int64)
    dy = np.abs(np.diff(x, axis=1)).reshape(n, -1).sum(axis=1, dtype=np.int64)
    return tv_of_sums(dx + dy, x.shape[1], x.shape[2])


def tv_of_sums(total: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N,) int64 sums of absolute neighbour differences (all channels) -> (N,) float32 TV."""
    pairs = max(1, (width - 1) * height * 3 + (height - 1) * width * 3)
    return (total / (255.0 * pairs)).astype(np.float32)


def moments_of_sums(total: np.ndarray, squares: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) int64 sums and sums of squares of m pixels' values -> mean, std (N, 3) float32 in 0..1."""
    mean = total / (255.0 * m)
    var = np.maximum(squares * m - total * total, 0) / (255.0 * m) ** 2
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


def _blur(g: np.ndarray) -> np.ndarray:
    """(N, H, W) -> same shape, separable 5-tap Gaussian with edge replication."""
    h, w = g.shape[1:]
    p = np.pad(g, ((0, 0), (2, 2), (0, 0)), mode="edge")
    g = sum(k * p[:, i : i + h] for i, k in enumerate(BLUR_TAPS))
    p = np.pad(g, ((0, 0), (0, 0), (2, 2)), mode="edge")
    return sum(k * p[:, :, i : i + w] for i, k in enumerate(BLUR_TAPS))


def canny(images: np.ndarray, low: float = EDGE_LOW, high: float = EDGE_HIGH) -> np.ndarray:
    """(N, H, W, 3) uint8 -> (N, H, W) bool Canny edge map of the luma."""
    return _canny_luma(luma(images), low, high)


def _dilate(mask: np.ndarray) -> np.ndarray:
    """(N, H, W) bool -> its 3x3 (8-neighbour) dilation, as a row pass then a column pass."""
    r = mask.copy()
    r[:, :, 1:] |= mask[:, :, :-1]
    r[:, :, :-1] |= mask[:, :, 1:]
    out = r.copy()
    out[:, 1:] |= r[:, :-1]
    out[:, :-1] |= r[:, 1:]
    return out


def _canny_luma(grey: np.ndarray, low: float, high: float) -> np.ndarray:
    """grey: (N, H, W) float32 in 0..1 -> (N, H, W) bool edges."""
    g = np.pad(_blur(grey), ((0, 0), (1, 1), (1, 1)), mode="edge")
    # Sobel, normalised so a 0 -> 1 step gives magnitude 1
    cols = g[:, :-2] + 2 * g[:, 1:-1] + g[:, 2:]  # vertical smoothing, (N, H, W + 2)
    rows = g[:, :, :-2] + 2 * g[:, :, 1:-1] + g[:, :, 2:]  # horizontal smoothing, (N, H + 2, W)
    gx = (cols[:, :, 2:] - cols[:, :, :-2]) * np.float32(0.25)
    gy = (rows[:, 2:] - rows[:, :-2]) * np.float32(0.25)
    mag = gx * gx + gy * gy  # squared magnitude
    # direction quantised to 0, 45, 90, 135 degrees; keep a pixel that is a maximum along it
    ax, ay = np.abs(gx), np.abs(gy)
    flat = ay <= SECTOR_TAN[0] * ax  # within 22.5 degrees of horizontal
    steep = ay >= SECTOR_TAN[1] * ax  # within 22.5 degrees of vertical
    rising = (gx * gy) > 0
    m = np.pad(mag, ((0, 0), (1, 1), (1, 1)))
    h, w = mag.shape[1:]

    def at(dy: int, dx: int) -> np.ndarray:
        return m[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]

    diagonal = ~(flat | steep)
    sectors = (flat, diagonal & rising, steep, diagonal & ~rising)
    keep = np.zeros(mag.shape, dtype=bool)
    for here, (dy, dx) in zip(sectors, ((0, 1), (1, 1), (1, 0), (1, -1))):
        keep |= here & (mag > at(dy, dx)) & (mag >= at(-dy, -dx))
    weak = keep & (mag >= np.float32(low * low))
    edges = weak & (mag >= np.float32(high * high))
    # hysteresis: grow strong edges through 8-connected weak pixels until stable, iterating only
    # on the images that still change (a long weak chain costs its own image, not the batch)
    active = np.arange(len(edges))
    counts = np.count_nonzero(edges.reshape(len(edges), -1), axis=1)
    while len(active):
        grown = _dilate(edges[active]) & weak[active]
        now = np.count_nonzero(grown.reshape(len(active), -1), axis=1)
        edges[active] = grown
        changed = now != counts[active]
        counts[active] = now
        active = active[changed]
    return edges


def edge_density(images: np.ndarray) -> np.ndarray:
    return _edge_density(luma(images))


def _edge_density(grey: np.ndarray) -> np.ndarray:
    edges = _canny_luma(grey, EDGE_LOW, EDGE_HIGH)
    return edges.reshape(len(edges), -1).mean(axis=1).astype(np.float32)


def image_stats(images: np.ndarray) -> dict[str, np.ndarray]:
    """All statistics of a batch: the four of STAT_NAMES (N,) and mean, std (N, 3)."""
    images = _check(images)
    x = images.reshape(len(images), -1, 3)
    m = x.shape[1]
    total = x.sum(axis=1, dtype=np.int64)  # exact sums, (N, 3)
    squares = np.einsum("npc,npc->nc", x.astype(np.int32), x.astype(np.int32), dtype=np.int64)
    mean, std = moments_of_sums(total, squares, m)
    lsum = luma_sum(images)
    return {
        "colour_entropy": colour_entropy(images),
        "brightness_entropy": _brightness_entropy(lsum),
        "total_variation": total_variation(images),
        "edge_density": _edge_density(lsum.astype(np.float32) * LUMA_SCALE),
        "mean": mean,
        "std": std,
    }


def stats_row(stats: dict[str, np.ndarray], row: int) -> dict:
    """One image's statistics as JSON-ready floats (rounded to 5 digits)."""
    return {
        k: (round(float(v[row]), 5) if v.ndim == 1 else [round(float(x), 5) for x in v[row]]) for k, v in stats.items()
    }

"""FractalDB-like categories as programs: one random IFS code per category, filtered by filling rate.

As in FractalDB (Kataoka et al. 2020), a category is an iterated function system: N affine maps
f_i(x) = A_i x + b_i with the six parameters (a, b, c, d, e, f) drawn uniformly from [-1, 1]
and N from 2..8; a code is kept when its attractor fills at least ``min_fill`` of its bounding
box on a 128 x 128 grid (the filling-rate filter). Two differences, for a per-pixel renderer:
each map is redrawn until it contracts (largest singular value below MAX_CONTRACTION) and is
not near-singular (|det| above MIN_DET), so the attractor has a bounded, invertible address
structure.

The program renders the attractor per pixel: a depth-first search over inverse maps from the
pixel, pruned by a disc holding the attractor (found from chaos-game points here, with a
margin), stops with a hit once the disc at that depth is smaller than a pixel or the search is
DEPTH maps deep; a pixel whose search runs out of steps stays background. Within a category, iSeed varies the instance as FractalDB does: one of
the 6N parameters is weighted by 0.8 .. 1.2, and the image may be flipped; colours come from iSeed.

    python -m synpat.gen.fractaldb --categories 1000 --out shaders_fractaldb/
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from synpat.core.errors import UserError
from synpat.core.settings import Parser, run_cli
from synpat.core.files import write_atomic

MAX_MAPS = 8
MAX_CONTRACTION = 0.9     # largest singular value of each A_i
MIN_DET = 0.05            # |det A_i| at least this
MIN_FILL = 0.2            # FractalDB's filling-rate threshold
FILL_GRID = 128


def _singular_max(a: np.ndarray) -> np.ndarray:
    """a: (..., 2, 2) -> (...,) the largest singular value."""
    return np.linalg.svd(a, compute_uv=False)[..., 0]


def sample_map(rng: np.random.Generator) -> np.ndarray:
    """One contracting, invertible affine map -> (6,) float64: a, b, c, d, e, f (x' = a x + b y + e)."""
    while True:
        m = rng.uniform(-1.0, 1.0, 6)
        a = m[:4].reshape(2, 2)
        if _singular_max(a) < MAX_CONTRACTION and abs(np.linalg.det(a)) > MIN_DET:
            return m


def attractor_points(code: np.ndarray, chains: int = 2000, steps: int = 60, seed: int = 0) -> np.ndarray:
    """code: (N, 6) -> (chains * (steps - 20), 2) points of the attractor by the chaos game
    (parallel chains, maps chosen with probability ~ |det|, the first 20 steps dropped)."""
    rng = np.random.default_rng(seed)
    a = code[:, :4].reshape(-1, 2, 2)
    b = code[:, 4:]
    p = np.abs(np.linalg.det(a))
    p = p / p.sum()
    x = rng.uniform(-1, 1, (chains, 2))
    out = []
    for step in range(steps):
        i = rng.choice(len(code), size=chains, p=p)
        x = np.einsum("nij,nj->ni", a[i], x) + b[i]
        if step >= 20:
            out.append(x)
    return np.concatenate(out)


def filling_rate(code: np.ndarray, grid: int = FILL_GRID) -> float:
    """Fraction of a grid x grid raster of the attractor's bounding box that its points touch."""
    pts = attractor_points(code)
    lo, hi = pts.min(0), pts.max(0)
    span = np.maximum(hi - lo, 1e-9)
    ij = np.minimum(((pts - lo) / span * grid).astype(np.int64), grid - 1)
    return len(np.unique(ij[:, 0] * grid + ij[:, 1])) / grid ** 2


def category_codes(count: int, seed: int = 0, min_fill: float = MIN_FILL) -> list[np.ndarray]:
    """``count`` IFS codes, each (N, 6), that pass the filling-rate filter; deterministic in seed."""
    rng = np.random.default_rng(seed)
    codes = []
    while len(codes) < count:
        n = int(rng.integers(2, MAX_MAPS + 1))
        code = np.stack([sample_map(rng) for _ in range(n)])
        if filling_rate(code) >= min_fill:
            codes.append(code)
    return codes


_TEMPLATE = """\
// SPDX-License-Identifier: Apache-2.0
// Copyright 2026 synpat authors
// family: fractaldb
//
// {name} -- FractalDB-like category {category}: the attractor of one fixed IFS code ({n} affine
// maps, made by synpat.gen.fractaldb with filling rate {fill:.2f}), rendered per pixel by a
// depth-first search over the inverse maps pruned by a bounding disc (not point splatting).
// iSeed  : the instance: which of the {params} parameters is weighted (0.8 .. 1.2), a flip,
//          the colours.
// iParams: x = zoom margin, y = colour mix (one colour .. one per first map).

const int N = {n};
const float CODE[{params}] = float[](
{values});
const vec4 BOX = vec4({box});   // the attractor's bounding box: x0, y0, x1, y1
const vec3 DISC = vec3({disc});  // a disc holding it: centre, radius

uint pcg(uint v) {{
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}}
float rnd(uint v) {{ return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {{
    // a disc holding the attractor (from the code's chaos-game points, 15% margin for the weighting)
    vec2 c = DISC.xy;
    float R = DISC.z;

    // the pixel in attractor coordinates: the bounding box fits the image, with a margin
    vec2 uv = fragCoord / iResolution.xy;
    if ((pcg(iSeed + 2u) & 1u) != 0u) uv.x = 1.0 - uv.x;
    vec2 mid = 0.5 * (BOX.xy + BOX.zw), half_ = 0.5 * (BOX.zw - BOX.xy);
    float span = max(half_.x, half_.y) * mix(1.05, 1.3, iParams.x);
    vec2 x = mid + (2.0 * uv - 1.0) * span;
    float px = 2.0 * span / iResolution.y;

    if (length(x - c) - R > px) {{ fragColor = vec4(0.0, 0.0, 0.0, 1.0); return; }}

    // the instance's code: one parameter weighted by 0.8, 0.9, 1.0, 1.1 or 1.2
    int pick = int(pcg(iSeed) % uint(6 * N));
    float weight = 0.8 + 0.1 * float(pcg(iSeed + 1u) % 5u);
    mat2 A[N], inv[N];
    vec2 B[N];
    float shrink[N];
    for (int i = 0; i < N; i++) {{
        float m[6];
        for (int k = 0; k < 6; k++) m[k] = CODE[6 * i + k] * (6 * i + k == pick ? weight : 1.0);
        A[i] = mat2(m[0], m[2], m[1], m[3]);          // columns: x' = m0 x + m1 y + m4
        B[i] = vec2(m[4], m[5]);
        float p = m[0] * m[0] + m[1] * m[1] + m[2] * m[2] + m[3] * m[3];
        float det = determinant(A[i]);
        float q = sqrt(max(p * p - 4.0 * det * det, 0.0));
        shrink[i] = min(sqrt(0.5 * (p + q)), 0.97);  // largest singular value
        inv[i] = inverse(A[i]);
    }}
    // depth-first search: at each depth try the maps whose image of the disc is near the point
    const int DEPTH = 8;
    vec2 xs[DEPTH];
    int branch[DEPTH];
    float scale[DEPTH];
    int d = 0;
    xs[0] = x; branch[0] = 0; scale[0] = 1.0;
    bool hit = false;
    int first = 0, second = 0;
    for (int step = 0; step < 40; step++) {{
        if (scale[d] * R < px || d == DEPTH - 1) {{ hit = true; break; }}
        int i = branch[d];
        if (i >= N) {{
            if (d == 0) break;
            d--; branch[d]++; continue;
        }}
        vec2 y = inv[i] * (xs[d] - B[i]);
        float s = scale[d] * shrink[i];
        if ((length(y - c) - R) * s <= px) {{
            d++; xs[d] = y; branch[d] = 0; scale[d] = s;
        }} else {{
            branch[d]++;
        }}
    }}
    first = branch[0]; second = d > 1 ? branch[1] : 0;
    float h0 = rnd(iSeed + 3u);
    float hue = h0 + iParams.y * (0.13 * float(first) + 0.05 * float(second));
    vec3 col = 0.55 + 0.45 * cos(6.2831853 * (hue + vec3(0.0, 0.33, 0.67)));
    fragColor = vec4(hit ? col : vec3(0.0), 1.0);
}}
"""


def program_source(code: np.ndarray, category: int, name: str) -> str:
    """The GLSL program of one category's code (N, 6)."""
    pts = attractor_points(code)
    lo, hi = pts.min(0), pts.max(0)
    values = ",\n".join("    " + ", ".join(f"{v:.6f}" for v in row) for row in code)
    box = ", ".join(f"{v:.6f}" for v in (*lo, *hi))
    centre = 0.5 * (lo + hi)
    radius = 1.15 * float(np.linalg.norm(pts - centre, axis=1).max())
    disc = ", ".join(f"{v:.6f}" for v in (*centre, radius))
    return _TEMPLATE.format(name=name, category=category, n=len(code), fill=filling_rate(code),
                            params=6 * len(code), values=values, box=box, disc=disc)


def write_programs(out: Path, count: int, seed: int = 0, min_fill: float = MIN_FILL) -> list[Path]:
    """Write ``count`` category programs ``ifs_NNNN.glsl`` into ``out`` -> their paths."""
    if count < 1 or not 0 <= min_fill < 1:
        raise UserError(f"--categories and --min-fill: expected >= 1 and 0..1, got {count} and {min_fill}")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, code in enumerate(category_codes(count, seed, min_fill)):
        name = f"ifs_{k:04d}"
        path = out / f"{name}.glsl"
        write_atomic(path, program_source(code, k, name).encode())
        paths.append(path)
    return paths


def _main(argv: Sequence[str] | None) -> None:
    p = Parser(prog="python -m synpat.gen.fractaldb", description=__doc__.split("\n\n")[0])
    p.add_argument("--categories", type=int, default=1000, help="number of IFS codes (programs)")
    p.add_argument("--out", required=True, help="folder for the .glsl programs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-fill", type=float, default=MIN_FILL, help="filling-rate threshold")
    args = p.parse_args(argv)
    paths = write_programs(Path(args.out), args.categories, args.seed, args.min_fill)
    print(f"fractaldb: {len(paths)} category programs -> {args.out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return run_cli("fractaldb", _main, argv)


if __name__ == "__main__":
    sys.exit(main())

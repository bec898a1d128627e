"""FractalDB-like categories as programs: one random IFS code per category, filtered by filling rate.

As in FractalDB (Kataoka et al. 2020), a category is an iterated function system: N affine maps
f_i(x) = A_i x + b_i with the six parameters (a, b, c, d, e, f) drawn uniformly from [-1, 1]
and N from 2..8; a code is kept when its attractor fills at least ``min_fill`` of its bounding
box on a 128 x 128 grid (the filling-rate filter). Two differences: each map is redrawn until
it contracts (largest singular value below MAX_CONTRACTION), so every chain stays bounded
(FractalDB does not check and relies on the filter), and until |det| is above MIN_DET, so no
map's chance in the chaos game (~ |det|, as in FractalDB) is negligible.

A program is a ``// kind: splat`` program (gen/glsl.py): splatStep is one chaos-game step (a
map picked with probability ~ |det|, applied, the point coloured by that map), synpat scatters
SPLAT_POINTS_PER_PIXEL points per pixel into a density image framed on the attractor's bounding
box, and mainImage shades it (log density) and applies the flips. Within a category, iSeed varies
the instance as FractalDB does: one of the 6N parameters is weighted by 0.8 .. 1.2, and the image
may be flipped left-right and top-bottom; the colours come from iSeed. FractalDB itself colours
a point by its index along the chain (a hue cycle) and draws it as a 1-pixel point or a random
3 x 3 patch, the last point over a pixel winning; here a pixel's colour is the mean over its
points of the colour of the map that made each point, so regions show the maps' self-similar
pieces, and its brightness follows the log density (iParams.x: flat .. log).

    python -m synpat.gen.fractaldb --categories 1000 --out shaders_fractaldb/
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from synpat.core.errors import UserError
from synpat.core.files import write_atomic
from synpat.core.settings import option, parse_settings, run_cli, settings_parser

MAX_MAPS = 8
MAX_CONTRACTION = 0.9  # largest singular value of each A_i
MIN_DET = 0.05  # |det A_i| at least this
MIN_FILL = 0.2  # FractalDB's filling-rate threshold
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
    p = map_probabilities(code)
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
    return len(np.unique(ij[:, 0] * grid + ij[:, 1])) / grid**2


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
// kind: splat
//
// {name} -- FractalDB-like category {category}: the attractor of one fixed IFS code ({n} affine
// maps, made by synpat.gen.fractaldb with filling rate {fill:.2f}), drawn by the chaos game:
// synpat scatters the points splatStep makes into a density image, mainImage colours it.
// iSeed  : the instance: which of the {params} parameters is weighted (0.8 .. 1.2), the flips,
//          the colours.
// iParams: x = shading (flat .. log density), y = colour mix (one colour .. one per map).

const int N = {n};
const float CODE[{params}] = float[](   // per map: a, b, c, d, e, f with x' = a x + b y + e, y' = c x + d y + f
{values});
const float CUMULATIVE[N] = float[]({cumulative});   // map i is picked with probability ~ |det|

uint pcg(uint v) {{
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}}
float rnd(uint v) {{ return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }}

// the instance's code: one parameter weighted by 0.8, 0.9, 1.0, 1.1 or 1.2
float[6 * N] instanceCode() {{
    float m[6 * N] = CODE;
    m[pcg(iSeed) % uint(6 * N)] *= 0.8 + 0.1 * float(pcg(iSeed + 1u) % 5u);
    return m;
}}
vec3[N] mapColours() {{
    vec3 c[N];
    float h0 = rnd(iSeed + 3u);
    for (int i = 0; i < N; i++)
        c[i] = 0.55 + 0.45 * cos(6.2831853 * (h0 + iParams.y * float(i) / float(N) + vec3(0.0, 0.33, 0.67)));
    return c;
}}
float M[6 * N] = instanceCode();
vec3 COLOUR[N] = mapColours();

vec2 splatStep(inout uint rng, vec2 p, out vec3 colour) {{
    float u = splatRandom(rng);
    int i = 0;
    while (i < N - 1 && u >= CUMULATIVE[i]) i++;
    int k = 6 * i;
    colour = COLOUR[i];
    return vec2(M[k] * p.x + M[k + 1] * p.y + M[k + 4], M[k + 2] * p.x + M[k + 3] * p.y + M[k + 5]);
}}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {{
    uint flips = pcg(iSeed + 2u);
    vec2 fc = fragCoord;
    if ((flips & 1u) != 0u) fc.x = iResolution.x - fc.x;
    if ((flips & 2u) != 0u) fc.y = iResolution.y - fc.y;
    vec4 d = splatPixel(fc);   // rgb: the mean colour of the points here, a: log density, 0 .. 1
    float shade = d.a > 0.0 ? mix(1.0, 0.25 + 0.75 * d.a, iParams.x) : 0.0;
    fragColor = vec4(d.rgb * shade, 1.0);
}}
"""


def map_probabilities(code: np.ndarray) -> np.ndarray:
    """code: (N, 6) -> (N,) each map's chance in the chaos game, ~ |det A_i| (as in FractalDB)."""
    p = np.abs(np.linalg.det(code[:, :4].reshape(-1, 2, 2)))
    return p / p.sum()


def program_source(code: np.ndarray, category: int, name: str) -> str:
    """The GLSL program (``// kind: splat``) of one category's code (N, 6)."""
    values = ",\n".join("    " + ", ".join(f"{v:.6f}" for v in row) for row in code)
    cumulative = np.cumsum(map_probabilities(code))
    cumulative[-1] = 1.0
    return _TEMPLATE.format(
        name=name,
        category=category,
        n=len(code),
        fill=filling_rate(code),
        params=6 * len(code),
        values=values,
        cumulative=", ".join(f"{v:.6f}" for v in cumulative),
    )


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


@dataclass
class FractalSettings:
    categories: int = option(1000, "number of IFS codes (programs)")
    out: str = option("", "folder for the .glsl programs")
    seed: int = option(0, "seed of the IFS codes")
    min_fill: float = option(MIN_FILL, "filling-rate threshold")


def validate(cfg: FractalSettings) -> FractalSettings:
    if not cfg.out:
        raise UserError("no output folder: give --out DIR")
    return cfg


def _main(argv: Sequence[str] | None) -> None:
    parser = settings_parser(FractalSettings, "python -m synpat.gen.fractaldb", __doc__.split("\n\n")[0])
    cfg = validate(parse_settings(FractalSettings, argv, parser))
    paths = write_programs(Path(cfg.out), cfg.categories, cfg.seed, cfg.min_fill)
    print(f"fractaldb: {len(paths)} category programs -> {cfg.out}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return run_cli("fractaldb", _main, argv)


if __name__ == "__main__":
    sys.exit(main())

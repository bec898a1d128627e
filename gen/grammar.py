"""A procedural grammar of Shadertoy programs: ``procedural:N[@SEED]`` -> N distinct programs.

A program is drawn from typed building blocks, each a GLSL snippet with a fixed type:
  transform  vec2 -> vec2     affine, polar (n-fold, seam-free), kaleidoscopic fold, sine or fbm
                              domain warp, mirrored tiling, swirl
  field      vec2 -> [0, 1]   fbm, ridged fbm, Worley F1 / F2-F1 / cells, sinusoid sums, SDF
                              shapes (smooth union, iso-lines and glow), Julia orbit trap,
                              soft stripes, soft checker, rings
  combinator [0,1]^k -> [0,1] mix, min, max, multiply, screen, difference, mask, layering
  palette    [0, 1] -> RGB    cosine palette, three-stop gradient, HSV walk
Validity is guarded by construction, not by filtering: every field's value is clamped or
normalised into [0, 1] and varies over the view (frequencies give at least a period across it);
every palette's colours differ (amplitudes and stop distances have lower bounds); no division,
log or sqrt sees a value that can reach zero or below; loops have constant bounds. So whatever
the grammar emits compiles and renders non-constant images.

Each program binds its per-image variation to the Shadertoy inputs the bundled programs use:
iSeed (rotation, offsets, noise salts), iParams (x zoom, y warp or detail, z mix, w palette
shift) and iTime (drift). Program i of a set depends only on (seed, i), so the first N programs
of ``procedural:21000`` are ``procedural:N``. Numbers are written with fixed decimals, so the
sources are byte-identical for the same seed on any machine.
"""

from __future__ import annotations

import hashlib
import math
import re

from synpat.core.errors import UserError

from .sampler import check_seed

GRAMMAR_VERSION = 1
MAX_PROGRAMS = 100_000
_SOURCE = re.compile(r"^procedural:(\d+)(?:@(-?\d+))?$")
_MASK = (1 << 64) - 1


def _mix64(x: int) -> int:
    """splitmix64 finaliser."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


class _Rng:
    """A counter-based generator: the same (seed, index) gives the same draws everywhere."""

    def __init__(self, seed: int, index: int):
        self.state = _mix64(_mix64(seed & _MASK) ^ (index + 0x5EED * GRAMMAR_VERSION))

    def bits(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK
        return _mix64(self.state)

    def unit(self) -> float:
        return (self.bits() >> 11) * 2.0**-53

    def uniform(self, lo: float, hi: float) -> float:
        return lo + (hi - lo) * self.unit()

    def integer(self, lo: int, hi: int) -> int:
        """Uniform in [lo, hi]."""
        return lo + self.bits() % (hi - lo + 1)

    def pick(self, options: list, weights: list[float] | None = None):
        weights = weights or [1.0] * len(options)
        x = self.unit() * sum(weights)
        for option, w in zip(options, weights):
            x -= w
            if x < 0:
                return option
        return options[-1]


def _f(x: float) -> str:
    """A GLSL float literal with 3 decimals."""
    return f"{x:.3f}"


# -- GLSL helpers, each emitted only when a block uses it (name -> (dependencies, code)) -------

_HELPERS = {
    "pcg": (
        (),
        """\
uint pcg(uint v) {
    uint s = v * 747796405u + 2891336453u;
    uint w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
    return (w >> 22u) ^ w;
}
float rnd(uint v) { return float(pcg(v) >> 8u) * (1.0 / 16777216.0); }
float cellrnd(ivec2 c, uint salt) { return rnd(uint(c.x) * 1597334677u ^ pcg(uint(c.y) + salt)); }""",
    ),
    "rot": ((), "mat2 rot(float a) { float c = cos(a), s = sin(a); return mat2(c, s, -s, c); }"),
    "fbm": (
        ("pcg",),
        """\
float vnoise(vec2 p, uint salt) {
    vec2 i = floor(p), f = p - i;
    ivec2 c = ivec2(i);
    vec2 u = f * f * (3.0 - 2.0 * f);
    return mix(mix(cellrnd(c, salt), cellrnd(c + ivec2(1, 0), salt), u.x),
               mix(cellrnd(c + ivec2(0, 1), salt), cellrnd(c + ivec2(1, 1), salt), u.x), u.y);
}
float fbm(vec2 p, uint salt, int octaves, float gain) {
    float sum = 0.0, amp = 0.5, norm = 0.0;
    for (int i = 0; i < 6; i++) {
        if (i >= octaves) break;
        sum += amp * vnoise(p, salt + uint(i) * 977u);
        norm += amp;
        amp *= gain;
        p = mat2(1.6, 1.2, -1.2, 1.6) * p + 3.1;
    }
    return sum / norm;
}""",
    ),
    "worley": (
        ("pcg",),
        """\
vec2 worley(vec2 p, uint salt) {
    vec2 i = floor(p), f = p - i;
    float d1 = 8.0, d2 = 8.0;
    for (int y = -1; y <= 1; y++) {
        for (int x = -1; x <= 1; x++) {
            ivec2 c = ivec2(i) + ivec2(x, y);
            vec2 o = vec2(x, y) + vec2(cellrnd(c, salt), cellrnd(c, salt + 7u)) - f;
            float d = dot(o, o);
            if (d < d1) { d2 = d1; d1 = d; } else if (d < d2) { d2 = d; }
        }
    }
    return sqrt(vec2(d1, d2));
}
float worleycell(vec2 p, uint salt) {
    vec2 i = floor(p), f = p - i;
    float best = 8.0, id = 0.0;
    for (int y = -1; y <= 1; y++) {
        for (int x = -1; x <= 1; x++) {
            ivec2 c = ivec2(i) + ivec2(x, y);
            vec2 o = vec2(x, y) + vec2(cellrnd(c, salt), cellrnd(c, salt + 7u)) - f;
            float d = dot(o, o);
            if (d < best) { best = d; id = cellrnd(c, salt + 13u); }
        }
    }
    return id;
}""",
    ),
    "julia": (
        (),
        """\
float julia(vec2 z, vec2 c) {
    float trap = 8.0;
    int n = 0;
    for (int i = 0; i < 40; i++) {
        z = vec2(z.x * z.x - z.y * z.y, 2.0 * z.x * z.y) + c;
        trap = min(trap, abs(dot(z, z) - 0.25));
        if (dot(z, z) > 64.0) break;
        n++;
    }
    if (n >= 40) return 0.5 + 0.5 * cos(6.0 * sqrt(trap));
    float smoothn = float(n) + 1.0 - log2(max(log2(dot(z, z)), 1.0));
    return clamp(sqrt(max(smoothn, 0.0) / 40.0), 0.0, 1.0);
}""",
    ),
    "sdf": (
        (),
        """\
float sdbox(vec2 p, vec2 b) { vec2 d = abs(p) - b; return length(max(d, 0.0)) + min(max(d.x, d.y), 0.0); }
float sdsegment(vec2 p, vec2 a, vec2 b) {
    vec2 pa = p - a, ba = b - a;
    return length(pa - ba * clamp(dot(pa, ba) / dot(ba, ba), 0.0, 1.0));
}
float smin(float a, float b, float k) { float h = clamp(0.5 + 0.5 * (b - a) / k, 0.0, 1.0); return mix(b, a, h) - k * h * (1.0 - h); }""",
    ),
    "hsv": (
        (),
        """\
vec3 hsv(vec3 c) {
    vec3 p = abs(fract(c.x + vec3(0.0, 2.0, 1.0) / 3.0) * 6.0 - 3.0);
    return c.z * mix(vec3(1.0), clamp(p - 1.0, 0.0, 1.0), c.y);
}""",
    ),
}


class _Program:
    """One program under construction: statements, helpers used, recipe words, seed slots."""

    def __init__(self, rng: _Rng):
        self.rng = rng
        self.lines: list[str] = []
        self.helpers: set[str] = set()
        self.slot = 3  # rnd(s), rnd(s + 1u), rnd(s + 2u) are the base transform's
        self.cost = 0.0  # rough per-pixel cost in noise lookups
        self.fields = 0

    def salt(self) -> str:
        """A fresh per-image random input: a GLSL uint expression derived from iSeed."""
        self.slot += 1
        return f"s + {self.slot * 101}u"

    def rnd(self) -> str:
        return f"rnd({self.salt()})"

    def use(self, *names: str) -> None:
        for name in names:
            self.helpers.add(name)
            self.use(*_HELPERS[name][0])

    def helper_code(self) -> str:
        return "\n".join(code for name, (_, code) in _HELPERS.items() if name in self.helpers)


# -- transforms: statements that rewrite vec2 p ------------------------------------------------


def _affine(g: _Program) -> str:
    r = g.rng
    sx, sy = r.uniform(0.6, 1.5), r.uniform(0.6, 1.5)
    shear = r.uniform(-0.6, 0.6)
    g.use("rot")
    g.lines.append(f"p = rot(6.2831853 * {g.rnd()}) * (mat2({_f(sx)}, 0.0, {_f(shear)}, {_f(sy)}) * p);")
    return "affine"


def _polar(g: _Program) -> str:
    n = g.rng.integer(1, 5)
    k = g.rng.uniform(1.0, 3.0)
    # the angular term fades in from the centre, where a fixed-radius circle would alias
    g.lines.append(
        "{ float th = atan(p.y, p.x + 1e-7); float r = length(p); "
        f"p = vec2(r * {_f(k)} - 0.05 * T, 0.0) + {_f(g.rng.uniform(0.4, 1.0))} * smoothstep(0.0, 0.6, r) * "
        f"vec2(cos({n}.0 * th), sin({n}.0 * th)); }}"
    )
    return f"polar({n})"


def _kaleido(g: _Program) -> str:
    n = g.rng.integer(3, 7)
    g.lines.append(
        "{ float th = atan(p.y, p.x + 1e-7); float r = length(p); "
        f"float w = 6.2831853 / {n}.0; th = abs(mod(th, w) - 0.5 * w); "
        f"p = r * vec2(cos(th), sin(th)) - vec2({_f(g.rng.uniform(0.1, 0.6))}, 0.0); }}"
    )
    return f"kaleido({n})"


def _sinewarp(g: _Program) -> str:
    f = g.rng.uniform(1.0, 3.5)
    amp = g.rng.uniform(0.15, 0.5)
    g.lines.append(
        f"p += mix({_f(0.3 * amp)}, {_f(amp)}, P.y) * sin(p.yx * {_f(f)} + 6.2831853 * "
        f"vec2({g.rnd()}, {g.rnd()}) + 0.2 * T);"
    )
    g.cost += 0.5
    return "sinewarp"


def _fbmwarp(g: _Program) -> str:
    g.use("fbm")
    f = g.rng.uniform(0.6, 2.0)
    amp = g.rng.uniform(0.5, 1.6)
    octaves = g.rng.integer(2, 4)
    g.lines.append(
        f"p += mix({_f(0.3 * amp)}, {_f(amp)}, P.y) * (vec2(fbm(p * {_f(f)}, {g.salt()}, {octaves}, 0.5), "
        f"fbm(p * {_f(f)} + 5.2, {g.salt()}, {octaves}, 0.5)) - 0.5);"
    )
    g.cost += 2 * octaves
    return f"fbmwarp({octaves})"


def _mirrortile(g: _Program) -> str:
    k = g.rng.uniform(0.4, 1.0)
    g.lines.append(
        f"p = abs(fract(p * {_f(k)} + vec2({g.rnd()}, {g.rnd()})) * 2.0 - 1.0) * {_f(g.rng.uniform(1.0, 2.0))};"
    )
    return "mirrortile"


def _swirl(g: _Program) -> str:
    g.use("rot")
    amount = g.rng.uniform(1.0, 4.0) * g.rng.pick([-1, 1])
    g.lines.append(f"p = rot({_f(amount)} * (0.5 + P.y) * exp(-dot(p, p) * {_f(g.rng.uniform(0.2, 0.8))})) * p;")
    return "swirl"


_TRANSFORMS = [
    (_affine, 2.0),
    (_polar, 1.0),
    (_kaleido, 1.0),
    (_sinewarp, 2.0),
    (_fbmwarp, 1.5),
    (_mirrortile, 0.8),
    (_swirl, 1.0),
]


# -- fields: expressions in p with values in [0, 1] --------------------------------------------


def _fbm(g: _Program) -> tuple[str, str]:
    g.use("fbm")
    octaves = g.rng.integer(3, 5)
    g.cost += octaves
    e = f"fbm(p * {_f(g.rng.uniform(1.0, 3.0))} + 0.1 * T, {g.salt()}, {octaves}, {_f(g.rng.uniform(0.4, 0.6))})"
    return f"clamp(({e} - 0.5) * {_f(g.rng.uniform(1.6, 2.4))} + 0.5, 0.0, 1.0)", f"fbm({octaves})"


def _ridged(g: _Program) -> tuple[str, str]:
    g.use("fbm")
    octaves = g.rng.integer(3, 5)
    g.cost += octaves
    e = f"fbm(p * {_f(g.rng.uniform(0.8, 2.0))} - 0.1 * T, {g.salt()}, {octaves}, 0.5)"
    return f"pow(1.0 - abs(2.0 * {e} - 1.0), {_f(g.rng.uniform(1.5, 3.0))})", f"ridged({octaves})"


def _worley(g: _Program) -> tuple[str, str]:
    g.use("worley")
    g.cost += 4
    kind = g.rng.pick(["f1", "edges", "cells"], [1.0, 1.0, 0.6])
    scale = _f(g.rng.uniform(1.2, 3.0))
    if kind == "cells":
        return f"worleycell(p * {scale}, {g.salt()})", "worley-cells"
    w = f"worley(p * {scale} + 0.1 * T, {g.salt()})"
    if kind == "f1":
        return f"clamp({w}.x * {_f(g.rng.uniform(0.9, 1.4))}, 0.0, 1.0)", "worley-f1"
    return f"smoothstep(0.0, {_f(g.rng.uniform(0.2, 0.5))}, dot({w}, vec2(-1.0, 1.0)))", "worley-edges"


def _sines(g: _Program) -> tuple[str, str]:
    n = g.rng.integer(2, 4)
    terms = []
    for _ in range(n):
        a = g.rng.uniform(0.0, 6.2831853)
        f = g.rng.uniform(1.5, 5.0)
        terms.append(
            f"sin(dot(p, vec2({_f(f * math.cos(a))}, {_f(f * math.sin(a))})) "
            f"+ 6.2831853 * {g.rnd()} + {_f(g.rng.uniform(-1.0, 1.0))} * T)"
        )
    g.cost += 0.5
    return f"0.5 + 0.5 * ({' + '.join(terms)}) / {n}.0", f"sines({n})"


def _sdf(g: _Program) -> tuple[str, str]:
    g.use("sdf", "rot")
    shapes = []
    names = []
    for _ in range(g.rng.integer(1, 3)):
        kind = g.rng.pick(["circle", "box", "ring", "segment"])
        c = f"vec2({_f(g.rng.uniform(-0.6, 0.6))}, {_f(g.rng.uniform(-0.6, 0.6))})"
        size = g.rng.uniform(0.15, 0.6)
        if kind == "circle":
            shapes.append(f"length(p - {c}) - {_f(size)}")
        elif kind == "box":
            shapes.append(
                f"sdbox(rot({_f(g.rng.uniform(0, 3.1))} + T * 0.1) * (p - {c}), vec2({_f(size)}, {_f(g.rng.uniform(0.1, 0.5))}))"
            )
        elif kind == "ring":
            shapes.append(f"abs(length(p - {c}) - {_f(size)}) - {_f(g.rng.uniform(0.03, 0.12))}")
        else:  # a segment of length >= 0.3, so its direction never divides by zero
            a = g.rng.uniform(0.0, 6.2831853)
            end = f"{c} + vec2({_f(size * 1.5 * math.cos(a))}, {_f(size * 1.5 * math.sin(a))})"
            shapes.append(f"sdsegment(p, {c}, {end}) - {_f(g.rng.uniform(0.03, 0.15))}")
        names.append(kind)
    d = shapes[0]
    for other in shapes[1:]:
        d = f"smin({d}, {other}, {_f(g.rng.uniform(0.1, 0.4))})"
    var = f"d{g.fields}"
    g.lines.append(f"float {var} = {d};")
    f = _f(g.rng.uniform(6.0, 16.0))
    style = g.rng.pick(["iso", "glow"])
    g.cost += 0.5 * len(shapes)
    if style == "iso":
        return f"0.5 + 0.5 * cos({var} * {f} - 2.0 * T)", f"sdf-iso({'+'.join(names)})"
    return (
        f"clamp(exp(-abs({var}) * {_f(g.rng.uniform(3.0, 8.0))}) + 0.25 * cos({var} * {f}), 0.0, 1.0)",
        f"sdf-glow({'+'.join(names)})",
    )


# Julia parameters with rich boundaries near the view (c = (x, y)).
_JULIA_C = [
    (-0.8, 0.156),
    (-0.7269, 0.1889),
    (0.285, 0.01),
    (-0.4, 0.6),
    (-0.835, -0.2321),
    (0.355, 0.355),
    (-0.70176, -0.3842),
    (-0.162, 1.04),
    (0.37, 0.1),
    (-0.54, 0.54),
]


def _julia(g: _Program) -> tuple[str, str]:
    g.use("julia")
    cx, cy = g.rng.pick(_JULIA_C)
    g.cost += 5
    zoom = _f(g.rng.uniform(0.35, 0.7))
    return (f"julia(p * {zoom}, vec2({_f(cx)}, {_f(cy)}) + 0.02 * (P.zw - 0.5))", "julia")


def _stripes(g: _Program) -> tuple[str, str]:
    a = g.rng.uniform(0.0, 3.1416)
    soft = g.rng.uniform(0.15, 0.45)
    e = f"sin(dot(p, vec2({_f(math.cos(a))}, {_f(math.sin(a))})) * {_f(g.rng.uniform(3.0, 8.0))} + 6.2831853 * {g.rnd()} + T)"
    return f"smoothstep({_f(-soft)}, {_f(soft)}, {e})", "stripes"


def _checker(g: _Program) -> tuple[str, str]:
    f = _f(g.rng.uniform(2.0, 5.0))
    return f"0.5 + 0.5 * clamp(sin(p.x * {f}) * sin(p.y * {f}) * {_f(g.rng.uniform(1.5, 4.0))}, -1.0, 1.0)", "checker"


def _rings(g: _Program) -> tuple[str, str]:
    c = f"vec2({_f(g.rng.uniform(-0.5, 0.5))}, {_f(g.rng.uniform(-0.5, 0.5))})"
    return f"0.5 + 0.5 * cos(length(p - {c}) * {_f(g.rng.uniform(6.0, 14.0))} - 6.2831853 * {g.rnd()} - T)", "rings"


_FIELDS = [
    (_fbm, 2.5),
    (_ridged, 1.2),
    (_worley, 1.5),
    (_sines, 1.5),
    (_sdf, 1.2),
    (_julia, 0.5),
    (_stripes, 0.8),
    (_checker, 0.4),
    (_rings, 0.6),
]
_FIELD_COST_BUDGET = 14.0


def _field(g: _Program) -> str:
    """Emit one field into a fresh float variable; returns its recipe word."""
    options = (
        _FIELDS
        if g.cost < _FIELD_COST_BUDGET - 5
        else [x for x in _FIELDS if x[0] in (_sines, _stripes, _checker, _rings, _sdf)]
    )
    make = g.rng.pick([m for m, _ in options], [w for _, w in options])
    expr, word = make(g)
    g.lines.append(f"float f{g.fields} = {expr};")
    g.fields += 1
    return word


# -- combinators: the value v in [0, 1] from the fields -----------------------------------------

_COMBINE2 = {
    "mix": "mix(f0, f1, {w})",
    "min": "min(f0, f1)",
    "max": "max(f0, f1)",
    "multiply": "sqrt(f0 * f1)",
    "screen": "1.0 - (1.0 - f0) * (1.0 - f1)",
    "difference": "abs(f0 - f1)",
    "layer": "abs(fract(f0 + {k} * f1) * 2.0 - 1.0)",
}


def _value(g: _Program) -> str:
    """Emit ``float v`` in [0, 1]; returns the recipe of the field tree."""
    shape = g.rng.pick(["one", "two", "mask"], [0.3, 0.5, 0.2])
    first = _field(g)
    if shape == "one":
        g.lines.append("float v = f0;")
        return first
    second = _field(g)
    if shape == "two":
        op = g.rng.pick(list(_COMBINE2))
        w = f"mix({_f(g.rng.uniform(0.2, 0.4))}, {_f(g.rng.uniform(0.6, 0.8))}, P.z)"
        g.lines.append("float v = " + _COMBINE2[op].format(w=w, k=_f(g.rng.uniform(0.3, 0.8))) + ";")
        return f"{op}({first}, {second})"
    third = _field(g)
    edge = g.rng.uniform(0.1, 0.3)
    g.lines.append(f"float v = mix(f0, f1, smoothstep({_f(0.5 - edge)}, {_f(0.5 + edge)}, f2));")
    return f"mask({first}, {second}, by {third})"


# -- palettes: vec3 col from v ------------------------------------------------------------------


def _cosine(g: _Program) -> str:
    r = g.rng
    a = [r.uniform(0.4, 0.6) for _ in range(3)]
    b = [r.uniform(0.3, 0.5) for _ in range(3)]
    c = [r.uniform(0.5, 1.5) for _ in range(3)]
    d = [r.uniform(0.0, 1.0) for _ in range(3)]
    v3 = lambda xs: f"vec3({', '.join(_f(x) for x in xs)})"  # noqa: E731
    g.lines.append(f"vec3 col = {v3(a)} + {v3(b)} * cos(6.2831853 * ({v3(c)} * v + {v3(d)} + 0.5 * P.w));")
    return "cosine"


def _stops(r: _Rng, n: int) -> list[list[float]]:
    """n colours, each at least 0.45 (Euclidean, RGB) from the previous one."""
    colours = [[r.uniform(0.0, 1.0) for _ in range(3)]]
    while len(colours) < n:
        c = [r.uniform(0.0, 1.0) for _ in range(3)]
        if sum((x - y) ** 2 for x, y in zip(c, colours[-1])) >= 0.45**2:
            colours.append(c)
    return colours


def _gradient(g: _Program) -> str:
    c0, c1, c2 = (f"vec3({', '.join(_f(x) for x in c)})" for c in _stops(g.rng, 3))
    g.lines.append(f"vec3 col = mix(mix({c0}, {c1}, smoothstep(0.0, 0.5, v)), {c2}, smoothstep(0.5, 1.0, v));")
    g.lines.append("col = mix(col, col.gbr, 0.6 * P.w);")
    return "gradient"


def _hsvwalk(g: _Program) -> str:
    g.use("hsv")
    g.lines.append(
        f"vec3 col = hsv(vec3({_f(g.rng.uniform(0, 1))} + {_f(g.rng.uniform(0.2, 0.8))} * v + P.w, "
        f"{_f(g.rng.uniform(0.4, 0.9))}, 0.25 + 0.7 * v));"
    )
    return "hsv-walk"


_PALETTES = [(_cosine, 2.0), (_gradient, 1.5), (_hsvwalk, 1.0)]


# -- programs -----------------------------------------------------------------------------------


def program_name(seed: int, index: int) -> str:
    return f"proc{seed}_{index:05d}"


def program_source(seed: int, index: int, name: str | None = None) -> str:
    """The Shadertoy source drawn with key ``index`` in the set with ``seed``."""
    rng = _Rng(seed, index)
    g = _Program(rng)
    g.use("pcg", "rot")
    zoom = rng.uniform(1.0, 2.2)
    g.lines.append(
        f"p = rot(6.2831853 * rnd(s)) * p * mix({_f(zoom)}, {_f(zoom * rng.uniform(1.3, 1.8))}, P.x) "
        "+ (vec2(rnd(s + 1u), rnd(s + 2u)) - 0.5) * 0.6;"
    )
    transforms = [
        rng.pick([t for t, _ in _TRANSFORMS], [w for _, w in _TRANSFORMS])
        for _ in range(rng.pick([0, 1, 2, 3], [0.15, 0.45, 0.3, 0.1]))
    ]
    words = [t(g) for t in transforms]
    value = _value(g)
    palette = rng.pick([p for p, _ in _PALETTES], [w for _, w in _PALETTES])(g)
    recipe = f"{' > '.join(words) or 'identity'} | {value} | {palette}"
    body = "\n".join("    " + line for line in g.lines)
    return f"""\
// synpat procedural program {name or program_name(seed, index)} (grammar v{GRAMMAR_VERSION}, set seed {seed}, index {index})
// recipe: {recipe}
// iSeed: rotation, offset, noise salts and phases; iParams: x zoom, y warp, z mix, w palette shift; iTime: drift.
{g.helper_code()}

void mainImage(out vec4 fragColor, in vec2 fragCoord) {{
    uint s = iSeed;
    vec4 P = iParams;
    float T = iTime;
    vec2 p = (fragCoord - 0.5 * iResolution.xy) / iResolution.y;
{body}
    fragColor = vec4(clamp(col, 0.0, 1.0), 1.0);
}}
"""


def recipe_of(source: str) -> str:
    """The recipe line of a program this grammar wrote ('' for other sources)."""
    m = re.search(r"^// recipe: (.*)$", source, re.M)
    return m.group(1) if m else ""


def parse_source(text: str, default_seed: int) -> tuple[int, int] | None:
    """``procedural:N[@SEED]`` -> (N, seed); None when ``text`` is not a procedural source."""
    if not text.startswith("procedural:"):
        return None
    m = _SOURCE.match(text)
    if not m:
        raise UserError(f"--shaders {text}: expected procedural:N or procedural:N@SEED (N a count, SEED an integer)")
    n = int(m.group(1))
    if not 1 <= n <= MAX_PROGRAMS:
        raise UserError(f"--shaders {text}: expected 1 <= N <= {MAX_PROGRAMS}, got {n}")
    seed = default_seed if m.group(2) is None else int(m.group(2))
    check_seed(seed, f"--shaders {text}")
    return n, seed


def program_sources(n: int, seed: int) -> list[tuple[str, str]]:
    """-> [(name, source)] of the first n programs of the set; distinct sources (a repeat is
    redrawn under the next free index key, deterministically)."""
    out, seen, key = [], set(), 0
    while len(out) < n:
        name = program_name(seed, len(out))
        source = program_source(seed, key, name)
        key += 1
        digest = hashlib.sha256(source.split("\n", 1)[1].encode()).digest()  # all but the name line
        if digest not in seen:
            seen.add(digest)
            out.append((name, source))
    return out
